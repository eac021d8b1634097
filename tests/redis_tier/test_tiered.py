"""``TieredCache``: L1 fills, ttl caps, invalidation across processes, races, link loss.

"Another process" is a second tier with its own client and tracking link on
the same prefix; the real multi-process tests are in ``test_processes.py``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sweepcache import Cache, cached
from sweepcache.redis import L2Error, RedisCache, TieredCache

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .servers import RedisServer

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def tier(url: str, prefix: str, **options: Any) -> AsyncIterator[TieredCache[Any, Any]]:
    # A generous op_timeout (a loaded CI machine can hold one operation past
    # the default 0.25 s); the fault tests check the short deadlines.
    l2_options: dict[str, Any] = {"op_timeout": 2.0}
    l2_options.update(
        (name, options.pop(name))
        for name in ("on_l2_error", "op_timeout", "ping_interval")
        if name in options
    )
    tiered = TieredCache[Any, Any](
        l1=Cache(default_ttl=60), l2=RedisCache(url=url, prefix=prefix, **l2_options), **options
    )
    async with tiered:
        await wait_for(lambda: tiered.link_up)
        yield tiered


async def wait_for(condition: Any, limit: float = 5.0) -> None:
    """Wait (checking every millisecond) until ``condition()`` is true."""
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 - polls state that has no event
            await anyio.sleep(0.001)


async def test_reads_fill_l1_capped_by_pttl_and_l1_ttl(
    redis_server: RedisServer, prefix: str
) -> None:
    async with tier(redis_server.url, prefix, l1_ttl=5) as a:
        await a.l2.set("short", 1, ttl=0.5)
        await a.l2.set("long", 2, ttl=100)
        await a.l2.set("never", 3, ttl=None)
        assert await a.get("short") == 1
        assert await a.get("long") == 2
        assert await a.get("never") == 3
        assert 0 < (a.l1.ttl_nowait("short") or 0) <= 0.5
        assert 4 < (a.l1.ttl_nowait("long") or 0) <= 5
        assert 4 < (a.l1.ttl_nowait("never") or 0) <= 5
        assert a.get_nowait("long") == 2
        assert await a.get("missing", default="d") == "d"
        await a.clear()


@pytest.mark.parametrize(
    "l1_options",
    [{}, {"record_stats": True}, {"maxsize": 100}, {"maxsize": 100, "record_stats": True}],
    ids=["plain", "stats", "maxsize", "maxsize+stats"],
)
async def test_l1_reads_follow_the_l1_variant(
    redis_server: RedisServer, prefix: str, l1_options: dict[str, Any]
) -> None:
    """The tier's inlined L1 read: hits, misses and expired entries as the L1's own get."""
    from sweepcache.testing import FakeClock

    clock = FakeClock()
    l1: Cache[Any, Any] = Cache(default_ttl=60, clock=clock, **l1_options)
    tiered = TieredCache[Any, Any](
        l1=l1, l2=RedisCache(url=redis_server.url, prefix=prefix, op_timeout=2.0)
    )
    assert isinstance(tiered, TieredCache)
    async with tiered:
        await wait_for(lambda: tiered.link_up)
        # White box: entries in L1 only (a write through the tier could be
        # dropped from L1 by its own invalidation message at any moment).
        l1.set_nowait("none", None, ttl=100)  # a cached None is a hit, not a miss
        l1.set_nowait("local only", 1, ttl=1)
        assert await tiered.get("none", "default") is None
        assert await tiered.get("local only") == 1
        clock.advance(2)  # "local only" expired in L1; Redis has nothing either
        assert await tiered.get("local only", "default") == "default"
        assert "local only" not in l1
        with pytest.raises(TypeError, match="hashable"):
            await tiered.get([])
        if l1_options.get("record_stats"):
            stats = l1.stats()
            assert (stats.hits, stats.misses) == (2, 1)
        await tiered.clear()


async def test_an_l1_subclass_keeps_its_own_get(redis_server: RedisServer, prefix: str) -> None:
    """The tier inlines the L1 read path only for Cache itself, not over a subclass's override."""

    class Upper(Cache[str, Any]):
        async def get(self, key: str, default: object = None) -> Any:
            value = await super().get(key, default)
            return value.upper() if isinstance(value, str) else value

        def get_nowait(self, key: str, default: object = None) -> Any:
            value = super().get_nowait(key, default)
            return value.upper() if isinstance(value, str) else value

    l1 = Upper(default_ttl=60)
    tiered = TieredCache[str, Any](
        l1=l1, l2=RedisCache(url=redis_server.url, prefix=prefix, op_timeout=2.0)
    )
    async with tiered:
        await wait_for(lambda: tiered.link_up)
        l1.set_nowait("k", "abc")  # white box: in L1 only
        assert tiered.get_nowait("k") == "ABC"
        assert await tiered.get("k") == "ABC"
        await tiered.clear()


async def test_a_write_reaches_every_other_l1(redis_server: RedisServer, prefix: str) -> None:
    async with tier(redis_server.url, prefix) as a, tier(redis_server.url, prefix) as b:
        seen = b.l2.stats().invalidations
        await a.set("k", "v1")
        # A read that overlaps the write's invalidation does not fill L1.
        await wait_for(lambda: b.l2.stats().invalidations > seen)
        assert await b.get("k") == "v1"
        assert b.get_nowait("k") == "v1"  # in b's L1 now
        await a.set("k", "v2")
        await wait_for(lambda: b.get_nowait("k", "gone") == "gone")
        assert await b.get("k") == "v2"
        await a.delete("k")
        await wait_for(lambda: b.get_nowait("k", "gone") == "gone")
        assert await b.get("k") is None
        # expiry in Redis is pushed too
        await a.set("e", 1, ttl=0.05)
        assert await b.get("e") == 1
        await anyio.sleep(0.1)
        assert await b.get("e") is None
        # many, expire, tags
        await a.set_many({"m1": 1, "m2": 2})
        assert await b.get_many(["m1", "m2"]) == [1, 2]
        assert await b.get("m1") == 1
        await a.delete_many(["m1"])
        await wait_for(lambda: b.get_nowait("m1", "gone") == "gone")
        seen = b.l2.stats().invalidations
        await a.set("t", 1, tags=("grp",))
        await wait_for(lambda: b.l2.stats().invalidations > seen)
        assert await b.get("t") == 1
        assert b.get_nowait("t") == 1
        assert await a.invalidate_tags("grp") == 1
        await wait_for(lambda: b.get_nowait("t", "gone") == "gone")
        assert await b.get("t") is None
        assert b.stats().l1_invalidations >= 3
        await a.clear()


async def test_an_invalidation_racing_a_read_keeps_the_old_reply_out_of_l1(
    redis_server: RedisServer, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with tier(redis_server.url, prefix) as a, tier(redis_server.url, prefix) as b:
        await b.set("k", "old")
        original = RedisCache._get_with_pttl

        async def read_then_lose_the_race(self: RedisCache[Any, Any], redis_key: bytes) -> Any:
            reply = await original(self, redis_key)  # "old", on its way back
            if self is not a.l2:
                return reply
            seen = a.l2.stats().invalidations
            await b.set("k", "new")  # another process writes meanwhile
            await wait_for(lambda: a.l2.stats().invalidations > seen)
            return reply

        monkeypatch.setattr(RedisCache, "_get_with_pttl", read_then_lose_the_race)
        assert await a.get("k") == "old"  # what Redis said at the time
        monkeypatch.undo()
        assert a.get_nowait("k", "not in L1") == "not in L1"
        assert a.stats().l1_fills_dropped == 1
        assert await a.get("k") == "new"
        await a.clear()


async def test_a_local_write_voids_reads_in_flight(
    redis_server: RedisServer, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with tier(redis_server.url, prefix) as a:
        await a.l2.set("k", "old")
        original = RedisCache._get_with_pttl
        reading = anyio.Event()
        release = anyio.Event()

        async def slow_read(self: RedisCache[Any, Any], redis_key: bytes) -> Any:
            reply = await original(self, redis_key)
            reading.set()
            await release.wait()
            return reply

        monkeypatch.setattr(RedisCache, "_get_with_pttl", slow_read)
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.get, "k")
            await reading.wait()
            monkeypatch.undo()
            await a.set("k", "new")
            release.set()
        await anyio.sleep(0.01)
        assert a.get_nowait("k", "miss") in ("new", "miss")  # never "old"
        assert await a.get("k") == "new"
        await a.clear()


async def test_nothing_enters_l1_before_the_link_is_up(
    redis_server: RedisServer, prefix: str
) -> None:
    tiered = TieredCache[Any, Any](l1=Cache(), l2=RedisCache(url=redis_server.url, prefix=prefix))
    async with tiered.l2.client:
        await tiered.l2.set("k", 1)
        assert await tiered.get("k") == 1
        assert tiered.get_nowait("k", "miss") == "miss"
        assert not tiered.link_up
        await tiered.l2.clear()


def tracking_client_ids(server: RedisServer) -> list[str]:
    lines = server.cli("CLIENT", "LIST").splitlines()
    return [
        line.split()[0].removeprefix("id=")
        for line in lines
        if "flags=tB" in line or " flags=t " in line
    ]


async def test_losing_the_link_flushes_l1_and_recovery_trusts_it_again(
    redis_server: RedisServer, prefix: str
) -> None:
    async with tier(redis_server.url, prefix) as a, tier(redis_server.url, prefix) as b:
        seen = a.l2.stats().invalidations
        await b.set("k", "v1")
        await wait_for(lambda: a.l2.stats().invalidations > seen)
        assert await a.get("k") == "v1"
        assert a.get_nowait("k") == "v1"
        flushes = a.stats().l1_flushes
        for client_id in tracking_client_ids(redis_server):
            redis_server.cli("CLIENT", "KILL", "ID", client_id)
        await wait_for(lambda: a.stats().l1_flushes > flushes)
        assert a.get_nowait("k", "flushed") == "flushed"
        await wait_for(lambda: a.link_up and b.link_up, limit=2.0)
        assert a.l2.stats().link_losses >= 1
        assert await a.get("k") == "v1"
        await b.set("k", "v2")
        await wait_for(lambda: a.get_nowait("k", "gone") == "gone")
        assert await a.get("k") == "v2"
        await a.clear()


async def test_max_staleness_keeps_serving_l1_for_a_while(
    redis_server: RedisServer, prefix: str
) -> None:
    async with tier(redis_server.url, prefix, max_staleness=0.3) as a:
        await a.set("k", "v")
        await wait_for(lambda: a.get_nowait("k", None) is None)  # own echo
        assert await a.get("k") == "v"
        for client_id in tracking_client_ids(redis_server):
            redis_server.cli("CLIENT", "KILL", "ID", client_id)
        await wait_for(lambda: a.l2.stats().link_losses >= 1)
        # Served until the link is back (it flushes then) or 0.3 s pass.
        assert a.get_nowait("k", "flushed") in ("v", "flushed")
        await wait_for(lambda: a.link_up, limit=2.0)
        assert a.get_nowait("k", "flushed") == "flushed"
        await a.clear()


async def test_get_or_load_fills_both_tiers_once(redis_server: RedisServer, prefix: str) -> None:
    async with tier(redis_server.url, prefix) as a, tier(redis_server.url, prefix) as b:
        calls = 0

        async def loader() -> dict[str, int]:
            nonlocal calls
            calls += 1
            await anyio.sleep(0.05)
            return {"n": calls}

        results: list[Any] = []

        async def call(tiered: TieredCache[Any, Any]) -> None:
            results.append(await tiered.get_or_load("k", loader, ttl=30))

        async with anyio.create_task_group() as tg:
            for index in range(20):
                tg.start_soon(call, a if index % 2 else b)
        assert calls == 1
        assert results == [{"n": 1}] * 20
        assert await a.get_or_load("k", loader) == {"n": 1}
        assert await b.get_or_load("k", loader) == {"n": 1}
        assert a.get_nowait("k") == {"n": 1} or b.get_nowait("k") == {"n": 1}
        await a.clear()


async def test_cached_over_a_tier(redis_server: RedisServer, prefix: str) -> None:
    async with tier(redis_server.url, prefix) as a:
        calls = 0

        @cached(a, ttl=30, namespace="tests.double")
        async def double(x: int) -> int:
            nonlocal calls
            calls += 1
            return 2 * x

        assert await double(2) == 4
        assert await double(2) == 4
        assert calls == 1
        assert await double.invalidate(2)
        assert await double(2) == 4
        assert calls == 2
        assert await double.cache_clear() == 1  # @cached's own tag, in Redis and L1
        assert await double(2) == 4
        assert calls == 3
        await a.clear()


async def test_fallback_and_raise_when_redis_is_unreachable(prefix: str) -> None:
    from .servers import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    async with TieredCache[Any, Any](
        l1=Cache(), l2=RedisCache(url=url, prefix=prefix, op_timeout=0.1, on_l2_error="fallback")
    ) as tiered:
        assert await tiered.get("k", default="d") == "d"

        async def load() -> str:
            return "loaded"

        assert await tiered.get_or_load("k", load) == "loaded"
        with pytest.raises(L2Error):
            await tiered.set("k", 1)
        with pytest.raises(L2Error):
            await tiered.delete("k")
    async with TieredCache[Any, Any](
        l1=Cache(), l2=RedisCache(url=url, prefix=prefix, op_timeout=0.1)
    ) as tiered:
        with pytest.raises(L2Error):
            await tiered.get("k")
        with pytest.raises(L2Error):
            await tiered.get_or_load("k", load)


async def test_arguments(redis_server: RedisServer, prefix: str) -> None:
    l2 = RedisCache[Any, Any](url=redis_server.url, prefix=prefix)
    with pytest.raises(TypeError, match=r"l1 must be a sweepcache\.Cache, got dict"):
        TieredCache(l1={}, l2=l2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"l2 must be a sweepcache\.redis\.RedisCache"):
        TieredCache(l1=Cache(), l2={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="l1_ttl must be > 0"):
        TieredCache(l1=Cache(), l2=l2, l1_ttl=0)
    with pytest.raises(ValueError, match="max_staleness must be >= 0"):
        TieredCache(l1=Cache(), l2=l2, max_staleness=-1)
    TieredCache(l1=Cache(), l2=l2)
    with pytest.raises(ValueError, match="already belongs to another TieredCache"):
        TieredCache(l1=Cache(), l2=l2)
