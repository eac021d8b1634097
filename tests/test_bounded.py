"""``Cache(maxsize=...)``: the bound, the weigher, expired entries first, removal events."""

from __future__ import annotations

import functools
import random
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from index_checks import assert_index_consistent, entries
from sweepcache import Cache, RemovalCause, cached
from sweepcache.compat import AsyncInMemoryCache

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio

SIZE, EXPIRED = RemovalCause.SIZE, RemovalCause.EXPIRED


class Events:
    """A removal listener recording every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any, RemovalCause]] = []

    def __call__(self, key: Any, value: Any, cause: RemovalCause) -> None:
        self.calls.append((key, value, cause))

    def causes(self) -> Counter[RemovalCause]:
        return Counter(cause for _, _, cause in self.calls)


@pytest.mark.parametrize("maxsize", [0, 1, 3, 100, 5_000])
async def test_the_bound_holds_after_every_write(clock: FakeClock, maxsize: int) -> None:
    events = Events()
    cache: Cache[int, int] = Cache(maxsize=maxsize, clock=clock, on_removal=events)
    for key in range(3 * maxsize + 10):
        await cache.set(key, key)
        assert len(cache) <= maxsize
        assert cache.weight <= maxsize
    stored = set(entries(cache))
    evicted = {key for key, _, cause in events.calls if cause is SIZE}
    assert stored | evicted == set(range(3 * maxsize + 10))
    assert not stored & evicted
    assert events.causes() == {SIZE: 3 * maxsize + 10 - len(stored)} or maxsize == 0
    assert_index_consistent(cache)


def test_uniform_keys_fill_at_least_95_percent(clock: FakeClock) -> None:
    cache: Cache[int, int] = Cache(maxsize=20_000, clock=clock)
    assert cache.shards > 1  # the budget is split by key hash
    rng = random.Random(3)
    for _ in range(100_000):
        cache.set_nowait(rng.randrange(10**9), 1)
    assert 0.95 * 20_000 <= len(cache) <= 20_000


def test_default_shards_keep_1250_entries_each() -> None:
    assert Cache(maxsize=100).shards == 1
    assert Cache(maxsize=2_500).shards == 2
    assert Cache(maxsize=10**6).shards == 16
    assert Cache(maxsize=10**6, weigher=lambda key, value: 1).shards == 1
    assert Cache(maxsize=100, shards=4).shards == 4  # explicit: honoured
    assert Cache().shards == 16


async def test_weigher_bounds_the_total_weight(clock: FakeClock) -> None:
    events = Events()
    cache: Cache[str, str] = Cache(
        maxsize=100, weigher=lambda key, value: len(value), clock=clock, on_removal=events
    )
    for index in range(50):
        await cache.set(f"k{index}", "x" * (index % 30))
        assert cache.weight <= 100
    await cache.set("heavy", "x" * 101)  # heavier than maxsize: not stored, never an error
    assert "heavy" not in cache
    assert ("heavy", "x" * 101, SIZE) in events.calls
    await cache.set("zero", "")  # weight 0 always fits
    assert "zero" in cache
    stats_weight = sum(len(entry[0]) for entry in entries(cache).values())
    assert cache.weight == stats_weight


@pytest.mark.parametrize(
    ("weigher", "error", "message"),
    [
        (lambda key, value: -1, ValueError, "negative weight"),
        (lambda key, value: 1.5, TypeError, "must return an int"),
        (lambda key, value: True, TypeError, "must return an int"),
        (lambda key, value: 1 // 0, ValueError, "the weigher failed"),
    ],
)
async def test_a_bad_weight_changes_nothing(
    clock: FakeClock, weigher: Any, error: type[Exception], message: str
) -> None:
    ok = {"calls": 0}

    def weigh(key: str, value: str) -> int:
        if key == "good":
            ok["calls"] += 1
            return 1
        result: int = weigher(key, value)
        return result

    cache: Cache[str, str] = Cache(maxsize=10, weigher=weigh, clock=clock)
    await cache.set("good", "v")
    with pytest.raises(error, match=message):
        await cache.set("bad", "v")
    with pytest.raises(error, match=message):
        await cache.set_many({"good": "w", "bad": "v"})
    assert await cache.get("good") == "v"  # set_many changed nothing either
    assert "bad" not in cache
    assert len(cache) == 1


def test_weigher_without_maxsize_is_refused() -> None:
    with pytest.raises(ValueError, match="weigher needs maxsize"):
        Cache(weigher=lambda key, value: 1)
    with pytest.raises(TypeError, match="maxsize must be an int"):
        Cache(maxsize=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maxsize must be >= 0"):
        Cache(maxsize=-1)


@pytest.mark.parametrize("expiry", ["due bucket", "at the instant"])
async def test_expired_entries_go_before_any_live_one(clock: FakeClock, expiry: str) -> None:
    events = Events()
    cache: Cache[str, int] = Cache(maxsize=3, clock=clock, on_removal=events)
    await cache.set("old", 0, ttl=1)
    await cache.set("a", 1, ttl=100)
    await cache.set("b", 2, ttl=100)
    clock.advance(5 if expiry == "due bucket" else 1)
    await cache.set("c", 3, ttl=100)
    assert events.calls == [("old", 0, EXPIRED)]
    assert [await cache.get(key) for key in "abc"] == [1, 2, 3]


async def test_get_or_load_cached_set_many_and_compat_respect_the_bound(
    clock: FakeClock,
) -> None:
    cache: Cache[Any, Any] = Cache(maxsize=50, clock=clock)

    async def load(key: int) -> int:
        return key

    for key in range(200):
        await cache.get_or_load(("loaded", key), functools.partial(load, key))
        assert len(cache) <= 50

    @cached(cache)
    async def square(x: int) -> int:
        return x * x

    for x in range(200):
        assert await square(x) == x * x
        assert len(cache) <= 50
    await cache.set_many({("many", key): key for key in range(200)})
    assert len(cache) <= 50
    compat: AsyncInMemoryCache[int, int] = AsyncInMemoryCache(clock=clock, maxsize=20)
    for key in range(100):
        await compat.set(key, key)
    assert len(compat.cache) <= 20


async def test_reads_count_for_the_policy(clock: FakeClock) -> None:
    """A key read often survives a stream of keys read once (frequency, not recency)."""
    cache: Cache[Any, int] = Cache(maxsize=100, clock=clock)
    await cache.set("hot", 1)
    for _ in range(50):
        assert await cache.get("hot") == 1
    for key in range(5_000):
        await cache.set(key, key)
        if key % 10 == 0:
            assert await cache.get("hot") == 1, key


async def test_listener_on_eviction_may_reenter_and_raise(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []

    def on_removal(key: Any, value: Any, cause: RemovalCause) -> None:
        seen.append(key)
        assert not any(shard.lock.locked() for shard in cache._shards)
        cache.get_nowait(key)
        if isinstance(key, int) and key % 2:
            raise RuntimeError("listener failed")

    cache: Cache[Any, int] = Cache(maxsize=10, clock=clock, on_removal=on_removal)
    for key in range(100):
        await cache.set(key, key)
    assert len(seen) == 90
    assert "listener failed" in caplog.text
    assert len(cache) == 10


async def test_stats_count_size_evictions(clock: FakeClock) -> None:
    cache: Cache[str, str] = Cache(
        maxsize=30, weigher=lambda key, value: len(value), clock=clock, record_stats=True
    )
    for index in range(20):
        await cache.set(f"k{index}", "xyz")
    stats = cache.stats()
    assert stats.size_evictions == 10
    assert stats.size_evicted_weight == 30
    assert stats.weight == cache.weight == 30
    assert stats.entries == 10


async def test_tags_leave_with_evicted_entries(clock: FakeClock) -> None:
    cache: Cache[int, int] = Cache(maxsize=10, clock=clock)
    for key in range(100):
        await cache.set(key, key, tags=[f"t{key % 3}", "all"])
    members = sum(len(keys) for shard in cache._shards for keys in shard.tag_index.values())
    assert members == 2 * len(cache) == 20
    assert await cache.invalidate_tags("all") == 10
    assert all(not shard.tag_index for shard in cache._shards)


def test_threads_hammer_a_bounded_cache_with_the_sweeper() -> None:
    events: Counter[RemovalCause] = Counter()
    lock = threading.Lock()
    written = Counter[str]()

    def on_removal(key: Any, value: Any, cause: RemovalCause) -> None:
        with lock:
            events[cause] += 1

    cache: Cache[int, int] = Cache(
        maxsize=500, shards=4, default_ttl=0.05, sweep_interval=0.01, on_removal=on_removal
    )
    errors: list[BaseException] = []
    over: list[int] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(20_000):
                key = rng.randrange(2_000)
                cache.set_nowait(key, seed)
                with lock:
                    written["set"] += 1
                if len(cache) > 500:
                    over.append(len(cache))
                cache.get_nowait(rng.randrange(2_000))
                if rng.random() < 0.05:
                    cache.delete_nowait(rng.randrange(2_000))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    async def main() -> None:
        async with cache:
            await anyio.to_thread.run_sync(_run_threads, worker)

    anyio.run(main)
    assert not errors
    assert not over
    cache.clear_nowait()
    # Every value written left exactly once: by eviction, expiry, deletion or replacement.
    assert sum(events.values()) == written["set"]


def _run_threads(worker: Any) -> None:
    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
