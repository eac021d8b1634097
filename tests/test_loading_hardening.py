"""Loads that misbehave: stray cancellations, unknown BaseExceptions, loaders waiting on themselves.

Every test runs on asyncio, asyncio+uvloop and trio.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest

from sweepcache import Cache

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio


class Boom(BaseException):
    """An exception no cache code knows about."""


async def raise_stray_cancellation() -> Any:
    """Raise a real cancellation exception outside the scope that made it (a loader bug)."""
    caught: BaseException | None = None
    with anyio.CancelScope() as scope:
        scope.cancel()
        try:
            await anyio.lowlevel.checkpoint()
        except anyio.get_cancelled_exc_class() as exc:
            caught = exc
            raise
    assert caught is not None
    raise caught


async def raise_boom() -> Any:
    raise Boom("loader bug")


@pytest.mark.parametrize("failure", [raise_stray_cancellation, raise_boom])
async def test_background_refresh_failure_never_ends_the_body(
    cache: Cache[str, int], clock: FakeClock, failure: Any, caplog: pytest.LogCaptureFixture
) -> None:
    started = anyio.Event()

    async def loader() -> int:
        started.set()
        return await failure()  # type: ignore[no-any-return]

    body_finished = False
    async with cache:
        await cache.set("k", 1, ttl=10)
        clock.advance(8)
        assert await cache.get_or_load("k", loader, ttl=10, refresh_ahead=5) == 1
        with anyio.fail_after(5):
            await started.wait()
            while cache._loads:
                await anyio.lowlevel.checkpoint()
        for _ in range(10):
            await anyio.lowlevel.checkpoint()
        assert cache._task_group is not None
        assert not cache._task_group.cancel_scope.cancel_called
        assert await cache.get("k") == 1  # the current value stays
        # The sweeper still runs: an expired key is reclaimed in the background.
        await cache.set("gone", 1, ttl=1)
        clock.advance(3)
        with anyio.fail_after(5):
            while len(cache) > 1:  # noqa: ASYNC110 - the sweeper's own pace
                await anyio.sleep(0.001)
        body_finished = True
    assert body_finished
    assert "background refresh of key 'k' failed" in caplog.text


@pytest.mark.parametrize("failure", [raise_stray_cancellation, raise_boom])
async def test_refresh_in_the_caller_keeps_the_value(
    cache: Cache[str, int], clock: FakeClock, failure: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await cache.set("k", 1, ttl=10)
    clock.advance(8)
    assert await cache.get_or_load("k", failure, ttl=10, refresh_ahead=5) == 1
    assert not cache._loads
    assert "refresh of key 'k' failed" in caplog.text


async def test_group_shutdown_still_cancels_a_refresh(
    cache: Cache[str, int], clock: FakeClock
) -> None:
    started = anyio.Event()
    cancelled = False

    async def slow() -> int:
        nonlocal cancelled
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise
        return 2

    async with cache:
        await cache.set("k", 1, ttl=10)
        clock.advance(8)
        await cache.get_or_load("k", slow, ttl=10, refresh_ahead=5)
        await started.wait()
    assert cancelled
    assert not cache._loads


async def test_a_loader_waiting_on_its_own_key_raises(cache: Cache[str, int]) -> None:
    async def recursive() -> int:
        return await cache.get_or_load("k", recursive) + 1

    with anyio.fail_after(5), pytest.raises(RuntimeError, match="waits for its own key"):
        await cache.get_or_load("k", recursive)
    assert not cache._loads
    assert "k" not in cache


async def test_a_loader_waiting_on_its_own_key_from_a_child_task_raises(
    cache: Cache[str, int],
) -> None:
    errors: list[BaseException] = []

    async def child() -> None:
        try:
            await cache.get_or_load("k", loader)
        except RuntimeError as exc:
            errors.append(exc)

    async def loader() -> int:
        async with anyio.create_task_group() as tg:
            tg.start_soon(child)
        return 1

    with anyio.fail_after(5):
        assert await cache.get_or_load("k", loader) == 1
    assert len(errors) == 1
    assert "waits for its own key" in str(errors[0])


async def test_other_keys_from_a_loader_are_fine(cache: Cache[str, int]) -> None:
    async def inner() -> int:
        return 1

    async def outer() -> int:
        return await cache.get_or_load("inner", inner) + 1

    assert await cache.get_or_load("outer", outer) == 2
    assert await cache.get("inner") == 1


async def test_refresh_ahead_must_be_shorter_than_the_ttl(cache: Cache[str, int]) -> None:
    async def load() -> int:
        return 1

    with pytest.raises(ValueError, match="refresh_ahead must be shorter than the ttl"):
        await cache.get_or_load("k", load, ttl=10, refresh_ahead=10)
    with pytest.raises(ValueError, match="refresh_ahead must be shorter than the ttl"):
        await cache.get_or_load("k", load, refresh_ahead=60)  # the default ttl
    assert await cache.get_or_load("k", load, ttl=None, refresh_ahead=60) == 1


async def test_a_hit_with_a_bad_refresh_ahead_is_rejected(cache: Cache[str, int]) -> None:
    await cache.set("k", 1, ttl=100)

    async def load() -> int:
        return 2

    with pytest.raises(ValueError, match="refresh_ahead must be >= 0"):
        await cache.get_or_load("k", load, refresh_ahead=float("nan"))


async def test_load_statistics_count_failures_and_cancellations(clock: FakeClock) -> None:
    cache: Cache[str, int] = Cache(clock=clock, record_stats=True)

    async def ok() -> int:
        return 1

    async def fails() -> int:
        raise ValueError("nope")

    async def hangs() -> int:
        await anyio.sleep_forever()
        return 0

    assert await cache.get_or_load("a", ok) == 1
    with pytest.raises(ValueError, match="nope"):
        await cache.get_or_load("b", fails)
    with pytest.raises(TimeoutError):
        await cache.get_or_load("c", hangs, timeout=0.001)
    with anyio.move_on_after(0.001):
        await cache.get_or_load("d", hangs)
    stats = cache.stats()
    assert stats.load_successes == 1
    assert stats.load_failures == 3
    assert stats.total_load_time > 0
    assert stats.misses == 4
    assert await cache.get_or_load("a", ok) == 1
    assert cache.stats().hits == 1


def test_logging_is_on_the_sweepcache_logger() -> None:
    assert logging.getLogger("sweepcache").name == "sweepcache"
