"""The core's long runs, each printing its figure (``make reliability``).

* the cancellation fuzz of ``get_or_load`` and ``@cached``: 10,000 runs per backend;
* the churn soak: 10 minutes (``SWEEPCACHE_SOAK_SECONDS``) per backend, with the
  sweeper running.

The hypothesis state machines run at 2,000 examples x 50 steps from the same
target (``SWEEPCACHE_MODEL_EXAMPLES``/``SWEEPCACHE_MODEL_STEPS``).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from chaos import cancellation_fuzz, churn_soak

BACKENDS: list[Any] = [
    pytest.param("asyncio", {}, id="asyncio"),
    pytest.param("asyncio", {"use_uvloop": True}, id="asyncio+uvloop"),
    pytest.param("trio", {}, id="trio"),
]
FUZZ_RUNS = int(os.environ.get("SWEEPCACHE_FUZZ_RUNS", "10000"))
SOAK_SECONDS = float(os.environ.get("SWEEPCACHE_SOAK_SECONDS", "600"))


@pytest.mark.timeout(7200)
@pytest.mark.parametrize(("backend", "options"), BACKENDS)
def test_cancellation_fuzz_long(backend: str, options: dict[str, Any]) -> None:
    report = cancellation_fuzz(FUZZ_RUNS, seed=20261129, backend=backend, options=options)
    print(report.line(backend + ("+uvloop" if options else "")))
    assert report.runs == FUZZ_RUNS
    assert report.hangs == report.stray_cancellations == report.stale_stores == 0
    assert report.leftover_loads == report.excess_loads == 0


@pytest.mark.timeout(7200)
@pytest.mark.parametrize(("backend", "options"), BACKENDS)
def test_churn_soak_long(backend: str, options: dict[str, Any]) -> None:
    report = churn_soak(SOAK_SECONDS, backend, options)
    print(report.line(backend + ("+uvloop" if options else "")))
    rss_drift, _ = report.drift()
    assert rss_drift < 10.0
    assert report.expired_share_at_end < 0.9
