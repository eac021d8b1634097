"""Shared fixtures: every async test runs on asyncio, asyncio+uvloop and trio."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from hypothesis import settings

from sweepcache import Cache, _cache
from sweepcache.testing import FakeClock

# `make test` runs the suite twice: once with the layout this build picks
# (one dict for all shards under the GIL), once with SWEEPCACHE_TEST_LAYOUT=sharded
# (one dict per shard, what free-threaded builds use), so both read paths are tested.
_cache._LAYOUT_OVERRIDE = os.environ.get("SWEEPCACHE_TEST_LAYOUT") or None

# CI must be reproducible: there, hypothesis replays the same examples every
# run (a failure found locally is kept in .hypothesis/ and replayed first).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

_BACKENDS: list[Any] = [pytest.param(("asyncio", {}), id="asyncio")]
try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is not built for every platform
    pass
else:
    _BACKENDS.append(
        pytest.param(("asyncio", {"loop_factory": uvloop.new_event_loop}), id="asyncio+uvloop")
    )
_BACKENDS.append(pytest.param(("trio", {}), id="trio"))


@pytest.fixture(params=_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """The AnyIO backend (and its options) an async test runs on."""
    return request.param


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at 1000.0 (not 0, to catch code that assumes 0)."""
    return FakeClock(start=1000.0)


@pytest.fixture
def cache(clock: FakeClock) -> Cache[Any, Any]:
    """A cache on the fake clock, with default settings otherwise."""
    return Cache(clock=clock)


def pytest_report_header() -> str:
    """Say which build and layout the run used (free-threaded runs must show ``GIL off``)."""
    gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    layout = _cache._LAYOUT_OVERRIDE or _cache.default_layout()
    return f"sweepcache: GIL {'on' if gil_enabled else 'off'}, shard layout {layout!r}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Repeat the GIL state at the end: an extension imported mid-run may re-enable it."""
    gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    terminalreporter.write_line(f"sweepcache: GIL {'on' if gil_enabled else 'off'} at the end")
