"""Suite 5, the sweeper under traffic: event-loop stalls and time to reclaim.

Checks the project's sweeper target: with 1M keys, half expiring, the
longest event-loop stall <= 2 ms, and every expired key reclaimed within 2
sweep intervals.

A cache is filled with N keys while its clock is held still, half with a
0.5 s TTL and half with an hour, so the short half all expire at one instant
(the worst case for a sweeper). The clock is then released to follow real
time, and three tasks run: a steady request load (50 reads, 10% of them
writes, every millisecond), a heartbeat (``anyio.sleep(0.001)`` in a loop,
recording how late it wakes: the event-loop stall) and the reclaimer under
test, every ``sweep_interval`` (0.5 s):

* ``sweepcache sweeper``: ``await cache.sweep()`` each interval, as
  ``run_sweeper`` does (bounded slices, a checkpoint every quarter millisecond);
* ``naive full scan``: one pass over the whole dict per interval, deleting
  the expired keys, with no slicing (what cashews' scanner does);
* ``lazy only (seed)``: no reclaimer; expired keys leave only when read.

Each variant runs three times (once in QUICK), interleaved with the others;
a row shows the median run, and the longest stall also its min-max over the
runs, because a single maximum is at the mercy of the rest of the machine.
Reports the longest and p99 heartbeat lateness, the time from the expiry
instant until every expired key is gone (or how many are left), and the
reclaimer's busy share of the window (wall time inside its passes, the
traffic served between slices included: an upper bound on its CPU share).
"""

from __future__ import annotations

import gc
import random
import statistics
from time import monotonic, perf_counter
from typing import Any

import anyio

import sweepcache

from ._harness import Backend, Config, Progress, backends, na, percentile

NAME = "sweeper"
TITLE = "Sweeper under traffic: longest loop stall and time to reclaim"
LONG_TTL = 3600.0
#: Sweep interval, and the short keys' TTL (smoke runs use a tenth).
INTERVAL = 0.5
HEARTBEAT = 0.001
VARIANTS = ("sweepcache sweeper", "naive full scan", "lazy only (seed)")


class HeldClock:
    """A clock held still while the cache fills, then following real time from there."""

    __slots__ = ("_base", "_origin")

    def __init__(self, base: float = 1000.0) -> None:
        self._base = base
        self._origin: float | None = None

    def __call__(self) -> float:
        origin = self._origin
        return self._base if origin is None else self._base + (monotonic() - origin)

    def release(self) -> None:
        """Start following real time."""
        self._origin = monotonic()


class _Store:
    """One variant's data plus its read, write and reclaim operations."""

    def __init__(self, variant: str, clock: HeldClock, interval: float) -> None:
        self.variant = variant
        self.interval = interval
        self.clock = clock
        self.cache: sweepcache.Cache[str, int] | None = None
        self.data: dict[str, tuple[int, float]] = {}
        if variant == "sweepcache sweeper":
            self.cache = sweepcache.Cache(default_ttl=None, sweep_interval=interval, clock=clock)

    def fill(self, size: int) -> None:
        now = self.clock()
        half = size // 2
        if self.cache is not None:
            put = self.cache.set_nowait
            for i in range(half):
                put(f"short:{i}", i, self.interval)
            for i in range(size - half):
                put(f"long:{i}", i, LONG_TTL)
        else:
            data = self.data
            for i in range(half):
                data[f"short:{i}"] = (i, now + self.interval)
            for i in range(size - half):
                data[f"long:{i}"] = (i, now + LONG_TTL)

    def __len__(self) -> int:
        return len(self.cache) if self.cache is not None else len(self.data)

    def get(self, key: str) -> int | None:
        if self.cache is not None:
            return self.cache.get_nowait(key)
        entry = self.data.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():  # the seed's lazy expiry
            self.data.pop(key, None)
            return None
        return entry[0]

    def set(self, key: str, value: int) -> None:
        if self.cache is not None:
            self.cache.set_nowait(key, value, LONG_TTL)
        else:
            self.data[key] = (value, self.clock() + LONG_TTL)

    async def reclaim(self) -> int:
        if self.cache is not None:
            return await self.cache.sweep()
        if self.variant == "naive full scan":
            now = self.clock()
            expired = [key for key, entry in self.data.items() if entry[1] <= now]
            for key in expired:
                del self.data[key]
            return len(expired)
        return 0


async def _one_run(variant: str, size: int, interval: float) -> dict[str, Any]:
    clock = HeldClock()
    store = _Store(variant, clock, interval)
    fill_start = perf_counter()
    store.fill(size)
    fill_s = perf_counter() - fill_start
    live = size - size // 2
    rng = random.Random(3)
    read_keys = [
        f"short:{i}" if rng.random() < 0.5 else f"long:{i}"
        for i in (rng.randrange(size // 2) for _ in range(10_000))
    ]
    lateness: list[float] = []
    passes: list[float] = []
    result: dict[str, Any] = {"fill_s": fill_s}
    # Move the filled cache out of the GC's sight (as gc.freeze() does for a
    # preloaded service): a full collection over N entries is a stall of its
    # own that no reclaimer causes (the lazy-only row shows what is left).
    gc.collect()
    gc.freeze()
    try:
        window = await _window(store, clock, variant, live, read_keys, lateness, passes, result)
    finally:
        gc.unfreeze()
    lateness = lateness[1:]  # the first wake-up includes the tasks' start
    lateness.sort()
    result.update(
        {
            "window_s": window,
            "stall_max_s": lateness[-1] if lateness else float("nan"),
            "stall_p99_s": percentile(lateness, 0.99),
            "heartbeats": len(lateness),
            "passes": len(passes),
            "longest_pass_s": max(passes, default=0.0),
            "busy_share": sum(passes) / window,
            "left_expired": max(0, len(store) - live),
        }
    )
    return result


async def _window(
    store: _Store,
    clock: HeldClock,
    variant: str,
    live: int,
    read_keys: list[str],
    lateness: list[float],
    passes: list[float],
    result: dict[str, Any],
) -> float:
    """Release the clock, run heartbeat, load and reclaimer; return the window's length."""
    interval = store.interval
    deadline = interval + (5 if variant != "lazy only (seed)" else 2) * interval

    async def heartbeat() -> None:
        while True:
            start = perf_counter()
            await anyio.sleep(HEARTBEAT)
            lateness.append(perf_counter() - start - HEARTBEAT)

    async def load() -> None:
        position = 0
        while True:
            for _ in range(50):
                key = read_keys[position]
                position = (position + 1) % len(read_keys)
                if position % 10 == 0:
                    store.set(key.replace("short:", "long:"), position)
                else:
                    store.get(key)
            await anyio.sleep(0.001)

    async def reclaimer() -> None:
        if variant == "lazy only (seed)":
            return
        while True:
            await anyio.sleep(interval)
            start = perf_counter()
            await store.reclaim()
            passes.append(perf_counter() - start)

    async with anyio.create_task_group() as tg:
        clock.release()
        started = perf_counter()
        tg.start_soon(heartbeat)
        tg.start_soon(load)
        tg.start_soon(reclaimer)
        expiry_at = started + interval
        while perf_counter() - started < deadline:
            await anyio.sleep(0.005)
            if perf_counter() >= expiry_at and len(store) <= live:
                result["reclaim_s"] = perf_counter() - expiry_at
                await anyio.sleep(0.1)  # a little traffic after the last reclaim
                break
        window = perf_counter() - started
        tg.cancel_scope.cancel()
    return window


def run(config: Config, progress: Progress) -> dict[str, Any]:
    """Run every variant at every size (sweepcache also on trio, largest size)."""
    sizes = config.pick(smoke=[2_000], quick=[100_000], full=[100_000, 1_000_000])
    interval = config.pick(smoke=INTERVAL / 10, quick=INTERVAL, full=INTERVAL)
    if config.huge and config.scale == "full":
        sizes.append(10_000_000)
    by_name = {b.name: b for b in backends()}
    plan: list[tuple[Backend, str, int]] = [
        (by_name["asyncio"], variant, size) for size in sizes for variant in VARIANTS
    ]
    if "trio" in by_name:
        plan.append((by_name["trio"], "sweepcache sweeper", sizes[-1]))
    repeats = config.pick(smoke=1, quick=1, full=3)
    progress.start(NAME, repeats * len(plan))
    # Repeats are interleaved across variants, so that a burst of noise from
    # the rest of the machine (the lazy-only row shows its size) spreads over
    # all of them; each row reports the median run and the spread of maxima.
    runs: list[list[dict[str, Any]]] = [[] for _ in plan]
    for repeat in range(repeats):
        for index, (backend, variant, size) in enumerate(plan):
            runs[index].append(backend.run(_one_run, variant, size, interval))
            progress.step(f"{backend.name} {variant} {size:,} keys, run {repeat + 1}/{repeats}")
    rows: list[dict[str, Any]] = []
    for (backend, variant, size), measured in zip(plan, runs, strict=True):
        rows.append(
            {
                "backend": backend.name,
                "contender": variant,
                "role": "sweepcache" if variant.startswith("sweepcache") else "seed",
                "keys": size,
                **_median_run(measured),
            }
        )
    if "trio" not in by_name:
        rows.append(
            {"backend": "trio", "contender": "sweepcache sweeper", "na": na("trio not installed")}
        )
    progress.finish()
    return {
        "suite": NAME,
        "title": TITLE,
        "parameters": {
            "sizes": sizes,
            "short_ttl_s": interval,
            "sweep_interval_s": interval,
            "heartbeat_s": HEARTBEAT,
            "load": "50 ops (10% writes) per ms",
        },
        "rows": rows,
        "targets": _targets(rows, interval),
        "summary": _summary(rows),
        "notes": [
            "10M keys: not run by default (filling takes ~15 s per variant and the "
            "naive scan alone stalls the loop for seconds, past the 10-minute budget); "
            "`python -m bench --huge sweeper` adds it.",
            "Stall = how late a 1 ms heartbeat sleep wakes; the lazy-only row is the "
            "baseline the load itself causes.",
            "Peers' own reclaimers (cashews' per-second full scan, aiocache's per-key "
            "timers, theine's wheel thread) are not run here; 'naive full scan' is the "
            "cashews pattern.",
        ],
    }


def _median_run(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every figure over the repeats, plus the spread of the longest stalls."""
    combined: dict[str, Any] = {"repeats": len(measured)}
    for name in measured[0].keys() | measured[-1].keys():
        values = [run.get(name) for run in measured]
        if all(isinstance(value, (int, float)) for value in values):
            combined[name] = statistics.median(values)  # type: ignore[type-var]
        # A figure missing from some run (``reclaim_s`` when a run never
        # finished reclaiming) is left out: the row then says "never".
    stalls = [run["stall_max_s"] for run in measured]
    combined["stall_max_range_s"] = [min(stalls), max(stalls)]
    return combined


def _pick(rows: list[dict[str, Any]], backend: str, variant: str) -> dict[str, Any] | None:
    matching = [
        row
        for row in rows
        if row["backend"] == backend and row["contender"] == variant and "na" not in row
    ]
    return max(matching, key=lambda row: row["keys"], default=None)


def _targets(rows: list[dict[str, Any]], interval: float) -> list[dict[str, Any]]:
    found = []
    for row in rows:
        if row["contender"] != "sweepcache sweeper" or "na" in row:
            continue
        where = f"{row['backend']}, {row['keys']:,} keys"
        stall = row["stall_max_s"]
        found.append(
            {
                "target": f"sweeper: longest loop stall <= 2 ms ({where})",
                "measured": stall,
                "display": f"{stall * 1e3:.2f} ms",
                "met": stall <= 0.002,
            }
        )
        reclaim = row.get("reclaim_s")
        found.append(
            {
                "target": f"sweeper: all expired keys reclaimed within 2 intervals ({where})",
                "measured": reclaim,
                "display": (
                    f"{reclaim:.2f} s = {reclaim / interval:.2f} intervals"
                    if reclaim is not None
                    else f"not done ({row['left_expired']:,} left)"
                ),
                "met": reclaim is not None and reclaim <= 2 * interval,
            }
        )
    return found


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    mine = _pick(rows, "asyncio", "sweepcache sweeper")
    naive = _pick(rows, "asyncio", "naive full scan")
    lazy = _pick(rows, "asyncio", "lazy only (seed)")
    if mine is None:
        return []
    keys = f"{mine['keys']:,} keys"
    return [
        {
            "metric": f"longest loop stall [asyncio, {keys}]",
            "unit": "s",
            "lower_is_better": True,
            "sweepcache": mine["stall_max_s"],
            "floor": None if lazy is None else lazy["stall_max_s"],
            "floor_name": "no reclaimer (lazy only)",
            "seed": None if naive is None else naive["stall_max_s"],
            "seed_name": "naive full scan",
            "best_peer": None,
            "best_peer_name": None,
        },
        {
            "metric": f"time to reclaim every expired key [asyncio, {keys}]",
            "unit": "s",
            "lower_is_better": True,
            "sweepcache": mine.get("reclaim_s"),
            "floor": None,
            "seed": None if lazy is None else lazy.get("reclaim_s"),
            "seed_na": "never (lazy only)",
            "best_peer": None if naive is None else naive.get("reclaim_s"),
            "best_peer_name": "naive full scan",
        },
    ]
