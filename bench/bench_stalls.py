"""Suite 7, stalls: the longest lock hold and loop stall of each costly operation.

Checks the project's target that nothing the cache does holds a lock or
stalls the event loop for more than about 2 ms, whatever the number of keys,
on the operations whose cost grew with the cache before the hardening pass:

* **compaction**: 1M keys filed in one expiry bucket (1 and 16 shards), then
  deletes until the bucket is mostly stale copies: the slowest single
  ``delete_nowait`` (the old code compacted the whole bucket in one delete);
* **costly frees**: 256 expired entries whose values are slow to free (lists
  of 20,000 objects each), reclaimed by ``await cache.sweep()``: the values
  are released one at a time, outside the lock, with checkpoints between;
* **clear**: 500,000 entries, ``await cache.clear()`` (the locks are held
  just to swap in empty containers; the entries are freed in slices) and
  ``clear_nowait()`` (documented as ``O(entries)`` for its caller);
* **tag invalidation**: one tag on 500,000 entries, ``await
  cache.invalidate_tags()`` (slices) and ``invalidate_tags_nowait()`` (one go).

Every shard lock is wrapped (white box) to time each hold; a heartbeat task
(``anyio.sleep(0)`` in a loop) measures the longest loop stall of the async
operations; a sync operation stalls its caller for its whole duration, which
is what its row reports. Each case also runs a naive baseline in the same
run: the same work done in one go (compaction: rebuilding the bucket's list;
frees: dropping the 256 values at once; clear: ``dict.clear()``; tags:
deleting every member in one loop).
"""

from __future__ import annotations

import gc
import threading
from time import perf_counter
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

import sweepcache
from sweepcache.testing import FakeClock

from ._harness import Config, Progress, optional_import, summarize

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "stalls"
TITLE = "Stalls: longest lock hold and loop stall of costly operations"
BUDGET_S = 0.002


class TimedLock:
    """A shard lock that records how long each hold lasted."""

    __slots__ = ("_lock", "_since", "holds")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since = 0.0
        self.holds: list[float] = []

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self._lock.acquire(blocking, timeout)
        if got:
            self._since = perf_counter()
        return got

    def release(self) -> None:
        self.holds.append(perf_counter() - self._since)
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()


def _instrument(cache: sweepcache.Cache[Any, Any]) -> list[TimedLock]:
    locks = []
    for shard in cache._shards:
        lock = TimedLock()
        shard.lock = lock  # type: ignore[assignment]
        locks.append(lock)
    return locks


def _longest_hold(locks: list[TimedLock]) -> float:
    return max((max(lock.holds, default=0.0) for lock in locks), default=0.0)


def _reset(locks: list[TimedLock]) -> None:
    for lock in locks:
        lock.holds.clear()


async def _with_heartbeat(operation: Any) -> tuple[float, float]:
    """Run ``operation()`` beside a heartbeat; return (its duration, the longest gap)."""
    gaps: list[float] = []
    done = anyio.Event()

    async def heartbeat() -> None:
        last = perf_counter()
        while not done.is_set():
            await anyio.lowlevel.checkpoint()
            now = perf_counter()
            gaps.append(now - last)
            last = now

    async with anyio.create_task_group() as tg:
        tg.start_soon(heartbeat)
        await anyio.lowlevel.checkpoint()
        start = perf_counter()
        await operation()
        duration = perf_counter() - start
        done.set()
    return duration, max(gaps, default=duration)


def _row(case: str, variant: str, keys: int, hold: float | None, stall: float) -> dict[str, Any]:
    return {
        "case": case,
        "contender": variant,
        "role": "sweepcache" if variant.startswith("sweepcache") else "baseline",
        "keys": keys,
        "lock_hold_s": hold,
        "stall_s": stall,
    }


def _compaction(keys: int, shards: int) -> list[dict[str, Any]]:
    clock = FakeClock(1000.0)
    cache: sweepcache.Cache[int, int] = sweepcache.Cache(shards=shards, clock=clock)
    for key in range(keys):
        cache.set_nowait(key, key, ttl=100.0)  # one bucket per shard
    locks = _instrument(cache)
    slowest = 0.0
    with _gc_off():
        for key in range(0, keys, 2):  # half the keys, then some: compaction runs
            start = perf_counter()
            cache.delete_nowait(key)
            slowest = max(slowest, perf_counter() - start)
        for key in range(1, keys // 4, 2):
            start = perf_counter()
            cache.delete_nowait(key)
            slowest = max(slowest, perf_counter() - start)
    rows = [
        _row(
            f"delete compacting a bucket, {shards} shard{'s' if shards > 1 else ''}",
            "sweepcache delete_nowait",
            keys,
            _longest_hold(locks),
            slowest,
        )
    ]
    # Baseline: the whole bucket rebuilt in one go (what one delete used to do).
    bucket_keys = list(range(keys // shards))
    data = dict.fromkeys(bucket_keys)
    with _gc_off():
        start = perf_counter()
        rebuilt = [key for key in dict.fromkeys(bucket_keys) if key in data]
        naive = perf_counter() - start
    del rebuilt
    rows.append(
        _row(
            f"delete compacting a bucket, {shards} shard{'s' if shards > 1 else ''}",
            "naive: rebuild the bucket in one go",
            keys,
            naive,
            naive,
        )
    )
    return rows


def _costly_values(count: int, size: int) -> list[list[object]]:
    return [[object() for _ in range(size)] for _ in range(count)]


def _costly_frees(count: int, size: int) -> list[dict[str, Any]]:
    clock = FakeClock(1000.0)
    cache: sweepcache.Cache[int, Any] = sweepcache.Cache(shards=1, clock=clock)
    for key, value in enumerate(_costly_values(count, size)):
        cache.set_nowait(key, value, ttl=1.0)
    locks = _instrument(cache)
    clock.advance(5.0)
    with _gc_off():
        _, stall = anyio.run(_with_heartbeat, cache.sweep)
    case = f"sweep of {count} expired values of {size:,} objects each"
    rows = [_row(case, "sweepcache sweep()", count, _longest_hold(locks), stall)]
    values = _costly_values(count, size)
    with _gc_off():
        start = perf_counter()
        values.clear()
        naive = perf_counter() - start
    rows.append(_row(case, "naive: free them in one go", count, naive, naive))
    return rows


def _filled(keys: int) -> sweepcache.Cache[int, Any]:
    cache: sweepcache.Cache[int, Any] = sweepcache.Cache(clock=FakeClock(1000.0))
    cache.set_many_nowait({key: [key] for key in range(keys)}, ttl=100.0)
    return cache


def _clear(keys: int) -> list[dict[str, Any]]:
    rows = []
    cache = _filled(keys)
    locks = _instrument(cache)
    with _gc_off():
        _, stall = anyio.run(_with_heartbeat, cache.clear)
    rows.append(_row("clear", "sweepcache await clear()", keys, _longest_hold(locks), stall))
    cache = _filled(keys)
    locks = _instrument(cache)
    with _gc_off():
        start = perf_counter()
        cache.clear_nowait()
        duration = perf_counter() - start
    rows.append(_row("clear", "sweepcache clear_nowait()", keys, _longest_hold(locks), duration))
    data = {key: [key] for key in range(keys)}
    with _gc_off():
        start = perf_counter()
        data.clear()
        naive = perf_counter() - start
    rows.append(_row("clear", "naive: dict.clear() under the lock", keys, naive, naive))
    return rows


def _tagged(keys: int) -> sweepcache.Cache[int, Any]:
    cache: sweepcache.Cache[int, Any] = sweepcache.Cache(clock=FakeClock(1000.0))
    cache.set_many_nowait({key: [key] for key in range(keys)}, ttl=100.0, tags=("all",))
    return cache


def _invalidate(keys: int) -> list[dict[str, Any]]:
    rows = []
    case = f"invalidate one tag on {keys:,} entries"
    cache = _tagged(keys)
    locks = _instrument(cache)

    async def invalidate() -> None:
        await cache.invalidate_tags("all")

    with _gc_off():
        _, stall = anyio.run(_with_heartbeat, invalidate)
    rows.append(_row(case, "sweepcache await invalidate_tags()", keys, _longest_hold(locks), stall))
    cache = _tagged(keys)
    locks = _instrument(cache)
    with _gc_off():
        start = perf_counter()
        cache.invalidate_tags_nowait("all")
        duration = perf_counter() - start
    rows.append(
        _row(case, "sweepcache invalidate_tags_nowait()", keys, _longest_hold(locks), duration)
    )
    data = {key: [key] for key in range(keys)}
    members = set(data)
    with _gc_off():
        start = perf_counter()
        for key in members:
            del data[key]
        naive = perf_counter() - start
    rows.append(_row(case, "naive: delete every member in one go", keys, naive, naive))
    return rows


class _gc_off:
    """Collect first, keep the cyclic GC off: a collection is not the cache's stall."""

    def __enter__(self) -> None:
        gc.collect()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        gc.enable()


def run(config: Config, progress: Progress) -> dict[str, Any]:
    """Measure every case, three times (once for smoke), median of the runs."""
    compaction_keys = config.pick(smoke=20_000, quick=200_000, full=1_000_000)
    bulk_keys = config.pick(smoke=10_000, quick=100_000, full=500_000)
    value_size = config.pick(smoke=2_000, quick=20_000, full=20_000)
    repeats = config.pick(smoke=1, quick=1, full=3)
    cases: list[Callable[[], list[dict[str, Any]]]] = [
        lambda: _compaction(compaction_keys, 1),
        lambda: _compaction(compaction_keys, 16),
        lambda: _costly_frees(256, value_size),
        lambda: _clear(bulk_keys),
        lambda: _invalidate(bulk_keys),
    ]
    progress.start(NAME, len(cases) * repeats)
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(repeats):
        for case in cases:
            for row in case():
                runs.setdefault((row["case"], row["contender"]), []).append(row)
            progress.step("")
    progress.finish()
    rows = []
    for samples in runs.values():
        row = dict(samples[0])
        for field in ("lock_hold_s", "stall_s"):
            values = [sample[field] for sample in samples if sample[field] is not None]
            row[field] = summarize(values)["median"] if values else None
            row[f"{field}_max"] = max(values) if values else None
        rows.append(row)
    targets = []
    for row in rows:
        if row["role"] != "sweepcache":
            continue
        nowait = "_nowait" in row["contender"]
        value = row["lock_hold_s"] if nowait else max(row["lock_hold_s"] or 0, row["stall_s"])
        targets.append(
            {
                "target": f"{row['case']}: {row['contender']} "
                + ("longest lock hold" if nowait else "longest lock hold and loop stall")
                + " <= 2 ms",
                "value": value,
                "display": f"{value * 1e3:.2f} ms",
                "met": value <= BUDGET_S,
            }
        )
    return {
        "suite": NAME,
        "title": TITLE,
        "parameters": {
            "compaction_keys": compaction_keys,
            "bulk_keys": bulk_keys,
            "value_objects": value_size,
            "repeats": repeats,
        },
        "rows": rows,
        "targets": targets,
        "summary": [],
        "notes": [
            "A *_nowait operation blocks its caller for its whole duration (stall column): "
            "clear_nowait and invalidate_tags_nowait are documented as O(entries); in an "
            "event loop use await clear() / await invalidate_tags(), which work in slices.",
        ],
    }


def table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The suite's Markdown table: one row per case and variant."""
    headers = ["case", "variant", "longest lock hold (ms)", "longest stall (ms)", "worst run"]
    rows = []
    for row in result["rows"]:
        hold = row["lock_hold_s"]
        rows.append(
            [
                row["case"],
                row["contender"],
                "n/a (no lock)" if hold is None else f"{hold * 1e3:.3f}",
                f"{row['stall_s'] * 1e3:.3f}",
                f"{row['stall_s_max'] * 1e3:.3f}",
            ]
        )
    return headers, rows


def plot(pyplot: Any, result: dict[str, Any]) -> Any:
    """Horizontal bars per case: sweepcache's longest lock hold and stall beside the baseline."""
    ticker = optional_import("matplotlib.ticker")
    rows = result["rows"]
    cases = list(dict.fromkeys(row["case"] for row in rows))
    figure, axes = pyplot.subplots(
        len(cases), 1, figsize=(10, 1.3 * len(rows) + 1.5), squeeze=False
    )
    for axis, case in zip((row[0] for row in axes), cases, strict=True):
        mine = [row for row in rows if row["case"] == case]
        labels = [row["contender"] for row in mine]
        stalls = [max(row["stall_s"], 1e-6) * 1e3 for row in mine]
        holds = [max(row["lock_hold_s"] or 1e-6, 1e-6) * 1e3 for row in mine]
        positions = range(len(mine))
        axis.barh(
            [p + 0.2 for p in positions],
            stalls,
            height=0.4,
            color="tab:blue",
            label="longest loop stall (caller's, for sync calls)",
        )
        axis.barh(
            [p - 0.2 for p in positions],
            holds,
            height=0.4,
            color="tab:orange",
            label="longest lock hold",
        )
        axis.axvline(BUDGET_S * 1e3, color="red", linestyle="--", label="2 ms budget")
        axis.set_yticks(list(positions))
        axis.set_yticklabels(labels, fontsize="small")
        axis.set_xscale("log")
        axis.set_xlim(left=0.01)  # one origin for every panel: bars compare across cases
        axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_title(case, fontsize="medium")
        axis.set_xlabel("ms (log scale)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize="small")
    figure.suptitle(TITLE)
    figure.tight_layout(rect=(0, 0.04, 1, 0.97))
    return figure
