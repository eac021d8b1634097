"""``sweepcache.compat``: the seed's ``AsyncInMemoryCache`` API on ``Cache``.

The seed's own test class runs unchanged in ``tests/seed/``; these tests pin
the documented differences and the seed idioms users rely on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sweepcache import Cache
from sweepcache.compat import AsyncInMemoryCache, user_cache

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def compat(clock: FakeClock) -> AsyncInMemoryCache[str, Any]:
    return AsyncInMemoryCache[str, Any](clock=clock)


def test_seed_construction_and_subscripting() -> None:
    cache = AsyncInMemoryCache[str, dict]()  # type: ignore[type-arg]  # the seed's own spelling
    assert isinstance(cache, AsyncInMemoryCache)
    assert isinstance(cache.cache, Cache)
    assert cache.cache.default_ttl == 60.0


async def test_get_set_clear(compat: AsyncInMemoryCache[str, Any]) -> None:
    assert await compat.get("missing") is None
    await compat.set("user:1", {"id": 1}, ttl=300.0)
    assert await compat.get("user:1") == {"id": 1}
    await compat.clear()
    assert await compat.get("user:1") is None


async def test_default_ttl_is_sixty_seconds(
    compat: AsyncInMemoryCache[str, Any], clock: FakeClock
) -> None:
    await compat.set("k", 1)
    clock.advance(59.9)
    assert await compat.get("k") == 1
    clock.advance(0.1)
    assert await compat.get("k") is None


async def test_stored_none_reads_as_none(compat: AsyncInMemoryCache[str, Any]) -> None:
    await compat.set("k", None)
    assert await compat.get("k") is None


@pytest.mark.parametrize("ttl", [0, 0.0, -1, -0.5, -math.inf])
async def test_non_positive_ttl_invalidates_without_tombstone(
    compat: AsyncInMemoryCache[str, Any], ttl: float
) -> None:
    await compat.set("user:id:1", {"id": 1})
    await compat.set("user:id:1", None, ttl=ttl)  # the seed's invalidation idiom
    assert await compat.get("user:id:1") is None
    assert len(compat.cache) == 0


async def test_nan_ttl_raises(compat: AsyncInMemoryCache[str, Any]) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await compat.set("k", 1, ttl=math.nan)
    assert len(compat.cache) == 0


@pytest.mark.parametrize("ttl", ["60", [60], True, False])
async def test_non_number_ttl_raises(compat: AsyncInMemoryCache[str, Any], ttl: Any) -> None:
    with pytest.raises(TypeError, match="ttl"):
        await compat.set("k", 1, ttl=ttl)


async def test_none_ttl_never_expires(
    compat: AsyncInMemoryCache[str, Any], clock: FakeClock
) -> None:
    await compat.set("k", 1, ttl=None)
    clock.advance(1e9)
    assert await compat.get("k") == 1


async def test_delete(compat: AsyncInMemoryCache[str, Any]) -> None:
    await compat.set("k", 1)
    assert await compat.delete("k") is True
    assert await compat.delete("k") is False


async def test_write_once_keys_do_not_accumulate(
    compat: AsyncInMemoryCache[str, Any], clock: FakeClock
) -> None:
    """The seed kept every expired rate-limit/session key forever."""
    for i in range(5000):
        await compat.set(f"rate_limit:{i}", {"count": 1}, ttl=1.0)
        clock.advance(0.01)
    assert len(compat.cache) < 400


async def test_unhashable_key(compat: AsyncInMemoryCache[Any, Any]) -> None:
    with pytest.raises(TypeError, match=r"hashable.*'list'"):
        await compat.set(["k"], 1)


def test_user_cache_singleton_works_in_every_loop() -> None:
    """Built at import time, used from fresh asyncio and trio loops."""

    async def use(tag: str) -> object:
        await user_cache.set(f"user:{tag}", {"tag": tag}, ttl=300.0)
        return await user_cache.get(f"user:{tag}")

    assert anyio.run(use, "a", backend="asyncio") == {"tag": "a"}
    assert anyio.run(use, "b", backend="trio") == {"tag": "b"}
    assert anyio.run(use, "c", backend="asyncio") == {"tag": "c"}
    anyio.run(user_cache.clear)


async def test_user_cache_is_typed_for_objects() -> None:
    await user_cache.set("user:id:7", {"id": 7})
    assert await user_cache.get("user:id:7") == {"id": 7}
    await user_cache.clear()
