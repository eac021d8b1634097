"""Static types of the public API, checked by ``mypy --strict`` and run by pytest.

Every ``assert_type`` below is verified by mypy (``make types`` covers
``tests/``); the ``# type: ignore[...]`` lines prove that mypy rejects misuse,
since ``--strict`` flags an ignore that is not needed. The same code runs
under pytest on every backend, asserting the values too, so it cannot rot.
"""

from __future__ import annotations

import sys

import pytest

from sweepcache import DEFAULT_TTL, Cache, CacheStats, RemovalCause, TTLArg
from sweepcache.compat import AsyncInMemoryCache, user_cache
from sweepcache.testing import FakeClock

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # mypy checks with python_version = 3.10
    from typing_extensions import assert_type

pytestmark = pytest.mark.anyio


def test_sync_api_types() -> None:
    cache = Cache[str, int](clock=FakeClock())
    assert_type(cache, Cache[str, int])
    assert_type(cache.set_nowait("k", 1), None)
    assert_type(cache.set_nowait("k", 1, ttl=None), None)
    assert_type(cache.set_nowait("k", 1, ttl=DEFAULT_TTL), None)
    assert assert_type(cache.get_nowait("k"), int | None) == 1
    assert assert_type(cache.get_nowait("missing"), int | None) is None
    assert assert_type(cache.get_nowait("missing", 0), int) == 0
    assert assert_type(cache.get_nowait("missing", "none"), int | str) == "none"
    assert assert_type("k" in cache, bool)
    assert assert_type(len(cache), int) == 1
    assert assert_type(cache.delete_nowait("k"), bool)
    assert_type(cache.clear_nowait(), None)
    assert_type(cache.default_ttl, float | None)
    assert_type(cache.sweep_interval, float)
    assert_type(cache.shards, int)


async def test_async_api_types() -> None:
    clock = FakeClock()
    cache = Cache[str, int](clock=clock)
    assert_type(await cache.set("k", 1, ttl=10), None)
    assert assert_type(await cache.get("k"), int | None) == 1
    assert assert_type(await cache.get("missing", 0), int) == 0
    assert assert_type(await cache.get_many(["k", "missing"]), list[int | None]) == [1, None]
    assert assert_type(await cache.get_many(["missing"], -1), list[int]) == [-1]
    assert assert_type(await cache.ttl("k"), float | None) == 10.0
    assert assert_type(await cache.expire("k", None), bool)
    assert assert_type(await cache.ttl("k"), float | None) is None
    assert_type(await cache.set_many({"a": 1, "b": 2}, ttl=5.0), None)
    assert assert_type(await cache.delete("k"), bool)
    assert assert_type(await cache.delete_many(["a", "b", "c"]), int) == 2
    assert assert_type(clock.advance(1.0), float) == 1.0
    assert assert_type(await cache.sweep(), int) == 0
    assert_type(await cache.clear(), None)


async def test_context_manager_keeps_the_type() -> None:
    async with Cache[str, bytes](clock=FakeClock()) as cache:
        assert_type(cache, Cache[str, bytes])
        await cache.set("k", b"v")
        assert assert_type(await cache.get("k"), bytes | None) == b"v"


async def test_compat_types() -> None:
    cache = AsyncInMemoryCache[str, dict[str, int]]()
    assert_type(await cache.set("user:1", {"id": 1}, ttl=300.0), None)
    assert assert_type(await cache.get("user:1"), dict[str, int] | None) == {"id": 1}
    assert assert_type(await cache.delete("user:1"), bool)
    assert_type(cache.cache, Cache[str, dict[str, int]])
    assert_type(user_cache, AsyncInMemoryCache[str, object])


async def test_misuse_is_rejected() -> None:
    """Each line would be a mypy error without its ignore (unused ignores fail --strict)."""
    cache = Cache[str, int](clock=FakeClock())
    with pytest.raises(TypeError):
        cache.set_nowait("k", 1, ttl="10")  # type: ignore[arg-type]
    cache.set_nowait("k", "not an int")  # type: ignore[arg-type]
    await cache.set(1, 1)  # type: ignore[arg-type]
    assert cache.get_nowait(2) is None  # type: ignore[call-overload]
    compat = AsyncInMemoryCache[str, dict[str, int]]()
    await compat.set("k", [1])  # type: ignore[arg-type]


async def remember(
    cache: Cache[str, object], key: str, value: object, ttl: TTLArg = DEFAULT_TTL
) -> None:
    """A wrapper that forwards an optional ``ttl``: the pattern the API page documents."""
    await cache.set(key, value, ttl)


async def test_ttl_arg_forwards_every_kind_of_ttl() -> None:
    import datetime

    clock = FakeClock()
    cache = Cache[str, object](default_ttl=30.0, clock=clock)
    await remember(cache, "default", 1)
    await remember(cache, "seconds", 1, 5)
    await remember(cache, "delta", 1, datetime.timedelta(minutes=1))
    await remember(cache, "never", 1, None)
    assert cache.ttl_nowait("default") == 30.0
    assert cache.ttl_nowait("seconds") == 5.0
    assert cache.ttl_nowait("delta") == 60.0
    assert cache.ttl_nowait("never") is None
    with pytest.raises(TypeError, match="ttl must be a number"):
        await remember(cache, "bad", 1, "5")  # type: ignore[arg-type]


def test_statistics_and_removal_types() -> None:
    removed: list[tuple[str, int, RemovalCause]] = []

    def on_removal(key: str, value: int, cause: RemovalCause) -> None:
        removed.append((key, value, cause))

    cache = Cache[str, int](clock=FakeClock(), on_removal=on_removal, record_stats=True)
    cache.set_nowait("k", 1)
    cache.delete_nowait("k")
    assert removed == [("k", 1, RemovalCause.EXPLICIT)]
    stats = assert_type(cache.stats(), CacheStats)
    assert assert_type(stats.puts, int) == 1
    assert assert_type(stats.hit_ratio, float) >= 0.0
