"""``@cached``: keys, single-flight, methods, invalidation."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sweepcache import cached
from sweepcache._decorators import CachedFunction, Invalidation, default_key_builder

if TYPE_CHECKING:
    from sweepcache import Cache
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio


async def test_caches_results_per_argument(cache: Cache[Any, Any], clock: FakeClock) -> None:
    calls: list[int] = []

    @cached(cache, ttl=10)
    async def square(x: int) -> int:
        calls.append(x)
        return x * x

    assert await square(3) == 9
    assert await square(3) == 9
    assert await square(4) == 16
    assert calls == [3, 4]
    clock.advance(10)
    assert await square(3) == 9
    assert calls == [3, 4, 3]
    assert await cache.ttl(square.key(3)) == 10.0


async def test_positional_keyword_and_default_arguments_share_a_key(
    cache: Cache[Any, Any],
) -> None:
    calls = 0

    @cached(cache)
    async def fetch(a: int, b: int = 2, *, c: str = "x") -> str:
        nonlocal calls
        calls += 1
        return f"{a}-{b}-{c}"

    results = {
        await fetch(1),
        await fetch(1, 2),
        await fetch(1, b=2),
        await fetch(a=1),
        await fetch(b=2, a=1, c="x"),
    }
    assert results == {"1-2-x"}
    assert calls == 1
    assert await fetch(1, 3) == "1-3-x"
    assert await fetch(1, c="y") == "1-2-y"
    assert calls == 3
    assert fetch.key(1) == fetch.key(a=1, b=2, c="x")
    # fetch is a closure (it uses `calls`), so its namespace has a suffix of its own.
    assert fetch.namespace.startswith(f"{__name__}.{fetch.__qualname__}#")
    assert fetch.key(1) == (fetch.namespace, 1, 2, "x", int, int, str)


async def test_keys_are_typed(cache: Cache[Any, Any]) -> None:
    @cached(cache)
    async def ident(x: object) -> str:
        return type(x).__name__

    assert await ident(1) == "int"
    assert await ident(1.0) == "float"  # 1 == 1.0, but a separate entry
    assert await ident(True) == "bool"
    assert ident.key(1) != ident.key(1.0)


async def test_var_args_and_kwargs_are_part_of_the_key(cache: Cache[Any, Any]) -> None:
    calls = 0

    @cached(cache)
    async def join(first: str, *rest: str, **options: int) -> str:
        nonlocal calls
        calls += 1
        return "/".join((first, *rest)) + repr(sorted(options.items()))

    assert await join("a", "b", x=1, y=2) == "a/b[('x', 1), ('y', 2)]"
    assert await join("a", "b", y=2, x=1) == "a/b[('x', 1), ('y', 2)]"  # kwargs order
    assert calls == 1
    # Splitting the same values differently between *rest and **options differs.
    assert join.key("a", "b", "x", 1) != join.key("a", "b", x=1)  # type: ignore[arg-type]
    assert join.key("a") != join.key("a", "b")


async def test_functions_with_the_same_arguments_do_not_share_keys(
    cache: Cache[Any, Any],
) -> None:
    @cached(cache)
    async def one(x: int) -> str:
        return "one"

    @cached(cache)
    async def two(x: int) -> str:
        return "two"

    assert (await one(1), await two(1)) == ("one", "two")


async def test_custom_key(cache: Cache[Any, Any]) -> None:
    @cached(cache, key=lambda uid, full=False: f"user:{uid}")
    async def user(uid: int, full: bool = False) -> str:
        return f"user {uid} full={full}"

    assert await user(7, full=True) == "user 7 full=True"
    assert await user(7) == "user 7 full=True"  # same key by design
    assert await cache.get("user:7") == "user 7 full=True"
    assert user.key(7) == "user:7"
    assert user.invalidate(7)


async def test_invalidate_sync_and_awaited(cache: Cache[Any, Any]) -> None:
    calls = 0

    @cached(cache)
    async def load(x: int, y: int = 0) -> int:
        nonlocal calls
        calls += 1
        return x + y

    await load(1)
    result = load.invalidate(1, y=0)  # deleted now, before any await
    assert isinstance(result, Invalidation)
    assert result
    assert load.key(1) not in cache
    assert await load.invalidate(1) is False
    await load(1)
    assert await load.invalidate(1) is True
    assert not load.invalidate(1)
    assert calls == 2


async def test_concurrent_calls_are_single_flight(cache: Cache[Any, Any]) -> None:
    gate = anyio.Event()
    calls = 0

    @cached(cache)
    async def slow(x: int) -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return x

    results: list[int] = []

    async def call(x: int) -> None:
        results.append(await slow(x))

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(call, i % 5)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert calls == 5
    assert sorted(results) == sorted(i % 5 for i in range(50))


@pytest.fixture
def repository_class(cache: Cache[Any, Any]) -> type[Any]:
    class Repo:
        def __init__(self, name: str) -> None:
            self.name = name
            self.calls = 0

        @cached(cache, ttl=30)
        async def user(self, uid: int, *, full: bool = False) -> str:
            self.calls += 1
            return f"{self.name}:{uid}:{full}"

    return Repo


async def test_methods_bind_self(repository_class: type[Any], cache: Cache[Any, Any]) -> None:
    a, b = repository_class("a"), repository_class("b")
    assert await a.user(1) == "a:1:False"
    assert await a.user(uid=1) == "a:1:False"
    assert await a.user(1, full=False) == "a:1:False"
    assert await b.user(1) == "b:1:False"  # self is part of the key
    assert (a.calls, b.calls) == (1, 1)
    assert a.user.key(1) == repository_class.user.key(a, 1)
    assert a.user.key(1) != b.user.key(1)
    # Both spellings of invalidate, sync and awaited.
    assert a.user.invalidate(1)
    assert not await repository_class.user.invalidate(a, 1)
    await a.user(1)
    assert await repository_class.user.invalidate(a, 1)
    assert a.calls == 2
    assert await b.user(1) == "b:1:False"
    assert b.calls == 1
    assert a.user.__name__ == "user"
    assert a.user.cache is cache


async def test_unhashable_argument_names_the_parameter(cache: Cache[Any, Any]) -> None:
    @cached(cache)
    async def total(label: str, values: list[int]) -> int:
        return sum(values)

    with pytest.raises(TypeError, match=r"argument 'values' of .*total\(\) is unhashable \(list\)"):
        await total("x", [1, 2])
    with pytest.raises(TypeError, match="argument 'values'"):
        total.invalidate("x", [1, 2])


async def test_loader_type_errors_are_not_mistaken_for_unhashable_keys(
    cache: Cache[Any, Any],
) -> None:
    @cached(cache)
    async def broken(x: int) -> int:
        raise TypeError("inside the function")

    with pytest.raises(TypeError, match="inside the function"):
        await broken(1)


async def test_errors_are_not_cached(cache: Cache[Any, Any]) -> None:
    calls = 0

    @cached(cache)
    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise LookupError("first call fails")
        return "ok"

    with pytest.raises(LookupError):
        await flaky()
    assert await flaky() == "ok"


async def test_timeout_applies_to_each_run(cache: Cache[Any, Any]) -> None:
    @cached(cache, timeout=0.02)
    async def hang() -> None:
        await anyio.sleep_forever()

    with anyio.fail_after(5), pytest.raises(TimeoutError):
        await hang()


async def test_refresh_ahead_is_passed_through(cache: Cache[Any, Any], clock: FakeClock) -> None:
    version = 0

    @cached(cache, ttl=10, refresh_ahead=3)
    async def current() -> int:
        nonlocal version
        version += 1
        return version

    assert await current() == 1
    clock.advance(8)
    assert await current() == 2  # no task group: refreshed by the caller


def test_wraps_the_function_and_keeps_its_signature(cache: Cache[Any, Any]) -> None:
    async def fetch(uid: int, full: bool = False) -> str:
        """Fetch a user."""
        return ""

    wrapped = cached(cache)(fetch)
    assert isinstance(wrapped, CachedFunction)
    assert wrapped.__name__ == "fetch"
    assert wrapped.__doc__ == "Fetch a user."
    assert wrapped.__wrapped__ is fetch
    assert inspect.signature(wrapped) == inspect.signature(fetch)
    assert "fetch" in repr(wrapped)
    assert wrapped.cache is cache


def test_rejects_sync_functions_and_bad_arguments(cache: Cache[Any, Any]) -> None:
    def sync(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="async def"):
        cached(cache)(sync)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl"):
        cached(cache, ttl=-1)
    with pytest.raises(ValueError, match="timeout"):
        cached(cache, timeout=0)
    with pytest.raises(ValueError, match="refresh_ahead"):
        cached(cache, refresh_ahead=-1)
    with pytest.raises(TypeError, match="key"):
        cached(cache, key="user:{}")  # type: ignore[call-overload]


def test_default_key_builder_is_stable_and_documented() -> None:
    async def f(a: int, b: int = 2) -> None: ...

    key = default_key_builder(f)
    name = f"{__name__}.{f.__qualname__}"
    assert key(1) == key(1, 2) == key(a=1) == key(1, b=2) == (name, 1, 2, int, int)
    with pytest.raises(TypeError):
        key()  # a missing argument fails like calling the function would


def test_invalidation_result() -> None:
    assert Invalidation(True)
    assert not Invalidation(False)
    assert Invalidation(True) == True  # noqa: E712 - comparing with a bool is the point
    assert hash(Invalidation(False)) == hash(False)
    assert "removed=True" in repr(Invalidation(True))
