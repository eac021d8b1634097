"""Suite 1, per-op latency: get hit, get miss, set new, set overwrite, delete.

Checks the project's hot-path targets: async ``get`` hit <= 1.5x the async
floor, ``set`` <= 2.0x, sync ``get_nowait`` hit <= 1.3x the sync floor, and
the same ratios on trio.

Method: every contender runs the same loop (``for key in keys: await
op(key)``, or the plain call for the sync family) over the same pre-built
keys, in batches of ``n`` operations on a fresh instance: set ``n`` new keys,
overwrite them, read them (hits), read ``n`` absent keys (misses), delete
them. Repeats are interleaved (the contender order rotates every repeat) with
the cyclic GC paused during a batch; each figure is the median ns/op over the
repeats, with the interquartile range, and each ratio is the median of the
per-repeat ratios to the floor measured in the same repeat. The loop and the
call are part of every figure, the floor's included, as they are part of
every real call.
"""

from __future__ import annotations

import statistics
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, Final

from . import adapters
from ._harness import Backend, Config, Progress, backends, gc_paused, summarize

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "hotpath"
TITLE = "Per-op latency (ns/op)"
OPS = ("get hit", "get miss", "set new", "set overwrite", "delete")
#: (family, op) -> (target ratio to the family's floor, target text).
TARGETS = {
    ("async", "get hit"): 1.5,
    ("async", "set new"): 2.0,
    ("async", "set overwrite"): 2.0,
    ("sync", "get hit"): 1.3,
}

Samples = dict[tuple[str, str], list[float]]


async def _loop1(op: Callable[[Any], Any], keys: list[str]) -> float:
    start = perf_counter_ns()
    for key in keys:
        await op(key)
    return (perf_counter_ns() - start) / len(keys)


async def _loop2(op: Callable[[Any, Any], Any], keys: list[str], value: object) -> float:
    start = perf_counter_ns()
    for key in keys:
        await op(key, value)
    return (perf_counter_ns() - start) / len(keys)


def _sync1(op: Callable[[Any], Any], keys: list[str]) -> float:
    start = perf_counter_ns()
    for key in keys:
        op(key)
    return (perf_counter_ns() - start) / len(keys)


def _sync2(op: Callable[[Any, Any], Any], keys: list[str], value: object) -> float:
    start = perf_counter_ns()
    for key in keys:
        op(key, value)
    return (perf_counter_ns() - start) / len(keys)


async def _one_batch(
    contender: adapters.Contender, keys: list[str], misses: list[str], samples: Samples
) -> None:
    assert contender.build is not None
    ops = contender.build(len(keys))
    value = {"id": 1, "name": "Ada"}
    timings: dict[str, float] = {}
    if contender.kind == "async":
        with gc_paused():
            timings["set new"] = await _loop2(ops.set, keys, value)
        with gc_paused():
            timings["set overwrite"] = await _loop2(ops.set, keys, value)
        with gc_paused():
            timings["get hit"] = await _loop1(ops.get, keys)
        with gc_paused():
            timings["get miss"] = await _loop1(ops.get, misses)
        with gc_paused():
            timings["delete"] = await _loop1(ops.delete, keys)
    else:
        with gc_paused():
            timings["set new"] = _sync2(ops.set, keys, value)
        with gc_paused():
            timings["set overwrite"] = _sync2(ops.set, keys, value)
        with gc_paused():
            timings["get hit"] = _sync1(ops.get, keys)
        with gc_paused():
            timings["get miss"] = _sync1(ops.get, misses)
        with gc_paused():
            timings["delete"] = _sync1(ops.delete, keys)
    if ops.aclose is not None:
        await ops.aclose()
    for op, ns in timings.items():
        samples.setdefault((contender.name, op), []).append(ns)


async def _measure(
    backend: Backend,
    contenders: list[adapters.Contender],
    n: int,
    repeats: int,
    progress: Progress,
) -> Samples:
    keys = [f"user:{i}" for i in range(n)]
    misses = [f"absent:{i}" for i in range(n)]
    runnable = [c for c in contenders if c.unsupported(backend.name) is None]
    samples: Samples = {}
    for repeat in range(repeats):
        shift = repeat % len(runnable)
        for contender in runnable[shift:] + runnable[:shift]:
            await _one_batch(contender, keys, misses, samples)
        progress.step(f"{backend.name} repeat {repeat + 1}/{repeats}")
    return samples


def run(config: Config, progress: Progress) -> dict[str, Any]:
    """Measure every contender on every backend; return the suite's result."""
    n = config.pick(smoke=200, quick=2_000, full=10_000)
    repeats = config.pick(smoke=2, quick=3, full=9)
    contenders = (
        adapters.async_contenders() + adapters.feature_contenders() + adapters.sync_contenders()
    )
    all_backends = backends()
    progress.start(NAME, repeats * len(all_backends))
    rows: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for backend in all_backends:
        samples = backend.run(_measure, backend, contenders, n, repeats, progress)
        floors = {c.kind: c.name for c in contenders if c.role == "floor"}
        for contender in contenders:
            row: dict[str, Any] = {
                "backend": backend.name,
                "contender": contender.name,
                "family": contender.kind,
                "role": contender.role,
                "adapter": contender.adapter,
            }
            reason = contender.unsupported(backend.name)
            if reason is not None:
                row["na"] = reason
                rows.append(row)
                continue
            floor = floors[contender.kind]
            for op in OPS:
                mine = samples[(contender.name, op)]
                paired = [a / b for a, b in zip(mine, samples[(floor, op)], strict=True)]
                row[op] = summarize(mine)
                row[f"{op} ratio"] = statistics.median(paired)
                row[f"{op} ratio range"] = [min(paired), max(paired)]
            rows.append(row)
        targets.extend(_targets(backend.name, rows))
        summary.extend(_summary(backend.name, rows))
    progress.finish()
    return {
        "suite": NAME,
        "title": TITLE,
        "parameters": {"ops_per_batch": n, "repeats": repeats, "ttl_s": adapters.TTL},
        "rows": rows,
        "targets": targets,
        "summary": summary,
        "notes": [
            "Figures are median ns/op over interleaved repeats (IQR in the JSON); "
            "ratios are medians of per-repeat ratios to the floor of the same family.",
            "Peers marked 'adapter' are called through one extra Python function "
            "(their own method has another signature): about 40-60 ns of their figure.",
            "The 'global lock' variant is the seed's code for single ops; it appears "
            "only in the stampede suite, where it differs.",
        ],
    }


def _find(rows: list[dict[str, Any]], backend: str, name: str) -> dict[str, Any] | None:
    for row in rows:
        if row["backend"] == backend and row["contender"] == name and "na" not in row:
            return row
    return None


def _targets(backend: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for (family, op), limit in TARGETS.items():
        name = "sweepcache Cache" if family == "async" else "sweepcache *_nowait"
        row = _find(rows, backend, name)
        if row is None:
            continue
        measured = row[f"{op} ratio"]
        found.append(
            {
                "target": f"{backend}: {name} {op} <= {limit}x the {family} floor",
                "limit": limit,
                "measured": measured,
                "display": f"{measured:.2f}x",
                "met": measured <= limit,
            }
        )
    found.extend(_feature_targets(backend, rows))
    return found


#: The 0.1.0 core, unpacked from git history (see ``_before.py``).
BEFORE: Final = "sweepcache 0.1.0 (before)"
#: The features' targets, each a ratio of two rows' medians in one run:
#: (what, row, op, baseline row, baseline op, limit).
FEATURE_TARGETS: Final = (
    ("features off: get hit", "sweepcache Cache", "get hit", BEFORE, "get hit", 1.03),
    ("features off: set new", "sweepcache Cache", "set new", BEFORE, "set new", 1.03),
    (
        "features off: set overwrite",
        "sweepcache Cache",
        "set overwrite",
        BEFORE,
        "set overwrite",
        1.03,
    ),
    (
        "record_stats=True get hit",
        "sweepcache record_stats=True",
        "get hit",
        "floor (async)",
        "get hit",
        1.5,
    ),
    ("maxsize get hit", "sweepcache maxsize", "get hit", "floor (async)", "get hit", 1.5),
    ("maxsize set new", "sweepcache maxsize", "set new", BEFORE, "set new", 1.3),
    (
        "set new with one tag",
        "sweepcache set with a tag",
        "set new",
        "sweepcache Cache",
        "set new",
        2.0,
    ),
)


def _feature_targets(backend: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for what, name, op, base_name, base_op, limit in FEATURE_TARGETS:
        row, base = _find(rows, backend, name), _find(rows, backend, base_name)
        if row is None or base is None:
            continue
        measured = row[op]["median"] / base[base_op]["median"]
        found.append(
            {
                "target": f"{backend}: {what} <= {limit}x {base_name} {base_op}",
                "limit": limit,
                "measured": measured,
                "display": f"{measured:.2f}x",
                "met": measured <= limit,
            }
        )
    return found


def _summary(backend: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for family, name, floor in (
        ("async", "sweepcache Cache", "floor (async)"),
        ("sync", "sweepcache *_nowait", "floor (sync)"),
    ):
        mine, base = _find(rows, backend, name), _find(rows, backend, floor)
        seed = _find(rows, backend, "seed design") if family == "async" else None
        peers = [
            row
            for row in rows
            if row["backend"] == backend
            and row["role"] == "peer"
            and row["family"] == family
            and "na" not in row
        ]
        for op in ("get hit", "set new"):
            if mine is None or base is None:
                continue
            best = min(peers, key=lambda row: row[op]["median"], default=None)
            found.append(
                {
                    "metric": f"{op} {family} [{backend}]",
                    "unit": "ns",
                    "lower_is_better": True,
                    "sweepcache": mine[op]["median"],
                    "floor": base[op]["median"],
                    "seed": None if seed is None else seed[op]["median"],
                    "best_peer": None if best is None else best[op]["median"],
                    "best_peer_name": None if best is None else best["contender"],
                }
            )
    return found
