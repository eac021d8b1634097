"""Long runs: skipped unless ``SWEEPCACHE_RELIABILITY=1`` (``make reliability``)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip this folder's tests in ordinary runs (``make test`` has short versions)."""
    if os.environ.get("SWEEPCACHE_RELIABILITY") == "1":
        return
    skip = pytest.mark.skip(reason="long run: set SWEEPCACHE_RELIABILITY=1 (make reliability)")
    for item in items:
        if "reliability" in item.nodeid.split("/"):
            item.add_marker(skip)
