"""Suite 4, threads: the sync fast path called from 1, 2 and 4 threads, per build.

Each thread runs the same number of ``get_nowait`` / ``set_nowait`` calls on one
shared cache, so perfect scaling doubles the throughput with twice the
threads. Workloads: *disjoint* keys (each thread its own 10,000 keys) or
*shared* Zipf keys (all threads draw from one 10,000-key Zipf distribution);
100/0, 90/10 and 50/50 get/set mixes. Contenders: sweepcache at 1, 4, 16 and
64 shards, a dict behind one ``threading.Lock``, cachetools' TTLCache behind
one lock (as its docs ask), cachebox and theine (Rust cores with their own
locking), and the floor: a plain dict with no lock and no TTL (what a
thread-unsafe cache would cost at best).

Throughput is operations per second of wall time, median over repeats; the
speed-up is the throughput with N threads over the throughput with one.

Run under the GIL build (``threads.json``) and, when ``make bench`` is given
``FT_PYTHON=/path/to/python3.13t``, under a free-threaded build as well
(``threads-ft.json``). The target it checks, on the free-threaded build: two
threads >= 1.5x one thread on disjoint keys at 90/10, and no collapse (>= 1.0x)
on shared Zipf keys; on the GIL build nothing can scale, and the suite shows
what the stripes cost.
"""

from __future__ import annotations

import random
import sys
import threading
from time import monotonic, perf_counter
from typing import Any

import sweepcache

from . import adapters
from ._harness import Config, Progress, gc_paused, na, optional_import, summarize
from ._zipf import zipf_keys

NAME = "threads"
TITLE = "Threads: sync fast path throughput (ops/s) and speed-up per thread"
UNIVERSE = 10_000
MIXES = {"100/0": 0.0, "90/10": 0.1, "50/50": 0.5}
KEYS = ("disjoint", "shared Zipf")


def free_threaded() -> bool:
    """Whether this interpreter runs with the GIL disabled."""
    gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return gil_enabled is not None and not gil_enabled()


def _worker(
    ops: adapters.Ops, keys: list[str], writes: list[bool], go: threading.Barrier, out: list[float]
) -> None:
    get, set_ = ops.get, ops.set
    value = {"id": 1}
    go.wait()
    start = perf_counter()
    for key, write in zip(keys, writes, strict=True):
        if write:
            set_(key, value)
        else:
            get(key)
    out.append(perf_counter() - start)


def _one_run(ops: adapters.Ops, plan: list[tuple[list[str], list[bool]]]) -> float:
    for keys, _ in plan:
        for key in set(keys):
            ops.set(key, {"id": 0})
    go = threading.Barrier(len(plan) + 1)
    times: list[float] = []
    workers = [
        threading.Thread(target=_worker, args=(ops, keys, writes, go, times))
        for keys, writes in plan
    ]
    for worker in workers:
        worker.start()
    with gc_paused():
        go.wait()
        for worker in workers:
            worker.join()
    return sum(len(keys) for keys, _ in plan) / max(times)


def _plan(threads: int, key_mode: str, write_share: float, per_thread: int) -> Any:
    plan = []
    for rank in range(threads):
        rng = random.Random(1000 * rank + int(write_share * 100))
        if key_mode == "disjoint":
            names = [f"t{rank}:item:{index}" for index in range(UNIVERSE)]
            keys = [names[rng.randrange(UNIVERSE)] for _ in range(per_thread)]
        else:
            keys = zipf_keys(per_thread, UNIVERSE, seed=rank + 1)
        writes = [rng.random() < write_share for _ in range(per_thread)]
        plan.append((keys, writes))
    return plan


class LockedDict:
    """A dict behind one lock: the simplest thread-safe cache."""

    def __init__(self) -> None:
        self._data: dict[Any, tuple[Any, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            entry = self._data.get(key)
        if entry is not None and monotonic() < entry[1]:
            return entry[0]
        return None

    def set(self, key: Any, value: Any) -> None:
        expires_at = monotonic() + adapters.TTL
        with self._lock:
            self._data[key] = (value, expires_at)


class FloorDict:
    """No lock, no TTL: a plain dict (``d[k]`` reads, lock-free on free-threaded 3.13)."""

    def __init__(self) -> None:
        self._data: dict[Any, Any] = {}

    def get(self, key: Any) -> Any:
        try:
            return self._data[key]
        except KeyError:
            return None

    def set(self, key: Any, value: Any) -> None:
        self._data[key] = value


def _sweepcache(shards: int) -> adapters.Ops:
    cache: sweepcache.Cache[Any, Any] = sweepcache.Cache(default_ttl=adapters.TTL, shards=shards)
    return adapters.Ops(cache.get_nowait, cache.set_nowait, cache.delete_nowait, cache)


def _plain(cache: LockedDict | FloorDict) -> adapters.Ops:
    return adapters.Ops(cache.get, cache.set, lambda key: None, cache)


def _locked(ops: adapters.Ops) -> adapters.Ops:
    """cachetools is not thread-safe: guard it with the caller's lock, as its docs say."""
    lock = threading.Lock()
    get, set_ = ops.get, ops.set

    def locked_get(key: Any) -> Any:
        with lock:
            return get(key)

    def locked_set(key: Any, value: Any) -> None:
        with lock:
            set_(key, value)

    return adapters.Ops(locked_get, locked_set, lambda key: None, ops.raw)


def contenders(shard_counts: list[int]) -> list[tuple[str, str, Any]]:
    """``(name, role, build or missing reason)`` for every contender, in a fixed order."""
    found: list[tuple[str, str, Any]] = [
        ("floor: dict, no lock, no TTL", "floor", lambda: _plain(FloorDict()))
    ]
    found += [
        (f"sweepcache shards={shards}", "sweepcache", lambda s=shards: _sweepcache(s))
        for shards in shard_counts
    ]
    found.append(("naive: dict + one Lock", "baseline", lambda: _plain(LockedDict())))
    peers = {
        "cachetools TTLCache + Lock": (
            "cachetools",
            lambda: _locked(adapters._cachetools_sync(UNIVERSE)),
        ),
        "cachebox TTLCache": ("cachebox", lambda: adapters._cachebox_sync(UNIVERSE)),
        "theine": ("theine", lambda: adapters._theine_sync(UNIVERSE)),
    }
    for name, (module, build) in peers.items():
        if optional_import(module) is None:
            found.append((name, "peer", adapters.NOT_INSTALLED))
        else:
            found.append((name, "peer", build))
    return found


def run(config: Config, progress: Progress) -> dict[str, Any]:
    """Measure throughput for every workload, thread count and contender."""
    thread_counts = config.pick(smoke=[1, 2], quick=[1, 2, 4], full=[1, 2, 4])
    shard_counts = config.pick(smoke=[1, 16], quick=[1, 16], full=[1, 4, 16, 64])
    per_thread = config.pick(smoke=2_000, quick=40_000, full=100_000)
    repeats = config.pick(smoke=1, quick=3, full=7)
    mixes = config.pick(smoke={"90/10": 0.1}, quick=MIXES, full=MIXES)
    all_contenders = contenders(shard_counts)
    runnable = [(name, role, build) for name, role, build in all_contenders if callable(build)]
    workloads = [(key_mode, mix) for key_mode in KEYS for mix in mixes]
    progress.start(NAME, len(workloads))
    _one_run(_sweepcache(16), _plan(1, "disjoint", 0.1, per_thread))  # warm-up
    samples: dict[tuple[str, str, str, int], list[float]] = {}
    for key_mode, mix in workloads:
        plans = {n: _plan(n, key_mode, mixes[mix], per_thread) for n in thread_counts}
        for repeat in range(repeats):
            # Interleaved, each repeat in another order: drift hits everyone alike.
            shift = repeat % len(runnable)
            for name, _, build in runnable[shift:] + runnable[:shift]:
                for threads in thread_counts:
                    rate = _one_run(build(), plans[threads])
                    samples.setdefault((key_mode, mix, name, threads), []).append(rate)
        progress.step(f"{key_mode} {mix}")
    progress.finish()
    rows: list[dict[str, Any]] = []
    for key_mode, mix in workloads:
        for name, role, build in all_contenders:
            row: dict[str, Any] = {"keys": key_mode, "mix": mix, "contender": name, "role": role}
            if not callable(build):
                row["na"] = na(build)
            else:
                one = summarize(samples[(key_mode, mix, name, thread_counts[0])])
                for threads in thread_counts:
                    stats = summarize(samples[(key_mode, mix, name, threads)])
                    row[f"{threads} threads"] = stats
                    row[f"speed-up {threads}"] = stats["median"] / one["median"]
            rows.append(row)
    build_name = "free-threaded" if free_threaded() else "GIL"
    return {
        "suite": NAME,
        "title": f"{TITLE} [{build_name} build]",
        "build": build_name,
        "parameters": {
            "threads": thread_counts,
            "shards": shard_counts,
            "ops_per_thread": per_thread,
            "repeats": repeats,
            "mixes": list(mixes),
            "python": sys.version.split()[0],
            "switch_interval_s": sys.getswitchinterval(),
        },
        "rows": rows,
        "targets": _targets(rows, thread_counts) if free_threaded() else [],
        "summary": _summary(rows, build_name),
        "notes": [
            "Under the GIL only one thread runs Python at a time: more threads cannot add "
            "throughput, and the shard count only changes how often a writer finds its lock "
            "held."
            if not free_threaded()
            else "Free-threaded build: threads run Python in parallel on the machine's cores.",
        ],
    }


def _row(rows: list[dict[str, Any]], key_mode: str, mix: str, name: str) -> dict[str, Any] | None:
    for row in rows:
        if row["keys"] == key_mode and row["mix"] == mix and row["contender"] == name:
            return None if "na" in row else row
    return None


def _best_sweepcache(rows: list[dict[str, Any]], key_mode: str, mix: str) -> dict[str, Any]:
    mine = [
        row
        for row in rows
        if row["keys"] == key_mode and row["mix"] == mix and row["role"] == "sweepcache"
    ]
    return max(mine, key=lambda row: row["2 threads"]["median"] if "2 threads" in row else 0)


def _targets(rows: list[dict[str, Any]], thread_counts: list[int]) -> list[dict[str, Any]]:
    if 2 not in thread_counts:
        return []
    found = []
    for key_mode, mix, goal in (("disjoint", "90/10", 1.5), ("shared Zipf", "100/0", 1.0)):
        if _row(rows, key_mode, mix, f"sweepcache shards={16}") is None:
            continue
        row = _row(rows, key_mode, mix, "sweepcache shards=16")
        assert row is not None
        found.append(
            {
                "target": f"free-threaded, {key_mode} keys {mix}: 2 threads >= {goal}x 1 thread "
                "(shards=16)",
                "value": row["speed-up 2"],
                "display": f"{row['speed-up 2']:.2f}x",
                "goal": goal,
                "met": row["speed-up 2"] >= goal,
            }
        )
    return found


def _summary(rows: list[dict[str, Any]], build_name: str) -> list[dict[str, Any]]:
    summary = []
    for key_mode, mix in (("disjoint", "90/10"), ("shared Zipf", "90/10")):
        row = _row(rows, key_mode, mix, "sweepcache shards=16")
        if row is None or "2 threads" not in row:
            continue
        floor = _row(rows, key_mode, mix, "floor: dict, no lock, no TTL")
        peers = [
            peer
            for peer in rows
            if peer["keys"] == key_mode
            and peer["mix"] == mix
            and peer["role"] == "peer"
            and "na" not in peer
        ]
        best = max(peers, key=lambda peer: peer["2 threads"]["median"], default=None)
        summary.append(
            {
                "metric": f"{build_name}: 2 threads, {key_mode} keys {mix} (shards=16)",
                "unit": "ops/s",
                "lower_is_better": False,
                "sweepcache": row["2 threads"]["median"],
                "floor": None if floor is None else floor["2 threads"]["median"],
                "seed": None,
                "seed_na": "n/a (asyncio.Lock: not thread-safe)",
                "best_peer": None if best is None else best["2 threads"]["median"],
                "best_peer_name": None if best is None else best["contender"],
                "speed_up": row["speed-up 2"],
            }
        )
    return summary
