"""Single-flight ``Cache.get_or_load``: stampedes, errors, cancellation, refresh, invalidation.

Every test runs on asyncio, asyncio+uvloop and trio. Loaders block on an
``anyio.Event`` the test controls, and ``anyio.wait_all_tasks_blocked()``
tells when every caller has reached its wait, so nothing sleeps.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sweepcache import Cache
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio


class GatedLoader:
    """Fake loaders that block until ``gate`` is set, counting calls per key."""

    def __init__(self) -> None:
        self.gate = anyio.Event()
        self.calls: Counter[object] = Counter()
        self.error: Exception | None = None

    def __call__(self, key: object, value: object = None) -> Callable[[], Awaitable[object]]:
        async def load() -> object:
            self.calls[key] += 1
            await self.gate.wait()
            if self.error is not None:
                raise self.error
            return f"value of {key}" if value is None else value

        return load


async def _never() -> object:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


async def test_hit_returns_cached_value_without_loading(cache: Cache[str, object]) -> None:
    await cache.set("k", "cached")
    loads = GatedLoader()
    assert await cache.get_or_load("k", loads("k")) == "cached"
    assert not loads.calls


async def test_miss_loads_stores_with_ttl_and_then_hits(
    cache: Cache[str, object], clock: FakeClock
) -> None:
    loads = GatedLoader()
    loads.gate.set()
    assert await cache.get_or_load("k", loads("k"), ttl=30) == "value of k"
    assert await cache.ttl("k") == 30.0
    assert await cache.get_or_load("k", loads("k")) == "value of k"
    assert loads.calls["k"] == 1
    clock.advance(30)
    assert await cache.get_or_load("k", loads("k")) == "value of k"
    assert loads.calls["k"] == 2


async def test_a_stored_none_is_a_hit(cache: Cache[str, object]) -> None:
    await cache.set("k", None)
    assert await cache.get_or_load("k", _never) is None


async def test_stampede_of_1000_callers_on_100_keys_runs_100_loads(
    cache: Cache[int, object],
) -> None:
    loads = GatedLoader()
    results: dict[int, list[object]] = {key: [] for key in range(100)}

    async def call(key: int) -> None:
        results[key].append(await cache.get_or_load(key, loads(key)))

    async with anyio.create_task_group() as tg:
        for i in range(1_000):
            tg.start_soon(call, i % 100)
        await anyio.wait_all_tasks_blocked()  # all 1,000 are waiting on the gate
        assert sum(loads.calls.values()) == 100
        loads.gate.set()
    assert loads.calls == Counter(dict.fromkeys(range(100), 1))
    assert results == {key: [f"value of {key}"] * 10 for key in range(100)}
    assert len(cache) == 100


async def test_loader_error_reaches_every_waiter_and_is_not_cached(
    cache: Cache[str, object],
) -> None:
    loads = GatedLoader()
    error = LookupError("backend down")
    loads.error = error
    caught: list[BaseException] = []

    async def call() -> None:
        try:
            await cache.get_or_load("k", loads("k"))
        except LookupError as exc:
            caught.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        loads.gate.set()
    assert caught == [error] * 5
    assert loads.calls["k"] == 1
    assert "k" not in cache
    # The next call tries again, and succeeds now.
    loads.error = None
    assert await cache.get_or_load("k", loads("k")) == "value of k"
    assert loads.calls["k"] == 2


async def test_error_traceback_does_not_grow_with_each_waiter(
    cache: Cache[str, object],
) -> None:
    loads = GatedLoader()
    loads.error = LookupError("x")
    depths: list[int] = []

    async def call() -> None:
        try:
            await cache.get_or_load("k", loads("k"))
        except LookupError as exc:
            tb, depth = exc.__traceback__, 0
            while tb is not None:
                tb, depth = tb.tb_next, depth + 1
            depths.append(depth)

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        loads.gate.set()
    assert len(depths) == 4
    assert max(depths) - min(depths) <= 3  # leader vs waiter frames, not 4x growth


async def test_cancelled_leader_hands_over_to_a_waiter(cache: Cache[str, object]) -> None:
    first_call = anyio.Event()
    calls = 0

    async def load() -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            first_call.set()
            await anyio.sleep_forever()  # the leader's run never finishes
        return "loaded by the new leader"

    results: list[object] = []
    leader_scope = anyio.CancelScope()

    async def leader() -> None:
        with leader_scope:
            await cache.get_or_load("k", load)

    async def waiter() -> None:
        results.append(await cache.get_or_load("k", load))

    async with anyio.create_task_group() as tg:
        tg.start_soon(leader)
        await first_call.wait()
        for _ in range(3):
            tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        leader_scope.cancel()
    assert leader_scope.cancelled_caught
    assert results == ["loaded by the new leader"] * 3
    assert calls == 2  # one waiter took over and ran the loader again
    assert await cache.get("k") == "loaded by the new leader"


async def test_cancelled_waiter_leaves_the_load_alone(cache: Cache[str, object]) -> None:
    loads = GatedLoader()
    results: list[object] = []
    waiter_scope = anyio.CancelScope()

    async def cancelled_waiter() -> None:
        with waiter_scope:
            await cache.get_or_load("k", loads("k"))
        results.append("cancelled waiter left")

    async def call() -> None:
        results.append(await cache.get_or_load("k", loads("k")))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(cancelled_waiter)
        tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        waiter_scope.cancel()
        await anyio.wait_all_tasks_blocked()
        assert results == ["cancelled waiter left"]
        loads.gate.set()
    assert waiter_scope.cancelled_caught
    assert sorted(map(str, results)) == ["cancelled waiter left", "value of k", "value of k"]
    assert loads.calls["k"] == 1


async def test_timeout_fails_every_caller_and_caches_nothing(cache: Cache[str, object]) -> None:
    outcomes: list[str] = []

    async def call() -> None:
        try:
            await cache.get_or_load("k", _never, timeout=0.02)
        except TimeoutError:
            outcomes.append("timeout")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(call)
    assert outcomes == ["timeout"] * 3
    assert "k" not in cache
    assert not cache._loads


async def test_a_slow_load_never_blocks_other_keys(cache: Cache[str, object]) -> None:
    loads = GatedLoader()
    async with anyio.create_task_group() as tg:
        tg.start_soon(cache.get_or_load, "slow", loads("slow"))
        await anyio.wait_all_tasks_blocked()
        fast = GatedLoader()
        fast.gate.set()
        with anyio.fail_after(5):
            assert await cache.get_or_load("fast", fast("fast")) == "value of fast"
        assert "slow" not in cache
        loads.gate.set()
    assert await cache.get("slow") == "value of slow"


@pytest.mark.parametrize("invalidation", ["delete", "set", "clear", "delete_many", "expire"])
async def test_invalidation_during_a_load_keeps_its_result_out_of_the_cache(
    cache: Cache[str, object], invalidation: str
) -> None:
    await cache.set("other", "untouched")
    loads = GatedLoader()
    results: list[object] = []

    async def call() -> None:
        results.append(await cache.get_or_load("k", loads("k", "stale")))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        if invalidation == "delete":
            assert not await cache.delete("k")
        elif invalidation == "set":
            await cache.set("k", "fresh")
        elif invalidation == "clear":
            await cache.clear()
        elif invalidation == "delete_many":
            assert await cache.delete_many(["k", "missing"]) == 0
        else:
            assert not await cache.expire("k", 10)
        loads.gate.set()
    # The callers that were waiting get the result they waited for...
    assert results == ["stale", "stale"]
    # ...but it never lands in the cache.
    expected = "fresh" if invalidation == "set" else None
    assert await cache.get("k") == expected
    if invalidation != "clear":
        assert await cache.get("other") == "untouched"
    assert not cache._loads


async def test_a_caller_after_an_invalidation_starts_a_fresh_load(
    cache: Cache[str, object],
) -> None:
    old, new = GatedLoader(), GatedLoader()
    results: dict[str, object] = {}

    async def call(name: str, loads: GatedLoader) -> None:
        results[name] = await cache.get_or_load("k", loads("k", name))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, "old", old)
        await anyio.wait_all_tasks_blocked()
        await cache.delete("k")
        tg.start_soon(call, "new", new)
        await anyio.wait_all_tasks_blocked()
        assert old.calls["k"] == new.calls["k"] == 1  # did not join the detached load
        new.gate.set()
        await anyio.wait_all_tasks_blocked()
        old.gate.set()
    assert results == {"old": "old", "new": "new"}
    assert await cache.get("k") == "new"  # the detached load did not overwrite it


async def test_set_many_detaches_loads_of_its_keys(cache: Cache[str, object]) -> None:
    loads = GatedLoader()
    async with anyio.create_task_group() as tg:
        tg.start_soon(cache.get_or_load, "a", loads("a"))
        tg.start_soon(cache.get_or_load, "b", loads("b"))
        await anyio.wait_all_tasks_blocked()
        await cache.set_many({"a": "set"})
        loads.gate.set()
    assert await cache.get("a") == "set"
    assert await cache.get("b") == "value of b"


async def test_ttl_zero_loads_without_storing(cache: Cache[str, object]) -> None:
    loads = GatedLoader()
    loads.gate.set()
    assert await cache.get_or_load("k", loads("k"), ttl=0) == "value of k"
    assert "k" not in cache
    assert not cache._loads


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"ttl": -1}, ValueError),
        ({"ttl": "1"}, TypeError),
        ({"timeout": 0}, ValueError),
        ({"timeout": "1"}, TypeError),
        ({"timeout": True}, TypeError),
    ],
)
async def test_bad_arguments_raise_before_loading(
    cache: Cache[str, object], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await cache.get_or_load("k", _never, **kwargs)
    assert not cache._loads


@pytest.mark.parametrize(("refresh_ahead", "error"), [(-1.0, ValueError), ("5", TypeError)])
async def test_bad_refresh_ahead_raises_on_a_miss(
    cache: Cache[str, object], refresh_ahead: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="refresh_ahead"):
        await cache.get_or_load("k", _never, refresh_ahead=refresh_ahead)


async def test_unhashable_key_raises_type_error(cache: Cache[Any, object]) -> None:
    with pytest.raises(TypeError, match="unhashable key of type 'list'"):
        await cache.get_or_load(["k"], _never)


async def test_refresh_ahead_without_task_group_reloads_in_the_caller(
    cache: Cache[str, object], clock: FakeClock
) -> None:
    loads = GatedLoader()
    loads.gate.set()
    await cache.set("k", "old", ttl=10)
    clock.advance(4)  # 6 s left: outside a 5 s window
    assert await cache.get_or_load("k", loads("k", "new"), ttl=10, refresh_ahead=5) == "old"
    assert not loads.calls
    clock.advance(2)  # 4 s left: inside the window
    assert await cache.get_or_load("k", loads("k", "new"), ttl=10, refresh_ahead=5) == "new"
    assert loads.calls["k"] == 1
    assert await cache.ttl("k") == 10.0


async def test_refresh_ahead_is_single_flight_and_hits_keep_the_current_value(
    cache: Cache[str, object], clock: FakeClock
) -> None:
    loads = GatedLoader()
    await cache.set("k", "old", ttl=10)
    clock.advance(8)
    results: list[object] = []

    async def call() -> None:
        results.append(await cache.get_or_load("k", loads("k", "new"), refresh_ahead=5))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)  # runs the refresh itself (no task group)
        await anyio.wait_all_tasks_blocked()
        for _ in range(3):
            await call()  # a refresh is in flight: the current value, at once
        assert results == ["old"] * 3
        loads.gate.set()
    assert results == ["old", "old", "old", "new"]
    assert loads.calls["k"] == 1


async def test_refresh_ahead_runs_in_the_background_under_async_with(
    cache: Cache[str, object], clock: FakeClock
) -> None:
    loads = GatedLoader()
    await cache.set("k", "old", ttl=10)
    clock.advance(8)
    async with cache:
        with anyio.fail_after(5):
            # The caller that hits the window gets the current value at once,
            # although the loader is still blocked.
            assert await cache.get_or_load("k", loads("k", "new"), refresh_ahead=5) == "old"
            await anyio.wait_all_tasks_blocked()
            assert loads.calls["k"] == 1
            assert await cache.get_or_load("k", loads("k", "new"), refresh_ahead=5) == "old"
            loads.gate.set()
            await anyio.wait_all_tasks_blocked()
            assert await cache.get("k") == "new"
    assert loads.calls["k"] == 1
    assert await cache.ttl("k") == 60.0


async def test_failed_background_refresh_is_logged_and_keeps_the_value(
    cache: Cache[str, object], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    loads = GatedLoader()
    loads.error = LookupError("backend down")
    loads.gate.set()
    await cache.set("k", "old", ttl=10)
    clock.advance(8)
    with caplog.at_level(logging.ERROR, logger="sweepcache"):
        async with cache:
            with anyio.fail_after(5):
                assert await cache.get_or_load("k", loads("k"), refresh_ahead=5) == "old"
                await anyio.wait_all_tasks_blocked()
                assert not cache._loads
        assert await cache.get("k") == "old"
        # Without a task group the caller refreshes itself, and still gets "old".
        assert await cache.get_or_load("k", loads("k"), refresh_ahead=5) == "old"
    assert loads.calls["k"] == 2
    failures = [r for r in caplog.records if "refresh of key 'k'" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.exc_info and r.exc_info[0] is LookupError for r in failures)


async def test_background_refresh_cancelled_with_the_cache_lets_a_miss_take_over(
    cache: Cache[str, object], clock: FakeClock
) -> None:
    await cache.set("k", "old", ttl=10)
    clock.advance(8)
    async with cache:
        assert await cache.get_or_load("k", _never, refresh_ahead=5) == "old"
        await anyio.wait_all_tasks_blocked()
        assert "k" in cache._loads
    # Leaving `async with` cancelled the refresh; nothing is left behind.
    assert not cache._loads
    clock.advance(2)
    loads = GatedLoader()
    loads.gate.set()
    assert await cache.get_or_load("k", loads("k", "new")) == "new"


async def test_a_caller_from_another_loop_loads_on_its_own(cache: Cache[str, object]) -> None:
    loads = GatedLoader()

    async def from_other_loop() -> object:
        async def load() -> object:
            return "other loop"

        return await cache.get_or_load("k", load)

    async with anyio.create_task_group() as tg:
        tg.start_soon(cache.get_or_load, "k", loads("k", "this loop"))
        await anyio.wait_all_tasks_blocked()
        # A new event loop in a worker thread must not wait on this loop's event.
        with anyio.fail_after(5):
            other = await anyio.to_thread.run_sync(anyio.run, from_other_loop)
        assert other == "other loop"
        assert "k" not in cache  # it did not store its own result
        loads.gate.set()
    assert await cache.get("k") == "this loop"


async def test_invalidation_from_another_thread_during_a_load(
    cache: Cache[str, object],
) -> None:
    loads = GatedLoader()
    async with anyio.create_task_group() as tg:
        tg.start_soon(cache.get_or_load, "k", loads("k"))
        await anyio.wait_all_tasks_blocked()
        assert not await anyio.to_thread.run_sync(cache.delete_nowait, "k")
        loads.gate.set()
    assert "k" not in cache


async def test_a_loaded_none_reaches_waiters_and_is_cached(cache: Cache[str, object]) -> None:
    gate = anyio.Event()
    calls = 0

    async def load() -> None:
        nonlocal calls
        calls += 1
        await gate.wait()

    results: list[object] = []

    async def call() -> None:
        results.append(await cache.get_or_load("k", load))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert results == [None, None, None]
    assert calls == 1
    assert await cache.get("k", default="missing") is None


async def test_a_failed_store_wakes_the_waiters_who_then_retry(
    cache: Cache[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = GatedLoader()
    real_set_nowait = type(cache).set_nowait
    failures = [RuntimeError("store failed")]

    def flaky_set_nowait(self: Cache[str, object], *args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        real_set_nowait(self, *args, **kwargs)

    monkeypatch.setattr(type(cache), "set_nowait", flaky_set_nowait)
    results: list[object] = []

    async def leader() -> None:
        with pytest.raises(RuntimeError, match="store failed"):
            await cache.get_or_load("k", loads("k"))

    async def waiter() -> None:
        results.append(await cache.get_or_load("k", loads("k")))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(leader)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            loads.gate.set()
    assert results == ["value of k"]
    assert loads.calls["k"] == 2  # the waiter took over and loaded again
    assert await cache.get("k") == "value of k"
