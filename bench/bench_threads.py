"""Suite 4, threads x shards: the sync fast path called from 1, 2, 4 and 8 threads.

Each thread runs its share of a fixed budget of ``get_nowait`` / ``set_nowait``
calls (Zipf keys, 90% get / 10% set) on one shared cache built with 1, 4, 16
or 64 shards; throughput is operations per second of wall time, median over
repeats. Reads take no lock, writes lock one shard, so on a GIL build the
shard count can only matter through lock hand-offs between threads: this
suite reports honestly what striping buys (or does not) under the GIL today.
The sync floor (a bare dict, no lock) and the sync peers run the same loop.

DESIGN.md target it backs: "threads are safe; the event loop is never
blocked for long" (no ratio target). No free-threaded CPython can be
installed from the registries this project uses (Debian bookworm has no
``python3.13t``; PyPI ships no interpreters), so the free-threaded column is
"n/a" unless ``python -m bench`` itself runs on one.
"""

from __future__ import annotations

import sys
import threading
from time import perf_counter
from typing import Any

import sweepcache

from . import adapters
from ._harness import Config, Progress, gc_paused, na, summarize
from ._zipf import write_mask, zipf_keys

NAME = "threads"
TITLE = "Threads x shards: sync fast path throughput (ops/s)"
UNIVERSE = 10_000


def _worker(ops: adapters.Ops, keys: list[str], writes: list[bool], go: threading.Event) -> None:
    get, set_ = ops.get, ops.set
    value = {"id": 1}
    go.wait()
    for key, write in zip(keys, writes, strict=True):
        if write:
            set_(key, value)
        else:
            get(key)


def _one_run(ops: adapters.Ops, threads: int, keys: list[str], writes: list[bool]) -> float:
    for rank in range(UNIVERSE):
        ops.set(f"item:{rank}", {"id": rank})
    share = len(keys) // threads
    go = threading.Event()
    workers = [
        threading.Thread(
            target=_worker,
            args=(ops, keys[i * share : (i + 1) * share], writes[i * share : (i + 1) * share], go),
        )
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    with gc_paused():
        start = perf_counter()
        go.set()
        for worker in workers:
            worker.join()
        wall = perf_counter() - start
    return share * threads / wall


def _sweepcache(shards: int) -> adapters.Ops:
    cache: sweepcache.Cache[Any, Any] = sweepcache.Cache(default_ttl=adapters.TTL, shards=shards)
    return adapters.Ops(cache.get_nowait, cache.set_nowait, cache.delete_nowait, cache)


def _locked(ops: adapters.Ops) -> adapters.Ops:
    """cachetools is not thread-safe: guard it with the caller's lock, as its docs say."""
    lock = threading.Lock()
    get, set_, delete = ops.get, ops.set, ops.delete

    def locked_get(key: Any) -> Any:
        with lock:
            return get(key)

    def locked_set(key: Any, value: Any) -> None:
        with lock:
            set_(key, value)

    def locked_delete(key: Any) -> None:
        with lock:
            delete(key)

    return adapters.Ops(locked_get, locked_set, locked_delete, ops.raw)


def run(config: Config, progress: Progress) -> dict[str, Any]:
    """Measure throughput for every thread count and shard count."""
    thread_counts = config.pick(smoke=[1, 2], quick=[1, 2, 4, 8], full=[1, 2, 4, 8])
    shard_counts = config.pick(smoke=[1, 16], quick=[1, 16, 64], full=[1, 4, 16, 64])
    total_ops = config.pick(smoke=4_000, quick=80_000, full=200_000)
    repeats = config.pick(smoke=1, quick=2, full=3)
    keys = zipf_keys(total_ops, UNIVERSE)
    writes = write_mask(total_ops, 0.10)
    contenders: list[tuple[str, str, Any]] = [
        (f"sweepcache shards={shards}", "sweepcache", lambda s=shards: _sweepcache(s))
        for shards in shard_counts
    ]
    for contender in adapters.sync_contenders():
        if contender.role == "sweepcache":
            continue
        if contender.name.startswith("cachetools") and contender.build is not None:
            build = contender.build
            contenders.append(
                ("cachetools TTLCache + Lock", "peer", lambda b=build: _locked(b(UNIVERSE)))
            )
        else:
            contenders.append((contender.name, contender.role, contender))
    progress.start(NAME, len(thread_counts))
    _one_run(_sweepcache(16), 1, keys, writes)  # warm-up: first-run effects hit nobody
    samples: dict[tuple[str, int], list[float]] = {}
    for threads in thread_counts:
        for repeat in range(repeats):
            shift = repeat % len(contenders)
            for name, _, build in contenders[shift:] + contenders[:shift]:
                if isinstance(build, adapters.Contender):
                    if build.build is None:
                        continue
                    ops = build.build(UNIVERSE)
                else:
                    ops = build()
                samples.setdefault((name, threads), []).append(_one_run(ops, threads, keys, writes))
        progress.step(f"{threads} threads")
    progress.finish()
    rows: list[dict[str, Any]] = []
    for name, role, build in contenders:
        row: dict[str, Any] = {"contender": name, "role": role}
        if isinstance(build, adapters.Contender) and build.build is None:
            row["na"] = na(build.missing or adapters.NOT_INSTALLED)
        else:
            for threads in thread_counts:
                row[f"{threads} threads"] = summarize(samples[(name, threads)])
        rows.append(row)
    return {
        "suite": NAME,
        "title": TITLE,
        "parameters": {
            "threads": thread_counts,
            "shards": shard_counts,
            "ops_per_run": total_ops,
            "repeats": repeats,
            "switch_interval_s": sys.getswitchinterval(),
        },
        "rows": rows,
        "targets": [],
        "summary": [_summary(rows, max(thread_counts))],
        "free_threaded": _free_threaded_note(),
        "notes": [
            _free_threaded_note(),
            "Under the GIL only one thread runs Python at a time: more threads cannot add "
            "throughput, and shard count changes only how often a writer finds its lock held.",
        ],
    }


def _free_threaded_note() -> str:
    gil = getattr(sys, "_is_gil_enabled", None)
    if gil is not None and not gil():
        return "This run used a free-threaded CPython (GIL disabled)."
    return (
        "Free-threaded CPython: n/a (no build installable from the registries here: "
        "Debian bookworm has no python3.13t package and PyPI ships no interpreters)."
    )


def _summary(rows: list[dict[str, Any]], threads: int) -> dict[str, Any]:
    column = f"{threads} threads"
    by_name = {row["contender"]: row for row in rows if "na" not in row}
    mine = max(
        (row for row in by_name.values() if row["role"] == "sweepcache"),
        key=lambda row: row[column]["median"],
    )
    peers = [row for row in by_name.values() if row["role"] == "peer"]
    best = max(peers, key=lambda row: row[column]["median"], default=None)
    floor = by_name.get("floor (sync)")
    return {
        "metric": f"throughput, {threads} threads ({mine['contender']})",
        "unit": "ops/s",
        "lower_is_better": False,
        "sweepcache": mine[column]["median"],
        "floor": None if floor is None else floor[column]["median"],
        "seed": None,
        "seed_na": "n/a (asyncio.Lock: not thread-safe)",
        "best_peer": None if best is None else best[column]["median"],
        "best_peer_name": None if best is None else best["contender"],
    }
