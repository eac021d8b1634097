"""Suite 2, contention: N concurrent tasks on a hot key set.

N tasks (10, 100, 1,000, 10,000) share a fixed budget of operations on
Zipf-distributed keys (exponent 1.1 over 10,000 keys, all present), 90% get
and 10% set. Each task times every operation (``perf_counter_ns`` around the
awaited call) and then yields with ``anyio.lowlevel.checkpoint()``, as a
request handler yields to do its I/O, so tasks interleave and any lock a
contender holds across a yield shows up as latency. Reports throughput
(operations per second of wall time, the yields included, so the floor shows
the event loop's own ceiling) and the p50/p99 of per-op latency.

No ratio target here: the suite backs the design rule "lock-free reads,
never a lock across an await" with numbers: sweepcache's p99 should stay near
the floor's at every N while the seed's global lock does not.
"""

from __future__ import annotations

from time import perf_counter, perf_counter_ns
from typing import Any

import anyio
from anyio.lowlevel import checkpoint

from . import adapters
from ._harness import (
    Backend,
    Config,
    Progress,
    backends,
    gc_paused,
    percentile,
    ratio,
    summarize,
)
from ._zipf import write_mask, zipf_keys

NAME = "contention"
TITLE = "Contention: N tasks, Zipf keys, 90% get / 10% set"
UNIVERSE = 10_000


async def _worker(
    ops: adapters.Ops,
    keys: list[str],
    writes: list[bool],
    latencies: list[int],
    go: anyio.Event,
) -> None:
    get, set_ = ops.get, ops.set
    value = {"id": 1}
    await go.wait()
    for key, write in zip(keys, writes, strict=True):
        start = perf_counter_ns()
        if write:
            await set_(key, value)
        else:
            await get(key)
        latencies.append(perf_counter_ns() - start)
        await checkpoint()


async def _one_run(
    contender: adapters.Contender, tasks: int, keys: list[str], writes: list[bool]
) -> tuple[float, list[int]]:
    assert contender.build is not None
    ops = contender.build(UNIVERSE)
    for rank in range(UNIVERSE):
        await ops.set(f"item:{rank}", {"id": rank})
    latencies: list[int] = []
    share = len(keys) // tasks
    go = anyio.Event()
    # Spawning 10,000 tasks takes longer than their work: start the clock
    # once every task is parked on `go`, and keep the cyclic GC out of it.
    with gc_paused():
        async with anyio.create_task_group() as tg:
            for index in range(tasks):
                part = slice(index * share, (index + 1) * share)
                tg.start_soon(_worker, ops, keys[part], writes[part], latencies, go)
            for _ in range(3):
                await checkpoint()
            start = perf_counter()
            go.set()
        wall = perf_counter() - start
    if ops.aclose is not None:
        await ops.aclose()
    return share * tasks / wall, latencies


async def _measure(
    backend: Backend,
    contenders: list[adapters.Contender],
    levels: list[int],
    total_ops: int,
    repeats: int,
    progress: Progress,
) -> dict[tuple[str, int], dict[str, Any]]:
    keys = zipf_keys(total_ops, UNIVERSE)
    writes = write_mask(total_ops, 0.10)
    runnable = [c for c in contenders if c.unsupported(backend.name) is None]
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for tasks in levels:
        raw: dict[str, tuple[list[float], list[int]]] = {c.name: ([], []) for c in runnable}
        for repeat in range(repeats):
            shift = repeat % len(runnable)
            for contender in runnable[shift:] + runnable[:shift]:
                throughput, latencies = await _one_run(contender, tasks, keys, writes)
                raw[contender.name][0].append(throughput)
                raw[contender.name][1].extend(latencies)
        for name, (throughputs, latencies) in raw.items():
            latencies.sort()
            results[(name, tasks)] = {
                "throughput": summarize(throughputs),
                "p50_ns": percentile(latencies, 0.50),
                "p99_ns": percentile(latencies, 0.99),
                "max_ns": latencies[-1],
            }
        progress.step(f"{backend.name} N={tasks}")
    return results


def run(config: Config, progress: Progress) -> dict[str, Any]:
    """Measure throughput and latency percentiles per contender, backend and N."""
    levels = config.pick(smoke=[10, 100], quick=[10, 1_000], full=[10, 100, 1_000, 10_000])
    # At least 2 ops per task, so N=10,000 measures contention, not one op each.
    total_ops = config.pick(smoke=1_000, quick=6_000, full=20_000)
    repeats = config.pick(smoke=1, quick=2, full=3)
    contenders = adapters.async_contenders()
    all_backends = backends()
    progress.start(NAME, len(levels) * len(all_backends))
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for backend in all_backends:
        results = backend.run(_measure, backend, contenders, levels, total_ops, repeats, progress)
        for tasks in levels:
            floor = results.get(("floor (async)", tasks))
            for contender in contenders:
                row: dict[str, Any] = {
                    "backend": backend.name,
                    "tasks": tasks,
                    "contender": contender.name,
                    "role": contender.role,
                }
                reason = contender.unsupported(backend.name)
                if reason is not None:
                    row["na"] = reason
                else:
                    row.update(results[(contender.name, tasks)])
                    row["throughput ratio"] = ratio(
                        row["throughput"]["median"],
                        None if floor is None else floor["throughput"]["median"],
                    )
                rows.append(row)
        summary.append(_summary(backend.name, max(levels), rows))
    progress.finish()
    return {
        "suite": NAME,
        "title": TITLE,
        "parameters": {
            "tasks": levels,
            "ops_per_run": total_ops,
            "repeats": repeats,
            "keys": UNIVERSE,
            "zipf_exponent": 1.1,
            "write_share": 0.10,
        },
        "rows": rows,
        "targets": [],
        "summary": summary,
        "notes": [
            "Throughput includes one checkpoint (a yield to the loop) per operation for "
            "every contender; the floor shows the loop's own ceiling.",
            "Latency percentiles pool every operation of every repeat.",
        ],
    }


def _summary(backend: str, tasks: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    def get(name: str) -> dict[str, Any] | None:
        for row in rows:
            if (row["backend"], row["tasks"], row["contender"]) == (backend, tasks, name):
                return None if "na" in row else row
        return None

    peers = [
        row
        for row in rows
        if row["backend"] == backend
        and row["tasks"] == tasks
        and row["role"] == "peer"
        and "na" not in row
    ]
    best = max(peers, key=lambda row: row["throughput"]["median"], default=None)
    mine, floor, seed = get("sweepcache Cache"), get("floor (async)"), get("seed design")
    return {
        "metric": f"throughput, {tasks} tasks [{backend}]",
        "unit": "ops/s",
        "lower_is_better": False,
        "sweepcache": None if mine is None else mine["throughput"]["median"],
        "floor": None if floor is None else floor["throughput"]["median"],
        "seed": None if seed is None else seed["throughput"]["median"],
        "best_peer": None if best is None else best["throughput"]["median"],
        "best_peer_name": None if best is None else best["contender"],
    }
