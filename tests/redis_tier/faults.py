"""Fault injection against a private ``redis-server`` while traffic runs.

One scenario: a reader tier and a writer tier ("another process") share a
namespace; hot keys sit in the reader's L1; traffic runs (L1 hits, L2 reads of
cold keys, reads of the hot keys); a fault hits the server; the writer writes
new values as soon as the server takes writes again; the scenario records
latencies, the callers' errors by type, stale reads (a read that began after
the writer's write had returned and got the old value) and the recovery time
(from the end of the fault until the reader's invalidation link is up again).
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio

from sweepcache import Cache
from sweepcache.redis import L2Error, RedisCache, TieredCache

if TYPE_CHECKING:
    from .servers import RedisServer

FAULTS = ("kill-9", "sigstop", "client-pause", "debug-sleep")
HOT_KEYS = [f"hot{i}" for i in range(10)]


@dataclasses.dataclass
class FaultReport:
    """What one fault scenario measured."""

    fault: str
    max_staleness: float
    on_l2_error: str
    outage_s: float
    l1_hits_during_outage: int = 0
    l1_hit_p99_ms: float = 0.0
    l2_ops_during_outage: int = 0
    l2_op_max_ms: float = 0.0
    errors: dict[str, int] = dataclasses.field(default_factory=dict)
    stale_reads: int = 0
    reads_checked: int = 0
    recovery_s: float = 0.0


def _p99(samples: list[float]) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _inject(server: RedisServer, fault: str, outage: float) -> None:
    """Cause ``fault`` for about ``outage`` seconds; return once the server is back."""
    if fault == "kill-9":
        server.kill()
        await anyio.sleep(outage)
        await anyio.to_thread.run_sync(server.start)
    elif fault == "sigstop":
        server.signal(signal.SIGSTOP)
        await anyio.sleep(outage)
        server.signal(signal.SIGCONT)
    elif fault == "client-pause":
        await anyio.to_thread.run_sync(
            server.cli, "CLIENT", "PAUSE", str(int(outage * 1000)), "ALL"
        )
        await anyio.sleep(outage)
    elif fault == "debug-sleep":
        async with await anyio.open_process(
            ["redis-cli", "-p", str(server.port), "DEBUG", "SLEEP", str(outage)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as sleeper:
            await sleeper.wait()
    else:  # pragma: no cover
        raise ValueError(fault)


def _tier(url: str, prefix: str, max_staleness: float, on_l2_error: Any) -> TieredCache[str, Any]:
    return TieredCache(
        l1=Cache(default_ttl=60),
        l2=RedisCache(
            url=url, prefix=prefix, op_timeout=0.2, ping_interval=0.1, on_l2_error=on_l2_error
        ),
        max_staleness=max_staleness,
    )


async def _until(condition: Any, limit: float) -> None:
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 - polls state that has no event
            await anyio.sleep(0.001)


async def run_fault(
    server: RedisServer,
    prefix: str,
    fault: str,
    *,
    max_staleness: float,
    on_l2_error: str = "fallback",
    outage: float = 1.0,
) -> FaultReport:
    """Run one fault scenario; return its figures."""
    report = FaultReport(
        fault=fault, max_staleness=max_staleness, on_l2_error=on_l2_error, outage_s=outage
    )
    reader = _tier(server.url, prefix, max_staleness, on_l2_error)
    writer = _tier(server.url, prefix, 0.0, "raise")
    errors: Counter[str] = Counter()
    async with reader, writer:
        await _until(lambda: reader.link_up and writer.link_up, 5)
        seen = reader.l2.stats().invalidations
        await writer.set_many(dict.fromkeys(HOT_KEYS, "v1"), ttl=300)
        await _until(lambda: reader.l2.stats().invalidations >= seen + len(HOT_KEYS), 5)
        for key in HOT_KEYS:
            assert await reader.get(key) == "v1"
        assert all(reader.get_nowait(key) == "v1" for key in HOT_KEYS)

        in_outage = False
        written_at: float | None = None  # monotonic time the writer's v2 write returned
        hit_ms: list[float] = []
        l2_ms: list[float] = []
        stop = anyio.Event()

        async def hot_traffic() -> None:
            while not stop.is_set():
                for key in HOT_KEYS:
                    began = time.monotonic()
                    try:
                        value = await reader.get(key)
                    except L2Error as exc:
                        errors[type(exc).__name__] += 1
                        continue
                    took = (time.monotonic() - began) * 1000
                    if in_outage and reader.get_nowait(key, None) is not None:
                        hit_ms.append(took)
                    if written_at is not None and began > written_at:
                        report.reads_checked += 1
                        if value == "v1":
                            report.stale_reads += 1
                await anyio.sleep(0.001)

        async def cold_traffic() -> None:
            index = 0
            while not stop.is_set():
                index += 1
                began = time.monotonic()
                try:
                    await reader.get(f"cold{index}")
                except L2Error as exc:
                    errors[type(exc).__name__] += 1
                took = (time.monotonic() - began) * 1000
                if in_outage:
                    l2_ms.append(took)
                await anyio.sleep(0.005)

        async with anyio.create_task_group() as tg:
            tg.start_soon(hot_traffic)
            tg.start_soon(cold_traffic)
            await anyio.sleep(0.2)
            in_outage = True
            await _inject(server, fault, outage)
            in_outage = False
            back = time.monotonic()
            # "Another process" writes as soon as the server takes writes.
            while True:
                try:
                    await writer.set_many(dict.fromkeys(HOT_KEYS, "v2"), ttl=300)
                    break
                except L2Error:
                    await anyio.sleep(0.01)
            written_at = time.monotonic()
            await _until(lambda: reader.link_up, 10)
            report.recovery_s = time.monotonic() - back
            await anyio.sleep(0.3)
            stop.set()
        for key in HOT_KEYS:
            assert await reader.get(key) == "v2"
        await writer.clear()
    report.l1_hits_during_outage = len(hit_ms)
    report.l1_hit_p99_ms = _p99(hit_ms)
    report.l2_ops_during_outage = len(l2_ms)
    report.l2_op_max_ms = max(l2_ms, default=0.0)
    report.errors = dict(errors)
    return report
