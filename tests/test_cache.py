"""The public ``Cache`` API: every method, its TTL semantics and its error paths.

Expiry is driven by a ``FakeClock``; every async test runs on asyncio,
asyncio+uvloop and trio.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import pytest

from sweepcache import DEFAULT_TTL, Cache
from sweepcache._cache import default_layout

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio

BAD_TTLS_VALUE = [-1, -0.001, math.nan, -math.inf]
BAD_TTLS_TYPE = ["10", b"1", [], object(), True, 1j]


# -- construction ----------------------------------------------------------------------


def test_defaults() -> None:
    cache: Cache[str, int] = Cache()
    assert cache.default_ttl == 60.0
    assert cache.shards == 16
    assert cache.sweep_interval == 1.0
    assert len(cache) == 0
    assert "sweepcache.Cache" in repr(cache)


@pytest.mark.parametrize("shards", [0, 3, 6, 12, -4])
def test_shards_must_be_power_of_two(shards: int) -> None:
    with pytest.raises(
        ValueError, match=rf"shards must be a power of two from 1 to 1024, got {shards}"
    ):
        Cache(shards=shards)


@pytest.mark.parametrize("shards", [1, 2, 4, 64, 1024])
def test_shards_accepts_powers_of_two(shards: int) -> None:
    assert Cache(shards=shards).shards == shards


@pytest.mark.parametrize("shards", [4.0, "4", True])
def test_shards_type(shards: Any) -> None:
    with pytest.raises(TypeError, match="shards must be an int"):
        Cache(shards=shards)


@pytest.mark.parametrize("interval", [0, -1, math.nan, math.inf, 5e-324, 0.0009, 86401, 10**400])
def test_sweep_interval_range(interval: float) -> None:
    with pytest.raises(ValueError, match=r"sweep_interval must be between 0\.001 and 86400 s"):
        Cache(sweep_interval=interval)


@pytest.mark.parametrize("interval", ["1", None, True])
def test_sweep_interval_type(interval: Any) -> None:
    with pytest.raises(TypeError, match="sweep_interval must be a number"):
        Cache(sweep_interval=interval)


@pytest.mark.parametrize("ttl", [0, 0.0, *BAD_TTLS_VALUE])
def test_default_ttl_must_be_positive(ttl: float) -> None:
    with pytest.raises(ValueError, match="default_ttl must be"):
        Cache(default_ttl=ttl)


def test_default_ttl_type() -> None:
    with pytest.raises(TypeError, match="default_ttl must be a number of seconds or None, got str"):
        Cache(default_ttl="60")  # type: ignore[arg-type]


def test_default_ttl_none_and_inf_mean_never(clock: FakeClock) -> None:
    for default in (None, math.inf):
        cache: Cache[str, int] = Cache(default_ttl=default, clock=clock)
        assert cache.default_ttl is None
        cache.set_nowait("k", 1)
        clock.advance(1e9)
        assert cache.get_nowait("k") == 1


def test_clock_must_be_callable() -> None:
    with pytest.raises(TypeError, match="clock must be a callable"):
        Cache(clock=1.0)  # type: ignore[arg-type]


# -- get / set -------------------------------------------------------------------------


async def test_get_set_roundtrip(cache: Cache[str, object]) -> None:
    await cache.set("a", {"x": 1})
    assert await cache.get("a") == {"x": 1}
    assert cache.get_nowait("a") == {"x": 1}


async def test_miss_returns_default(cache: Cache[str, int]) -> None:
    assert await cache.get("missing") is None
    assert await cache.get("missing", 7) == 7
    assert cache.get_nowait("missing", default="d") == "d"


async def test_stored_none_is_a_hit(cache: Cache[str, None]) -> None:
    marker = object()
    await cache.set("n", None)
    assert await cache.get("n", marker) is None
    assert cache.get_nowait("n", marker) is None
    assert "n" in cache


async def test_default_ttl_applies(clock: FakeClock) -> None:
    cache: Cache[str, int] = Cache(default_ttl=10, clock=clock)
    await cache.set("k", 1)
    clock.advance(9.999)
    assert await cache.get("k") == 1
    clock.advance(0.001)
    assert await cache.get("k") is None


async def test_explicit_default_ttl_sentinel(clock: FakeClock) -> None:
    cache: Cache[str, int] = Cache(default_ttl=5, clock=clock)
    await cache.set("k", 1, ttl=DEFAULT_TTL)
    assert await cache.ttl("k") == pytest.approx(5)


async def test_expiry_is_exact_at_the_instant(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("k", 1, ttl=2.5)
    clock.advance(2.4999)
    assert await cache.get("k") == 1
    assert "k" in cache
    clock.advance(0.0001)
    assert "k" not in cache
    assert await cache.get("k") is None


async def test_ttl_none_never_expires(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("k", 1, ttl=None)
    clock.advance(10**9)
    assert await cache.get("k") == 1
    assert await cache.ttl("k") is None


async def test_ttl_inf_means_never(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("k", 1, ttl=math.inf)
    clock.advance(10**9)
    assert await cache.get("k") == 1


@pytest.mark.parametrize("zero", [0, 0.0])
async def test_ttl_zero_deletes(cache: Cache[str, int], zero: float) -> None:
    await cache.set("k", 1)
    await cache.set("k", 2, ttl=zero)
    assert await cache.get("k") is None
    assert len(cache) == 0
    cache.set_nowait("k", 3, ttl=zero)  # deleting a missing key is fine
    assert len(cache) == 0


@pytest.mark.parametrize("ttl", BAD_TTLS_VALUE)
async def test_bad_ttl_value_changes_nothing(cache: Cache[str, int], ttl: float) -> None:
    await cache.set("k", 1)
    with pytest.raises(ValueError, match="ttl must be >= 0 or None"):
        await cache.set("k", 2, ttl=ttl)
    with pytest.raises(ValueError, match="ttl must be >= 0 or None"):
        cache.set_nowait("new", 2, ttl=ttl)
    assert await cache.get("k") == 1
    assert "new" not in cache
    assert len(cache) == 1


@pytest.mark.parametrize("ttl", BAD_TTLS_TYPE)
async def test_bad_ttl_type_changes_nothing(cache: Cache[str, int], ttl: Any) -> None:
    await cache.set("k", 1)
    with pytest.raises(TypeError, match="ttl must be a number of seconds or None"):
        await cache.set("k", 2, ttl=ttl)
    assert await cache.get("k") == 1


@pytest.mark.parametrize("ttl", [3, 3.0, Fraction(3, 1)])
async def test_real_number_ttls_accepted(
    cache: Cache[str, int], clock: FakeClock, ttl: Any
) -> None:
    await cache.set("k", 1, ttl=ttl)
    clock.advance(2)
    assert await cache.ttl("k") == pytest.approx(1)


async def test_overwrite_replaces_value_and_ttl(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("k", 1, ttl=100)
    await cache.set("k", 2, ttl=1)
    clock.advance(1)
    assert await cache.get("k") is None
    await cache.set("k", 3, ttl=1)
    await cache.set("k", 4, ttl=None)
    clock.advance(1000)
    assert await cache.get("k") == 4
    assert len(cache) == 1


async def test_any_hashable_key(cache: Cache[object, str]) -> None:
    keys: list[object] = [1, 2.5, ("t", 1), frozenset({1}), None, b"b", "s"]
    for key in keys:
        await cache.set(key, repr(key))
    for key in keys:
        assert await cache.get(key) == repr(key)
    # Equal keys are the same entry, whatever their type.
    await cache.set(1.0, "float one")
    assert await cache.get(1) == "float one"


@pytest.mark.parametrize("key", [[1], {"a": 1}, {1}, bytearray(b"x")])
async def test_unhashable_key_names_its_type(cache: Cache[Any, int], key: Any) -> None:
    name = type(key).__name__
    pattern = f"hashable.*'{name}'"
    with pytest.raises(TypeError, match=pattern):
        await cache.set(key, 1)
    with pytest.raises(TypeError, match=pattern):
        await cache.get(key)
    with pytest.raises(TypeError, match=pattern):
        cache.get_nowait(key)
    with pytest.raises(TypeError, match=pattern):
        await cache.delete(key)
    with pytest.raises(TypeError, match=pattern):
        _ = key in cache
    with pytest.raises(TypeError, match=pattern):
        await cache.ttl(key)
    with pytest.raises(TypeError, match=pattern):
        await cache.expire(key, 1)
    with pytest.raises(TypeError, match=pattern):
        await cache.get_many(["ok", key])
    with pytest.raises(TypeError, match=pattern):
        await cache.delete_many(["ok", key])
    assert len(cache) == 0


async def test_expired_entry_is_removed_on_read(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("k", 1, ttl=1)
    clock.advance(1)
    assert len(cache) == 1  # not reclaimed yet: len counts it
    assert await cache.get("k") is None
    assert len(cache) == 0


# -- contains / len -------------------------------------------------------------------


async def test_contains_honours_expiry(cache: Cache[str, int], clock: FakeClock) -> None:
    assert "k" not in cache
    await cache.set("k", 1, ttl=1)
    assert "k" in cache
    clock.advance(1)
    assert "k" not in cache


async def test_len_counts_unreclaimed_expired(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set_many({"a": 1, "b": 2}, ttl=1)
    await cache.set("c", 3, ttl=None)
    clock.advance(5)
    assert len(cache) == 3
    assert await cache.sweep() == 2
    assert len(cache) == 1


# -- delete / clear ------------------------------------------------------------------


async def test_delete(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("k", 1)
    assert await cache.delete("k") is True
    assert await cache.delete("k") is False
    assert await cache.get("k") is None
    await cache.set("never", 1, ttl=None)
    assert cache.delete_nowait("never") is True
    assert len(cache) == 0


async def test_delete_expired_returns_false_and_removes(
    cache: Cache[str, int], clock: FakeClock
) -> None:
    await cache.set("k", 1, ttl=1)
    clock.advance(2)
    assert await cache.delete("k") is False
    assert len(cache) == 0


async def test_clear(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set_many({f"k{i}": i for i in range(100)}, ttl=5)
    await cache.set("forever", 1, ttl=None)
    await cache.clear()
    assert len(cache) == 0
    assert await cache.get("k1") is None
    clock.advance(10)
    assert await cache.sweep() == 0
    # The cache is fully usable after a clear.
    await cache.set("k1", 11, ttl=5)
    assert await cache.get("k1") == 11
    clock.advance(5)
    assert await cache.sweep() == 1


# -- many ----------------------------------------------------------------------------


async def test_get_many(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("a", 1)
    await cache.set("short", 2, ttl=1)
    clock.advance(1)
    assert await cache.get_many(["a", "short", "missing"]) == [1, None, None]
    assert await cache.get_many(["a", "missing"], default=0) == [1, 0]
    assert await cache.get_many([]) == []
    assert await cache.get_many(iter(["a"])) == [1]


async def test_set_many(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set_many({"a": 1, "b": 2}, ttl=2)
    await cache.set_many({"c": 3})
    clock.advance(2)
    assert await cache.get_many(["a", "b", "c"]) == [None, None, 3]


async def test_set_many_zero_ttl_deletes(cache: Cache[str, int]) -> None:
    await cache.set_many({"a": 1, "b": 2})
    await cache.set_many({"a": 0, "x": 0}, ttl=0)
    assert await cache.get_many(["a", "b", "x"]) == [None, 2, None]


@pytest.mark.parametrize("ttl", [-1, math.nan, "1"])
async def test_set_many_bad_ttl_changes_nothing(cache: Cache[str, int], ttl: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        await cache.set_many({"a": 1, "b": 2}, ttl=ttl)
    assert len(cache) == 0


async def test_delete_many(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set_many({"a": 1, "b": 2, "c": 3})
    await cache.set("short", 4, ttl=1)
    clock.advance(1)
    assert await cache.delete_many(["a", "b", "short", "missing"]) == 2
    assert await cache.get_many(["a", "b", "c"]) == [None, None, 3]
    assert len(cache) == 1


async def test_delete_many_unhashable_changes_nothing(cache: Cache[Any, int]) -> None:
    await cache.set("a", 1)
    with pytest.raises(TypeError):
        await cache.delete_many(["a", ["unhashable"]])
    assert await cache.get("a") == 1


# -- ttl / expire --------------------------------------------------------------------


async def test_ttl_reports_remaining(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("k", 1, ttl=10)
    clock.advance(4)
    assert await cache.ttl("k") == pytest.approx(6)


async def test_ttl_missing_and_expired_raise_keyerror(
    cache: Cache[str, int], clock: FakeClock
) -> None:
    with pytest.raises(KeyError, match="missing"):
        await cache.ttl("missing")
    await cache.set("k", 1, ttl=1)
    clock.advance(1)
    with pytest.raises(KeyError):
        await cache.ttl("k")


async def test_expire_changes_live_entry(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("k", 1, ttl=10)
    assert await cache.expire("k", 100) is True
    clock.advance(50)
    assert await cache.get("k") == 1
    assert await cache.ttl("k") == pytest.approx(50)
    assert await cache.expire("k", None) is True
    assert await cache.ttl("k") is None
    assert await cache.expire("k", 1) is True
    clock.advance(1)
    assert await cache.get("k") is None


async def test_expire_missing_or_expired(cache: Cache[str, int], clock: FakeClock) -> None:
    assert await cache.expire("missing", 10) is False
    await cache.set("k", 1, ttl=1)
    clock.advance(1)
    assert await cache.expire("k", 10) is False
    assert await cache.get("k") is None


async def test_expire_zero_deletes(cache: Cache[str, int]) -> None:
    await cache.set("k", 1)
    assert await cache.expire("k", 0) is True
    assert "k" not in cache
    assert len(cache) == 0


@pytest.mark.parametrize("ttl", [-1, math.nan, "5"])
async def test_expire_bad_ttl_changes_nothing(cache: Cache[str, int], ttl: Any) -> None:
    await cache.set("k", 1, ttl=10)
    with pytest.raises((ValueError, TypeError), match="ttl must be"):
        await cache.expire("k", ttl)
    assert await cache.ttl("k") == pytest.approx(10)


async def test_expire_moves_key_for_the_sweeper(cache: Cache[str, int], clock: FakeClock) -> None:
    await cache.set("k", 1, ttl=1000)
    await cache.expire("k", 1)
    clock.advance(1)
    assert await cache.sweep() == 1
    assert len(cache) == 0


# -- nowait twins share the semantics -------------------------------------------------


def test_nowait_api_without_event_loop(clock: FakeClock) -> None:
    cache: Cache[str, int] = Cache(clock=clock)
    cache.set_nowait("k", 1, ttl=1)
    assert cache.get_nowait("k") == 1
    assert cache.delete_nowait("k") is True
    cache.set_nowait("k", 2)
    cache.clear_nowait()
    assert len(cache) == 0


def test_clock_read_once_per_get_many(clock: FakeClock) -> None:
    reads = 0

    def counting_clock() -> float:
        nonlocal reads
        reads += 1
        return clock()

    import anyio

    cache: Cache[str, int] = Cache(clock=counting_clock)
    cache.set_nowait("a", 1)
    cache.set_nowait("b", 2)
    reads = 0
    assert anyio.run(cache.get_many, ["a", "b", "c"]) == [1, 2, None]
    assert reads == 1


def test_layout_follows_the_build_or_the_test_override() -> None:
    cache: Cache[str, int] = Cache(shards=4)
    expected = os.environ.get("SWEEPCACHE_TEST_LAYOUT") or default_layout()
    assert cache._layout == expected
    assert len(cache._dicts) == (4 if expected == "sharded" else 1)
    cache.set_nowait("k", 1)
    assert cache.get_nowait("k") == 1
    assert sum(len(shard.data) for shard in cache._shards) == (1 if expected == "sharded" else 4)
