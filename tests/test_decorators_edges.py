"""``@cached`` edge cases: partials, copies, closures, unhashable arguments, conditions."""

from __future__ import annotations

import copy
import functools
import pickle
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sweepcache import Cache, cached
from sweepcache._decorators import Invalidation, namespace_of

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio


async def add(a: int, b: int) -> int:
    return a + b


async def test_partial_of_an_async_function(cache: Cache[Any, Any]) -> None:
    add_one = cached(cache)(functools.partial(add, 1))
    add_two = cached(cache)(functools.partial(add, 2))
    assert await add_one(5) == 6
    assert await add_two(5) == 7  # its own namespace: no collision with add_one
    assert await add_one(5) == 6
    assert add_one.namespace != add_two.namespace
    assert add_one.namespace.startswith(f"{__name__}.add#")
    assert add_one.invalidate(5)
    assert not add_one.invalidate(5)


async def test_partial_of_a_sync_function_is_rejected(cache: Cache[Any, Any]) -> None:
    def sync(a: int) -> int:
        return a

    with pytest.raises(TypeError, match="@cached wraps async def functions"):
        cached(cache)(functools.partial(sync, 1))  # type: ignore[arg-type]


def make_fetcher(prefix: str) -> Any:
    async def fetch(item: str) -> str:
        return f"{prefix}:{item}"

    return fetch


async def test_two_closures_of_one_factory_do_not_share_keys(cache: Cache[Any, Any]) -> None:
    fetch_a = cached(cache)(make_fetcher("a"))
    fetch_b = cached(cache)(make_fetcher("b"))
    assert await fetch_a("x") == "a:x"
    assert await fetch_b("x") == "b:x"
    assert fetch_a.key("x") != fetch_b.key("x")


async def test_closures_share_keys_with_an_explicit_namespace(cache: Cache[Any, Any]) -> None:
    fetch_a = cached(cache, namespace="fetch")(make_fetcher("a"))
    fetch_b = cached(cache, namespace="fetch")(make_fetcher("b"))
    assert await fetch_a("x") == "a:x"
    assert await fetch_b("x") == "a:x"  # the user said they are the same
    assert fetch_a.key("x") == ("fetch", "x", str)


async def test_nested_function_without_closure_keeps_a_stable_namespace(
    cache: Cache[Any, Any],
) -> None:
    def factory() -> Any:
        async def plain(x: int) -> int:
            return x

        return plain

    first, second = cached(cache)(factory()), cached(cache)(factory())
    assert first.namespace == second.namespace == namespace_of(factory())
    assert "#" not in first.namespace


async def test_copy_of_a_bound_cached_method(cache: Cache[Any, Any]) -> None:
    class Repo:
        @cached(cache)
        async def user(self, uid: int) -> str:
            return f"user {uid}"

    repo = Repo()
    bound = repo.user
    assert copy.copy(bound) is bound
    assert copy.deepcopy(bound) is bound
    assert await copy.copy(bound)(1) == "user 1"
    assert bound == repo.user
    assert hash(bound) == hash(repo.user)
    with pytest.raises((TypeError, AttributeError, pickle.PicklingError)):
        pickle.dumps(bound)


@pytest.mark.parametrize("where", ["positional", "keyword", "var-keyword", "var-positional"])
async def test_unhashable_argument_is_named(cache: Cache[Any, Any], where: str) -> None:
    @cached(cache)
    async def fetch(a: Any, *rest: Any, **options: Any) -> int:
        return 1

    call: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
        "positional": (({"x": 1},), {}),
        "keyword": ((), {"a": {"x": 1}}),
        "var-keyword": ((1,), {"flag": [1]}),
        "var-positional": ((1, 2, {3}), {}),
    }
    args, kwargs = call[where]
    expected = {
        "positional": "'a'",
        "keyword": "'a'",
        "var-keyword": "options\\['flag'\\]",
        "var-positional": "rest\\[1\\]",
    }[where]
    with pytest.raises(TypeError, match=f"argument {expected} of .*fetch\\(\\) is unhashable"):
        await fetch(*args, **kwargs)
    with pytest.raises(TypeError, match=f"argument {expected} of .*fetch\\(\\) is unhashable"):
        fetch.invalidate(*args, **kwargs)


async def test_custom_key_returning_unhashable_is_named(cache: Cache[Any, Any]) -> None:
    @cached(cache, key=lambda uid: [uid])  # type: ignore[arg-type,return-value]
    async def fetch(uid: int) -> int:
        return uid

    with pytest.raises(TypeError, match=r"the key= function .* returned an unhashable key"):
        await fetch(1)


async def test_refresh_ahead_must_be_shorter_than_ttl(cache: Cache[Any, Any]) -> None:
    with pytest.raises(ValueError, match="refresh_ahead must be shorter than the ttl"):
        cached(cache, ttl=10, refresh_ahead=10)
    with pytest.raises(ValueError, match="refresh_ahead must be shorter than the ttl"):
        cached(cache, refresh_ahead=120)  # the cache's default ttl is 60
    cached(cache, ttl=None, refresh_ahead=120)  # never expires: allowed (a no-op)


async def test_condition_skips_caching_some_results(cache: Cache[Any, Any]) -> None:
    calls = 0

    @cached(cache, condition=lambda user: user is not None)
    async def find(uid: int) -> str | None:
        nonlocal calls
        calls += 1
        return None if uid < 0 else f"user {uid}"

    assert await find(-1) is None
    assert await find(-1) is None
    assert calls == 2  # the None was returned but not cached
    assert await find(1) == "user 1"
    assert await find(1) == "user 1"
    assert calls == 3


async def test_condition_still_shares_one_load_between_waiters(cache: Cache[Any, Any]) -> None:
    gate = anyio.Event()
    calls = 0

    @cached(cache, condition=lambda result: False)
    async def slow(x: int) -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return x

    results: list[int] = []

    async def call() -> None:
        results.append(await slow(1))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert results == [1] * 5
    assert calls == 1
    assert slow.key(1) not in cache


async def test_cache_clear_removes_every_result_of_one_function(cache: Cache[Any, Any]) -> None:
    @cached(cache)
    async def square(x: int) -> int:
        return x * x

    @cached(cache)
    async def cube(x: int) -> int:
        return x**3

    for x in range(10):
        await square(x)
        await cube(x)
    await cache.set("plain", 1)
    cleared = square.cache_clear()
    assert cleared
    assert cleared.count == 10
    assert await cleared is True
    assert all(square.key(x) not in cache for x in range(10))
    assert all(cube.key(x) in cache for x in range(10))
    assert await cache.get("plain") == 1
    assert not square.cache_clear()


async def test_cache_clear_detaches_a_load_in_flight(cache: Cache[Any, Any]) -> None:
    gate = anyio.Event()

    @cached(cache)
    async def slow(x: int) -> int:
        await gate.wait()
        return x

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow, 1)
        await anyio.wait_all_tasks_blocked()
        slow.cache_clear()
        gate.set()
    assert slow.key(1) not in cache  # loaded before the clear: never lands after it


async def test_tags_from_arguments_and_from_the_result(cache: Cache[Any, Any]) -> None:
    @cached(cache, tags=lambda uid: [f"user:{uid}"])
    async def profile(uid: int) -> dict[str, Any]:
        return {"uid": uid, "org": uid % 2}

    @cached(cache, tags=lambda uid, *, result: [f"user:{uid}", f"org:{result['org']}"])
    async def settings(uid: int) -> dict[str, Any]:
        return {"uid": uid, "org": uid % 2}

    for uid in range(4):
        await profile(uid)
        await settings(uid)
    assert await cache.invalidate_tags("user:1") == 2
    assert profile.key(1) not in cache
    assert settings.key(1) not in cache
    assert await cache.invalidate_tags("org:0") == 2  # settings of users 0 and 2
    assert profile.key(0) in cache
    assert settings.key(0) not in cache


def test_invalidation_object() -> None:
    assert Invalidation(True)
    assert not Invalidation(False)
    assert Invalidation(3).count == 3
    assert Invalidation(True) == True  # noqa: E712
    assert repr(Invalidation(2)) == "<sweepcache invalidation removed=2>"


async def test_cached_over_a_cache_like_tier(clock: FakeClock) -> None:
    """@cached works over any object with get_or_load/delete/invalidate_tags."""

    class Remote:
        def __init__(self) -> None:
            self.inner: Cache[Any, Any] = Cache(clock=clock)
            self.deleted: list[Any] = []

        async def get_or_load(self, key: Any, loader: Any, **options: Any) -> Any:
            return await self.inner.get_or_load(key, loader, **options)

        async def delete(self, key: Any) -> bool:
            self.deleted.append(key)
            return await self.inner.delete(key)

        async def invalidate_tags(self, *tags: Any) -> int:
            return await self.inner.invalidate_tags(*tags)

    remote = Remote()

    @cached(remote, ttl=30)
    async def double(x: int) -> int:
        return 2 * x

    assert await double(2) == 4
    assert await double(2) == 4
    invalidation = double.invalidate(2)
    with pytest.raises(TypeError, match="await it"):
        bool(invalidation)
    assert await invalidation is True
    assert remote.deleted == [double.key(2)]
    await double(3)
    assert await double.cache_clear() is True
    assert len(remote.inner) == 0
    never_awaited = double.invalidate(3)
    del never_awaited  # closed, not "never awaited"


def test_cached_rejects_something_that_is_not_a_cache() -> None:
    with pytest.raises(TypeError, match=r"cache must be a sweepcache\.Cache"):
        cached({})  # type: ignore[call-overload]
