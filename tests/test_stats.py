"""``record_stats``: every counter, snapshots and windows, exactness under threads."""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sweepcache import Cache, CacheStats, RemovalCause, cached
from sweepcache.compat import AsyncInMemoryCache

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def counted(clock: FakeClock) -> Cache[Any, Any]:
    return Cache(clock=clock, record_stats=True, name="users")


async def test_reads_count_hits_and_misses(counted: Cache[Any, Any]) -> None:
    cache = counted
    await cache.set("a", 1)
    assert await cache.get("a") == 1
    assert cache.get_nowait("a") == 1
    assert await cache.get("b") is None
    assert cache.get_nowait("b") is None
    assert await cache.get_many(["a", "b", "c"]) == [1, None, None]
    assert "a" in cache  # not counted
    assert cache.ttl_nowait("a") is not None  # not counted
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (3, 4)
    assert stats.requests == 7
    assert stats.hit_ratio == pytest.approx(3 / 7)
    assert stats.miss_ratio == pytest.approx(4 / 7)


async def test_puts_and_removals_by_cause_and_reclaimer(
    counted: Cache[Any, Any], clock: FakeClock
) -> None:
    cache = counted
    await cache.set("a", 1)
    await cache.set("a", 2)  # replaced
    await cache.set_many({"b": 1, "c": 2})
    assert await cache.delete("b")  # explicit
    await cache.set("r", 1, ttl=1)
    await cache.set("s", 1, ttl=1)
    await cache.set("w", 1, ttl=1)
    clock.advance(2)
    assert await cache.get("r") is None  # expired, found by a read
    await cache.set("w", 2)  # expired entry replaced: reclaimed by a write
    assert await cache.sweep() == 1  # s, by the sweeper
    await cache.set("t", 1, tags=["tag"])
    assert await cache.invalidate_tags("tag") == 1  # explicit
    stats = cache.stats()
    assert stats.puts == 9
    assert stats.replacements == 1
    assert stats.explicit_removals == 2
    assert dict(stats.expirations_by) == {"read": 1, "sweeper": 1, "write": 1}
    assert stats.expirations == 3
    assert stats.evictions[RemovalCause.EXPIRED] == 3
    assert stats.evictions[RemovalCause.SIZE] == 0
    assert stats.expired_weight == 3
    assert stats.entries == len(cache) == 3  # a, c, w
    assert stats.weight == 3


async def test_loads_and_refreshes(counted: Cache[Any, Any], clock: FakeClock) -> None:
    cache = counted

    async def load() -> int:
        return 1

    assert await cache.get_or_load("k", load, ttl=10) == 1
    clock.advance(8)
    assert await cache.get_or_load("k", load, ttl=10, refresh_ahead=5) == 1  # refreshed here
    stats = cache.stats()
    assert stats.load_successes == 2
    assert stats.misses == 1
    assert stats.hits == 1
    assert stats.average_load_penalty == pytest.approx(stats.total_load_time / 2)


async def test_cached_functions_count_and_report_cache_info(counted: Cache[Any, Any]) -> None:
    @cached(counted)
    async def double(x: int) -> int:
        return 2 * x

    for x in (1, 1, 2, 1):
        await double(x)
    info = double.cache_info()
    assert (info.hits, info.misses, info.maxsize, info.currsize) == (2, 2, None, 2)
    assert info == (2, 2, None, 2)
    stats = counted.stats()
    assert (stats.hits, stats.misses, stats.load_successes) == (2, 2, 2)
    double.cache_clear()
    assert double.cache_info().currsize == 0


async def test_snapshots_subtract_to_a_window(counted: Cache[Any, Any]) -> None:
    cache = counted
    await cache.set("a", 1)
    await cache.get("a")
    before = cache.stats()
    await cache.get("a")
    await cache.get("b")
    await cache.set("b", 1)
    window = cache.stats() - before
    assert (window.hits, window.misses, window.puts) == (1, 1, 1)
    assert window.entries == 2  # the later snapshot's
    with pytest.raises(dataclasses.FrozenInstanceError):
        window.hits = 5  # type: ignore[misc]
    assert CacheStats().hit_ratio == 1.0
    assert CacheStats().miss_ratio == 0.0
    assert CacheStats().average_load_penalty == 0.0


async def test_without_record_stats_counts_are_zero(cache: Cache[Any, Any]) -> None:
    await cache.set("a", 1)
    await cache.get("a")
    stats = cache.stats()
    assert stats.hits == 0
    assert stats.entries == 1


async def test_name_appears_in_repr(counted: Cache[Any, Any]) -> None:
    assert "name='users'" in repr(counted)
    assert counted.name == "users"


async def test_compat_turns_stats_on(clock: FakeClock) -> None:
    compat: AsyncInMemoryCache[str, int] = AsyncInMemoryCache(
        clock=clock, record_stats=True, name="seed"
    )
    await compat.set("a", 1)
    await compat.get("a")
    await compat.get("b")
    assert compat.cache.stats().hit_ratio == 0.5
    assert "name='seed'" in repr(compat)


def test_counts_are_exact_across_threads(clock: FakeClock) -> None:
    cache: Cache[int, int] = Cache(clock=clock, record_stats=True, shards=8)
    for key in range(100):
        cache.set_nowait(key, key)
    threads, per_thread = 8, 5_000

    def work(seed: int) -> None:
        for index in range(per_thread):
            key = (seed * 7919 + index) % 200  # half the keys exist
            if cache.get_nowait(key) is None:
                cache.set_nowait(key + 1000, index)

    workers = [threading.Thread(target=work, args=(seed,)) for seed in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stats = cache.stats()
    assert stats.hits + stats.misses == threads * per_thread
    assert stats.puts == 100 + stats.misses
    assert stats.replacements == stats.puts - len(cache)


def test_stats_type_is_public() -> None:
    assert CacheStats.__module__ == "sweepcache"
    assert anyio  # imported for the marker
