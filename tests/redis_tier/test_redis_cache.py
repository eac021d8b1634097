"""``RedisCache`` against a private server, on asyncio, uvloop and trio."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sweepcache import cached
from sweepcache.redis import (
    L2Error,
    MsgpackSerializer,
    RedisCache,
    SignedPickleSerializer,
    ValueTooLarge,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .servers import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cache(redis_server: RedisServer, prefix: str) -> AsyncIterator[RedisCache[Any, Any]]:
    # A generous op_timeout: a loaded CI machine can hold one operation past
    # the default 0.25 s; the fail-fast tests set their own.
    async with RedisCache[Any, Any](
        url=redis_server.url, prefix=prefix, op_timeout=2.0
    ) as redis_cache:
        yield redis_cache
        await redis_cache.clear()


async def test_get_set_delete(cache: RedisCache[Any, Any]) -> None:
    assert await cache.get("k") is None
    assert await cache.get("k", default=...) is ...
    await cache.set("k", {"a": [1, None]})
    assert await cache.get("k") == {"a": [1, None]}
    await cache.set("none", None)
    assert await cache.get("none", default=...) is None  # a stored None is a hit
    assert await cache.delete("k") is True
    assert await cache.delete("k") is False
    assert await cache.get("k") is None


async def test_ttl_maps_to_px(cache: RedisCache[Any, Any], redis_server: RedisServer) -> None:
    await cache.set("a", 1, ttl=12.5)
    pttl = int(redis_server.cli("PTTL", cache.prefix.decode() + "a"))
    assert 12_000 < pttl <= 12_500
    assert 12.0 < (await cache.ttl("a") or 0) <= 12.5
    await cache.set("b", 1, ttl=datetime.timedelta(minutes=1))
    assert 59 < (await cache.ttl("b") or 0) <= 60
    await cache.set("never", 1, ttl=None)
    assert await cache.ttl("never") is None
    await cache.set("tiny", 1, ttl=1e-9)  # rounds up to 1 ms, never 0 (an error in Redis)
    await cache.set("huge", 1, ttl=1e300)  # clamped, not an error
    assert (await cache.ttl("huge") or 0) > 1e9
    await cache.set("zero", 1)
    await cache.set("zero", 1, ttl=0)  # ttl=0 deletes
    assert await cache.get("zero") is None
    with pytest.raises(KeyError):
        await cache.ttl("missing")
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError, match="ttl must be >= 0"):
            await cache.set("x", 1, ttl=bad)
    with pytest.raises(TypeError, match="ttl must be a number"):
        await cache.set("x", 1, ttl="10")  # type: ignore[arg-type]


async def test_expire(cache: RedisCache[Any, Any]) -> None:
    assert await cache.expire("missing", 10) is False
    await cache.set("k", 1, ttl=5)
    assert await cache.expire("k", 100) is True
    assert (await cache.ttl("k") or 0) > 99
    assert await cache.expire("k", None) is True
    assert await cache.ttl("k") is None
    assert await cache.expire("k", 0) is True
    assert await cache.get("k") is None


async def test_many(cache: RedisCache[Any, Any]) -> None:
    await cache.set_many({"a": 1, ("t", 2): 2, 3: "three"}, ttl=30)
    assert await cache.get_many(["a", ("t", 2), 3.0, "missing"], default=0) == [1, 2, "three", 0]
    assert await cache.get_many([]) == []
    assert await cache.delete_many(["a", 3, "missing"]) == 2
    assert await cache.get_many(["a", ("t", 2)]) == [None, 2]


async def test_clear_removes_only_its_namespace(redis_server: RedisServer, prefix: str) -> None:
    async with (
        RedisCache[str, int](url=redis_server.url, prefix=prefix + "a*[", op_timeout=2) as mine,
        RedisCache[str, int](url=redis_server.url, prefix=prefix + "ab", op_timeout=2) as other,
    ):
        await mine.set_many({f"k{i}": i for i in range(1200)})
        await other.set("kept", 1)
        await mine.clear()
        assert await mine.get_many(["k0", "k1199"]) == [None, None]
        assert await other.get("kept") == 1
        await other.clear()


async def test_value_size_cap(redis_server: RedisServer, prefix: str) -> None:
    async with RedisCache[str, str](url=redis_server.url, prefix=prefix, max_value_size=100) as c:
        await c.set("small", "x" * 50)
        with pytest.raises(ValueTooLarge, match=r"key 'big' serializes to 1,003 bytes, over"):
            await c.set("big", "x" * 1000)
        assert await c.get("big") is None
        redis_server.cli("SET", prefix + "stored-big", "j" + '"' + "x" * 500 + '"')
        assert await c.get("stored-big", default="miss") == "miss"
        assert c.stats().decode_errors == 1


async def test_unreadable_payloads_are_counted_misses(
    cache: RedisCache[Any, Any], redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    for index, raw in enumerate(["garbage", "j{", "m\x91", "p" + "x" * 40, "j[" * 5000]):
        redis_server.cli("SET", f"{cache.prefix.decode()}bad{index}", raw)
        assert await cache.get(f"bad{index}", default="miss") == "miss"
    assert cache.stats().decode_errors == 5
    assert "unreadable payload" in caplog.text
    # get_or_load treats it as a miss too and overwrites it
    assert await cache.get_or_load("bad0", _const("fresh")) == "fresh"
    assert await cache.get("bad0") == "fresh"


async def test_other_serializers(redis_server: RedisServer, prefix: str) -> None:
    async with RedisCache[str, Any](
        url=redis_server.url, prefix=prefix, serializer=MsgpackSerializer()
    ) as packed:
        await packed.set("b", b"\x00\x01")
        assert await packed.get("b") == b"\x00\x01"
    async with RedisCache[str, Any](
        url=redis_server.url, prefix=prefix, serializer=SignedPickleSerializer(b"s" * 32)
    ) as pickled:
        await pickled.set("s", {1, 2})
        assert await pickled.get("s") == {1, 2}
        assert await pickled.get("b", default="miss") == "miss"  # msgpack payload: a miss
        await pickled.clear()


async def test_arguments_are_checked(redis_server: RedisServer) -> None:
    with pytest.raises(ValueError, match="exactly one of url= and client="):
        RedisCache[str, int](prefix="p")
    with pytest.raises(ValueError, match="on_l2_error must be 'raise' or 'fallback', got 'x'"):
        RedisCache[str, int](url=redis_server.url, prefix="p", on_l2_error="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="op_timeout must be > 0"):
        RedisCache[str, int](url=redis_server.url, prefix="p", op_timeout=0)
    with pytest.raises(ValueError, match="max_value_size must be >= 1, got 0"):
        RedisCache[str, int](url=redis_server.url, prefix="p", max_value_size=0)
    with pytest.raises(TypeError, match="serializer must have dumps"):
        RedisCache[str, int](url=redis_server.url, prefix="p", serializer=object())  # type: ignore[arg-type]


async def test_bad_keys_raise_before_any_io(cache: RedisCache[Any, Any]) -> None:
    with pytest.raises(ValueError, match="NaN"):
        await cache.get(float("nan"))
    with pytest.raises(TypeError, match="cannot encode a key holding a list"):
        await cache.set(("a", [1]), 1)
    with pytest.raises(TypeError, match="tags must be an iterable of tags, got the string"):
        await cache.set("k", 1, tags="tag")


async def test_tags(cache: RedisCache[Any, Any]) -> None:
    await cache.set("a", 1, tags=("org:7", "x"))
    await cache.set("b", 2, tags=("org:7",))
    await cache.set("c", 3, tags=("org:8",))
    assert await cache.invalidate_tags("org:7") == 2
    assert await cache.get_many(["a", "b", "c"]) == [None, None, 3]
    assert await cache.invalidate_tags("org:7", "unknown") == 0


def _const(value: Any) -> Any:
    async def load() -> Any:
        return value

    return load


async def test_get_or_load_single_flight_in_process(cache: RedisCache[Any, Any]) -> None:
    calls = 0

    async def loader() -> int:
        nonlocal calls
        calls += 1
        await anyio.sleep(0.05)
        return 42

    results: list[int] = []

    async def call() -> None:
        results.append(await cache.get_or_load("k", loader, ttl=30))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(call)
    assert results == [42] * 20
    assert calls == 1
    assert await cache.get("k") == 42
    assert await cache.get_or_load("k", loader) == 42
    assert calls == 1


async def test_get_or_load_errors_reach_every_waiter_and_nothing_is_stored(
    cache: RedisCache[Any, Any],
) -> None:
    async def failing() -> int:
        await anyio.sleep(0.02)
        raise LookupError("db down")

    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await cache.get_or_load("k", failing)
        except LookupError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(call)
    assert len(errors) == 5
    assert await cache.get("k", default="miss") == "miss"
    assert await cache.get_or_load("k", _const(1)) == 1  # the lease was released


async def test_a_cancelled_leader_hands_over(cache: RedisCache[Any, Any]) -> None:
    started = anyio.Event()

    async def slow() -> int:
        started.set()
        await anyio.sleep(10)
        return 1

    leader_scope = anyio.CancelScope()
    waiter_result: list[int] = []

    async def leader() -> None:
        with leader_scope:
            await cache.get_or_load("k", slow)

    async def waiter() -> None:
        waiter_result.append(await cache.get_or_load("k", _const(2)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(leader)
        await started.wait()
        tg.start_soon(waiter)
        await anyio.sleep(0.02)
        leader_scope.cancel()
    assert waiter_result == [2]


async def test_get_or_load_timeout(cache: RedisCache[Any, Any]) -> None:
    async def slow() -> int:
        await anyio.sleep(5)
        return 1

    with pytest.raises(TimeoutError):
        await cache.get_or_load("k", slow, timeout=0.1)
    # the lease was released: the next caller loads at once
    assert await cache.get_or_load("k", _const(3), timeout=1) == 3


async def test_a_dead_holders_lease_expires_and_a_waiter_takes_over(
    cache: RedisCache[Any, Any],
) -> None:
    lease = cache._lease_key(cache.key_codec.encode("k"))
    await cache.client.set(lease, b"someone-dead", px=300)
    before = anyio.current_time()
    assert await cache.get_or_load("k", _const("mine"), timeout=3) == "mine"
    waited = anyio.current_time() - before
    assert 0.25 < waited < 1.5
    assert cache.stats().lease_waits >= 1


async def test_the_lease_is_renewed_while_a_long_load_runs(
    redis_server: RedisServer, prefix: str
) -> None:
    """A load longer than lease_ttl keeps its lease: the other process waits, then reads."""
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        await anyio.sleep(1.0)
        return "slow"

    def make() -> RedisCache[str, str]:
        return RedisCache(url=redis_server.url, prefix=prefix, lease_ttl=0.3, op_timeout=2.0)

    async with make() as first, make() as second:
        results: list[str] = []

        async def call(cache: RedisCache[str, str], delay: float) -> None:
            await anyio.sleep(delay)
            results.append(await cache.get_or_load("k", slow, timeout=5))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, first, 0.0)
            tg.start_soon(call, second, 0.5)  # well past one lease_ttl
        assert results == ["slow", "slow"]
        assert calls == 1
        assert second.stats().lease_waits >= 1
        await first.clear()


async def test_a_write_during_a_load_wins(cache: RedisCache[Any, Any]) -> None:
    async def slow() -> str:
        await cache.set("k", "written meanwhile")
        return "loaded"

    assert await cache.get_or_load("k", slow) == "loaded"
    assert await cache.get("k") == "written meanwhile"  # the fenced store was refused


async def test_cached_decorator_over_redis(cache: RedisCache[Any, Any]) -> None:
    calls = 0

    @cached(cache, ttl=30, namespace="tests.square")
    async def square(x: int) -> int:
        nonlocal calls
        calls += 1
        return x * x

    assert await square(3) == 9
    assert await square(3) == 9
    assert calls == 1
    assert await square.invalidate(3)
    assert await square(3) == 9
    assert calls == 2
    assert await square.cache_clear() == 1
    assert await square(3) == 9
    assert calls == 3


async def test_cached_condition_over_redis(cache: RedisCache[Any, Any]) -> None:
    calls = 0

    @cached(cache, namespace="tests.maybe", condition=lambda result: result is not None)
    async def maybe(x: int) -> int | None:
        nonlocal calls
        calls += 1
        return None if x < 0 else x

    assert await maybe(-1) is None
    assert await maybe(-1) is None
    assert calls == 2  # a None result is returned, not stored
    assert await maybe(5) == 5
    assert await maybe(5) == 5
    assert calls == 3


async def test_refresh_ahead(cache: RedisCache[Any, Any]) -> None:
    await cache.set("k", "old", ttl=0.5)
    assert await cache.get_or_load("k", _const("new"), ttl=10, refresh_ahead=1) == "new"
    assert await cache.get("k") == "new"
    with pytest.raises(ValueError, match="refresh_ahead must be shorter than the ttl"):
        await cache.get_or_load("k", _const(1), ttl=1, refresh_ahead=2)


async def test_unreachable_server_fails_fast(prefix: str) -> None:
    from .servers import free_port

    async with RedisCache[str, int](
        url=f"redis://127.0.0.1:{free_port()}/0", prefix=prefix, op_timeout=0.2
    ) as dead:
        before = anyio.current_time()
        with pytest.raises(L2Error):
            await dead.get("k")
        assert anyio.current_time() - before < 1.0
        assert dead.stats().l2_errors
