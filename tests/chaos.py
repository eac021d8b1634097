"""Long-run drivers shared by ``make test`` (short) and ``make reliability`` (long).

* :func:`cancellation_fuzz`: ``get_or_load`` and ``@cached`` under random
  cancellation of leaders and waiters and random invalidation.
* :func:`churn_soak`: set/get/delete churn with the sweeper running, sampling
  memory and size.
"""

from __future__ import annotations

import dataclasses
import gc
import random
from collections import Counter
from time import monotonic, perf_counter
from typing import Any

import anyio
import anyio.lowlevel

from sweepcache import Cache, cached
from sweepcache.testing import FakeClock

KEYS = ("a", "b", "c")


@dataclasses.dataclass
class FuzzReport:
    """What :func:`cancellation_fuzz` saw."""

    runs: int = 0
    calls: int = 0
    cancelled: int = 0
    hangs: int = 0
    stray_cancellations: int = 0
    stale_stores: int = 0
    leftover_loads: int = 0
    loads: Counter[int] = dataclasses.field(default_factory=Counter)  # per (key, generation)
    excess_loads: int = 0

    def line(self, backend: str) -> str:
        """A one-line summary."""
        worst = max(self.loads, default=0)
        return (
            f"{backend}: {self.runs:,} runs, {self.calls:,} calls ({self.cancelled:,} cancelled): "
            f"hangs {self.hangs}, stray cancellations {self.stray_cancellations}, "
            f"stale stores {self.stale_stores}, loads left registered {self.leftover_loads}, "
            f"loads per key and generation: most {worst}, beyond one per cancelled "
            f"leader {self.excess_loads}"
        )


async def _one_fuzz_run(rng: random.Random, report: FuzzReport) -> None:
    clock = FakeClock(1000.0)
    cache: Cache[Any, Any] = Cache(clock=clock, shards=rng.choice([1, 4]))
    generation = dict.fromkeys(KEYS, 0)
    loads: Counter[tuple[Any, int]] = Counter()
    leaders_cancelled: Counter[tuple[Any, int]] = Counter()

    async def loader(key: Any) -> tuple[int, int]:
        seen = generation[key]
        loads[key, seen] += 1
        try:
            for _ in range(rng.randrange(4)):
                await anyio.lowlevel.checkpoint()
        except anyio.get_cancelled_exc_class():
            leaders_cancelled[key, seen] += 1
            raise
        return seen, rng.randrange(10**6)

    @cached(cache)
    async def decorated(key: str) -> tuple[int, int]:
        return await loader(("decorated", key))

    for key in KEYS:
        generation["decorated", key] = 0  # type: ignore[index]

    async def caller(key: str, scope: anyio.CancelScope) -> None:
        report.calls += 1
        with scope:
            try:
                if rng.random() < 0.5:
                    await cache.get_or_load(key, lambda: loader(key))
                else:
                    await decorated(key)
            except anyio.get_cancelled_exc_class():
                if not scope.cancel_called:
                    report.stray_cancellations += 1
                raise
        if scope.cancel_called:
            report.cancelled += 1

    def invalidate() -> None:
        key = rng.choice(KEYS)
        action = rng.randrange(4)
        if action == 0:
            generation[key] += 1
            cache.delete_nowait(key)
        elif action == 1:
            generation["decorated", key] += 1  # type: ignore[index]
            decorated.invalidate(key)
        elif action == 2:
            for every in list(generation):
                generation[every] += 1
            cache.clear_nowait()
        else:
            generation[key] += 1
            cache.set_nowait(key, (generation[key], -1))

    with anyio.move_on_after(10) as deadline:
        async with anyio.create_task_group() as tg:
            scopes = []
            for _ in range(rng.randrange(4, 12)):
                scope = anyio.CancelScope()
                scopes.append(scope)
                tg.start_soon(caller, rng.choice(KEYS), scope)
            for _ in range(rng.randrange(8)):
                await anyio.lowlevel.checkpoint()
                roll = rng.random()
                if roll < 0.4:
                    rng.choice(scopes).cancel()
                elif roll < 0.7:
                    invalidate()
    if deadline.cancelled_caught:
        report.hangs += 1
        return
    report.runs += 1
    if cache._loads:
        report.leftover_loads += 1
    for key in KEYS:
        for stored_key, current in ((key, generation[key]), (decorated.key(key), None)):
            value = cache.get_nowait(stored_key)
            if value is None:
                continue
            if current is None:
                current = generation["decorated", key]  # type: ignore[index]
            if value[0] != current:
                report.stale_stores += 1
    for load_key, count in loads.items():
        report.loads[count] += 1
        report.excess_loads += max(0, count - 1 - leaders_cancelled[load_key])


def cancellation_fuzz(runs: int, seed: int, backend: str, options: dict[str, Any]) -> FuzzReport:
    """``runs`` random runs on ``backend``; a report of what went wrong, if anything."""
    report = FuzzReport()
    rng = random.Random(seed)

    async def main() -> None:
        for _ in range(runs):
            await _one_fuzz_run(rng, report)

    anyio.run(main, backend=backend, backend_options=options)
    return report


@dataclasses.dataclass
class SoakReport:
    """What :func:`churn_soak` saw."""

    seconds: float
    operations: int
    samples: list[tuple[float, int, int]]  # (elapsed, rss bytes, len(cache))
    expired_share_at_end: float

    def drift(self) -> tuple[float, float]:
        """RSS and size growth between the end of warm-up (20%) and the end, in %."""
        warm = self.samples[len(self.samples) // 5 :]
        if len(warm) < 2:
            return 0.0, 0.0
        rss = max(sample[1] for sample in warm[-3:]) / max(1, max(s[1] for s in warm[:3])) - 1
        size = max(sample[2] for sample in warm[-3:]) / max(1, max(s[2] for s in warm[:3])) - 1
        return rss * 100, size * 100

    def line(self, backend: str) -> str:
        """A one-line summary."""
        rss, size = self.drift()
        peak = max(sample[2] for sample in self.samples)
        return (
            f"{backend}: {self.seconds:.0f} s, {self.operations:,} operations; after warm-up "
            f"RSS drift {rss:+.1f}%, size drift {size:+.1f}% (peak {peak:,} entries); "
            f"expired entries still stored at the end: {self.expired_share_at_end:.1%}"
        )


def _rss() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            import os

            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - Linux only figure
        return 0


#: Seconds between two samples of RSS and size (real time: this is a soak).
SAMPLE_EVERY = 0.25
#: TTL of the churned keys, and the sweep interval.
CHURN_TTL = 0.2


def churn_soak(seconds: float, backend: str, options: dict[str, Any]) -> SoakReport:
    """Churn a cache with its sweeper running for ``seconds`` of real time."""
    cache: Cache[Any, Any] = Cache(default_ttl=CHURN_TTL, sweep_interval=CHURN_TTL / 2)
    rng = random.Random(42)
    samples: list[tuple[float, int, int]] = []
    operations = 0
    expired_share = 0.0

    async def main() -> None:
        nonlocal operations, expired_share
        gc.collect()
        async with cache:
            start = perf_counter()
            next_sample = start
            unique = 0
            while (now := perf_counter()) - start < seconds:
                for _ in range(500):
                    roll = rng.random()
                    if roll < 0.4:
                        unique += 1
                        cache.set_nowait(("unique", unique), unique)  # write-once keys
                    elif roll < 0.7:
                        cache.set_nowait(("repeat", rng.randrange(5_000)), roll)
                    elif roll < 0.9:
                        cache.get_nowait(("repeat", rng.randrange(5_000)))
                    else:
                        cache.delete_nowait(("repeat", rng.randrange(5_000)))
                operations += 500
                await anyio.lowlevel.checkpoint()
                if now >= next_sample:
                    samples.append((now - start, _rss(), len(cache)))
                    next_sample = now + SAMPLE_EVERY
            # While the sweeper still runs: how much of what is stored has expired.
            instant = monotonic()
            stored = [entry for data in cache._dicts for entry in data.values()]
            expired = sum(1 for entry in stored if entry[1] <= instant)
            expired_share = expired / max(1, len(stored))
        gc.collect()

    anyio.run(main, backend=backend, backend_options=options)
    return SoakReport(seconds, operations, samples, expired_share)
