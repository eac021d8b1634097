"""The background sweeper and ``sweep()``: reclaiming, slicing, lifecycle, failures.

Expiry moves with a ``FakeClock``; the sweeper's *schedule* is real time, so
tests that wait for a background pass use a tiny ``sweep_interval`` and poll
with bare checkpoints under ``anyio.fail_after`` (no sleeping for expiry).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from anyio.lowlevel import checkpoint

from sweepcache import Cache
from sweepcache.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.anyio

TICK = 0.001  # real seconds between background passes in these tests


async def wait_for(condition: Callable[[], object]) -> None:
    """Let background tasks (the sweeper) run until ``condition()`` holds.

    Polling is the point here: the sweeper has no event to wait on, and its
    schedule is real time (``TICK``); expiry itself moved with the fake clock.
    """
    with anyio.fail_after(5):
        while not condition():
            await checkpoint()


async def wait_until_empty(cache: Cache[Any, Any]) -> None:
    """Let the background sweeper run until the cache holds nothing."""
    await wait_for(lambda: not len(cache))


def task_names() -> set[str | None]:
    return {task.name for task in anyio.get_running_tasks()}


async def test_sweep_returns_reclaimed_count(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set_many({f"a{i}": i for i in range(10)}, ttl=1)
    await cache.set_many({f"b{i}": i for i in range(5)}, ttl=100)
    await cache.set("never", 0, ttl=None)
    assert await cache.sweep() == 0
    clock.advance(1)
    assert await cache.sweep() == 10
    assert await cache.sweep() == 0
    assert len(cache) == 6
    clock.advance(99)
    assert await cache.sweep() == 5
    assert len(cache) == 1


async def test_sweep_reclaims_within_the_current_bucket(clock: FakeClock) -> None:
    # 0.1 s < one bucket (sweep_interval / 4): the key's bucket is not yet
    # fully due when the pass runs, and the pass must still reclaim it.
    cache: Cache[str, int] = Cache(clock=clock, sweep_interval=10)
    await cache.set("short", 1, ttl=0.1)
    await cache.set("long", 2, ttl=1.0)
    clock.advance(0.1)
    assert await cache.sweep() == 1
    assert await cache.get("long") == 2


async def test_sweep_skips_overwritten_and_deleted_keys(
    cache: Cache[str, int], clock: FakeClock
) -> None:
    await cache.set_many({"moved": 1, "deleted": 2, "kept": 3}, ttl=1)
    await cache.set("moved", 10, ttl=100)
    await cache.delete("deleted")
    clock.advance(1)
    assert await cache.sweep() == 1  # only "kept", now expired
    assert await cache.get("moved") == 10


async def test_background_sweeper_reclaims_unread_entries(clock: FakeClock) -> None:
    async with Cache[str, int](clock=clock, sweep_interval=TICK) as cache:
        await cache.set_many({f"k{i}": i for i in range(1000)}, ttl=5)
        await cache.set("survivor", 1, ttl=None)
        clock.advance(5)
        await wait_for(lambda: len(cache) == 1)
        assert await cache.get("survivor") == 1


async def test_run_sweeper_in_own_task_group(clock: FakeClock) -> None:
    cache: Cache[str, int] = Cache(clock=clock, sweep_interval=TICK)
    async with anyio.create_task_group() as tg:
        await tg.start(cache.run_sweeper)
        await cache.set("k", 1, ttl=1)
        clock.advance(1)
        await wait_until_empty(cache)
        tg.cancel_scope.cancel()


async def test_async_with_leaves_no_task_behind(clock: FakeClock) -> None:
    before = task_names()
    async with Cache[str, int](clock=clock, sweep_interval=TICK) as cache:
        assert len(task_names()) == len(before) + 1
        await cache.set("k", 1)
    assert task_names() == before


async def test_async_with_propagates_body_exception_unwrapped(clock: FakeClock) -> None:
    before = task_names()
    with pytest.raises(LookupError, match="from the body"):
        async with Cache[str, int](clock=clock):
            raise LookupError("from the body")
    assert task_names() == before


async def test_async_with_is_not_reentrant_but_reusable(clock: FakeClock) -> None:
    cache: Cache[str, int] = Cache(clock=clock, sweep_interval=TICK)
    async with cache:
        with pytest.raises(RuntimeError, match="already running"):
            async with cache:
                pass  # pragma: no cover
    async with cache:  # a fresh task group after the first one closed
        await cache.set("k", 1, ttl=1)
        clock.advance(1)
        await wait_until_empty(cache)


async def test_outer_cancellation_stops_cleanly(clock: FakeClock) -> None:
    before = task_names()
    with anyio.move_on_after(0) as scope:
        async with Cache[str, int](clock=clock, sweep_interval=TICK):
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert task_names() == before


async def test_sweeper_failure_is_logged_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeClock(start=1000.0)
    failing = False

    def clock() -> float:
        if failing:
            raise OSError("clock source unavailable")
        return fake()

    caplog.set_level(logging.ERROR, logger="sweepcache")
    async with Cache[str, int](clock=clock, sweep_interval=TICK) as cache:
        await cache.set("k", 1, ttl=1)
        failing = True
        await wait_for(lambda: caplog.records)
        record = caplog.records[0]
        assert record.name == "sweepcache"
        assert "sweep pass failed" in record.getMessage()
        assert record.exc_info is not None
        assert isinstance(record.exc_info[1], OSError)
        # The cache keeps serving while the sweeper backs off...
        failing = False
        assert await cache.get("k") == 1
        # ...and recovers once passes succeed again.
        fake.advance(1)
        await wait_until_empty(cache)


async def test_sweep_raises_directly(clock: FakeClock) -> None:
    def broken() -> float:
        raise OSError("boom")

    cache: Cache[str, int] = Cache(clock=broken)
    with pytest.raises(OSError, match="boom"):
        await cache.sweep()


async def test_sweep_yields_between_slices_without_holding_locks(clock: FakeClock) -> None:
    """A big pass lets other tasks run, and no shard lock is held while it waits."""
    cache: Cache[int, int] = Cache(clock=clock, shards=4)
    for i in range(200_000):
        cache.set_nowait(i, i, ttl=1 + (i % 7))
    clock.advance(10)
    interleaved = 0
    locked_seen = False
    done = False

    async def heartbeat() -> None:
        nonlocal interleaved, locked_seen
        while not done:
            interleaved += 1
            locked_seen |= any(shard.lock.locked() for shard in cache._shards)
            await checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(heartbeat)
        await checkpoint()
        reclaimed = await cache.sweep()
        done = True
    assert reclaimed == 200_000
    assert len(cache) == 0
    assert interleaved > 2  # the pass yielded to the loop more than once
    assert not locked_seen


async def test_sweep_while_writing_keeps_fresh_entries(clock: FakeClock) -> None:
    """Entries written during a pass (between its slices) are never reclaimed early."""
    cache: Cache[int, int] = Cache(clock=clock, shards=2)
    for i in range(50_000):
        cache.set_nowait(i, i, ttl=1)
    clock.advance(1)
    done = False

    async def writer() -> None:
        key = 100_000
        while not done:
            cache.set_nowait(key, key, ttl=60)
            key += 1
            await checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(writer)
        assert await cache.sweep() == 50_000
        done = True
    assert all(cache.get_nowait(key) == key for key in range(100_000, 100_000 + len(cache)))


async def test_writes_reclaim_expired_entries_without_a_sweeper(clock: FakeClock) -> None:
    """Write-once keys (sessions, rate limits) do not pile up when nothing sweeps."""
    cache: Cache[int, int] = Cache(clock=clock, shards=4)
    peak = 0
    for i in range(20_000):
        await cache.set(i, i, ttl=1)
        clock.advance(0.01)  # ~100 keys live at a time
        peak = max(peak, len(cache))
    assert peak < 400


class Key:
    """A key whose freeing a weakref sees."""

    __slots__ = ("__weakref__", "number")

    def __init__(self, number: int) -> None:
        self.number = number


def test_dismantle_frees_old_containers_in_bounded_steps() -> None:
    """What clear() swaps out is taken apart a slice at a time, to the last reference."""
    import weakref
    from collections import deque

    from sweepcache._expiry import Bucket
    from sweepcache._sweeper import DISMANTLE_STEP, dismantle

    keys = [Key(i) for i in range(20_000)]
    alive = [weakref.ref(key) for key in keys]
    bucket: Bucket[Key] = Bucket()
    bucket.keys.extend(keys[:10_000])
    bucket.pending = keys[10_000:15_000]
    bucket.seen = set(keys[10_000:12_000])
    tags = {"all": set(keys), "some": set(keys[:10])}
    policy: tuple[object, ...] = (list(keys), deque(keys), deque(), [])
    garbage: list[object] = [({1.0: bucket, 2.0: Bucket()}, tags), policy]
    del keys, bucket, tags, policy
    steps = sum(1 for _ in dismantle(garbage))
    assert garbage == []
    assert not any(ref() for ref in alive)
    # About one step per DISMANTLE_STEP references, never the whole lot at once.
    assert steps >= 75_000 // DISMANTLE_STEP  # 77,010 references in all


@pytest.mark.parametrize("options", [{}, {"maxsize": 100_000}], ids=["plain", "maxsize"])
async def test_clear_takes_the_old_index_apart_between_checkpoints(
    clock: FakeClock, options: dict[str, Any]
) -> None:
    cache: Cache[int, int] = Cache(clock=clock, shards=1, **options)
    cache.set_many_nowait({key: key for key in range(50_000)}, ttl=10, tags=("all",))
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await checkpoint()

    async with anyio.create_task_group() as group:
        group.start_soon(heartbeat)
        await checkpoint()
        await cache.clear()
        group.cancel_scope.cancel()
    assert len(cache) == 0
    assert beats > 1  # the loop ran other tasks while the old entries went
    cache.set_nowait(1, 1, tags=("all",))
    assert cache.invalidate_tags_nowait("all") == 1
