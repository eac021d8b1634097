"""Redis faults while traffic runs: kill -9, SIGSTOP/SIGCONT, CLIENT PAUSE, DEBUG SLEEP.

With ``max_staleness=0`` (the default) L1 is flushed at the first sign of
trouble: no read ever returns a value older than another process's completed
write. With ``max_staleness`` set, L1 hits go on during the outage at local
speed. In both, L2 operations fail within ``op_timeout`` (0.2 s here) and
fall back, and the link is back within 2 s of the server.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import anyio
import pytest

from .faults import FAULTS, run_fault

if TYPE_CHECKING:
    from .servers import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """asyncio and trio (uvloop adds nothing to fault handling, and time)."""
    return request.param


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"], indirect=True)
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(
    ("max_staleness", "on_l2_error"),
    [(0.0, "fallback"), (30.0, "raise")],
    ids=["flush-fallback", "serve-stale-raise"],
)
async def test_fault(
    own_server: RedisServer, prefix: str, fault: str, max_staleness: float, on_l2_error: str
) -> None:
    report = await run_fault(
        own_server, prefix, fault, max_staleness=max_staleness, on_l2_error=on_l2_error
    )
    out = os.environ.get("SWEEPCACHE_FAULT_REPORT")
    if out:  # figures for the report (SWEEPCACHE_FAULT_REPORT=path.jsonl)
        async with await anyio.open_file(out, "a", encoding="utf-8") as file:
            await file.write(json.dumps(report.__dict__) + "\n")
    assert report.recovery_s < 2.0, report
    assert report.l2_op_max_ms < 200 + 300, report  # op_timeout + slack for a loaded machine
    assert report.reads_checked > 0, report
    if on_l2_error == "fallback":
        assert not report.errors, report  # reads fall back, never raise
    else:
        assert set(report.errors) == {"L2Error"}, report  # the one documented type
    if max_staleness == 0.0:
        assert report.stale_reads == 0, report
    else:
        assert report.l1_hits_during_outage > 0, report
        assert report.l1_hit_p99_ms < 1.0, report
