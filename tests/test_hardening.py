"""Regressions of the hardening pass: what an attacker (or an unlucky user) tried.

* Huge but finite ttls (``1e308``, ``sys.float_info.max``, ``10**400``, a huge
  ``default_ttl``) live at least as long as asked, are not indexed, and leave
  the rest of the shard working: other keys are still reclaimed, and
  overwriting one such key 10,000 times does not grow the index.
* Nothing is freed under a shard lock: a value (or key) whose ``__del__`` or
  weakref callback calls back into the cache never deadlocks, on overwrite,
  delete, sweep, clear, write-time reclaim, expiry on read and tag
  invalidation; the white-box check records whether any shard lock was held
  when the finaliser ran.
* Every argument has a documented range and a ``ValueError``/``TypeError``
  naming it (never ``OverflowError``, ``ZeroDivisionError`` or NaN buckets).
* A key whose ``repr`` raises never makes a read fail, nor leaves a load behind.
"""

from __future__ import annotations

import datetime
import gc
import math
import sys
import weakref
from fractions import Fraction
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from index_checks import assert_index_consistent, entries
from sweepcache import Cache
from sweepcache.testing import FakeClock

START = 1000.0

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock(START)


# -- huge ttls -------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [1e308, sys.float_info.max, 10**400, Fraction(10**400), 1e200])
def test_huge_ttl_lives_and_leaves_the_shard_working(fake: FakeClock, ttl: Any) -> None:
    cache: Cache[str, int] = Cache(shards=1, clock=fake)
    cache.set_nowait("huge", 1, ttl=ttl)
    for index in range(100):
        cache.set_nowait(f"short-{index}", index, ttl=1.0)
    assert all(not math.isnan(bucket_id) for bucket_id in cache._shards[0]._buckets)
    fake.advance(10.0)
    assert anyio.run(cache.sweep) == 100  # the rest of the shard is still reclaimed
    fake.advance(1e12)
    assert cache.get_nowait("huge") == 1  # lives at least as long as asked
    ttl_left = cache.ttl_nowait("huge")
    assert ttl_left is None or ttl_left > 1e100
    assert_index_consistent(cache)


def test_overwriting_a_huge_ttl_key_keeps_the_index_bounded(fake: FakeClock) -> None:
    cache: Cache[str, int] = Cache(shards=1, clock=fake)
    for round_number in range(10_000):
        cache.set_nowait("huge", round_number, ttl=1e308)
        cache.set_nowait(f"k{round_number % 10}", round_number, ttl=5.0)
        fake.advance(0.01)
    shard = cache._shards[0]
    assert len(shard._buckets) <= 10
    assert len(shard.heap) <= 2 * len(shard._buckets) + 65
    assert len(shard) <= 3 * 10 + 64
    assert_index_consistent(cache)


def test_write_reclaim_still_works_beside_huge_ttls(fake: FakeClock) -> None:
    cache: Cache[int, int] = Cache(shards=1, clock=fake)
    cache.set_nowait(-1, -1, ttl=sys.float_info.max)
    for key in range(10_000):
        cache.set_nowait(key, key, ttl=1.0)
        fake.advance(0.001)
    assert len(cache) < 1_500  # write-once keys are reclaimed by later writes


def test_huge_default_ttl(fake: FakeClock) -> None:
    cache: Cache[str, int] = Cache(default_ttl=1e308, clock=fake)
    cache.set_nowait("k", 1)
    fake.advance(1e15)
    assert cache.get_nowait("k") == 1
    cache2: Cache[str, int] = Cache(default_ttl=10**400, clock=fake)
    assert cache2.default_ttl is None  # too long for a float: never expires


def test_clock_near_the_end_of_floats() -> None:
    clock = FakeClock(1e300)
    cache: Cache[str, int] = Cache(clock=clock)
    cache.set_nowait("k", 1, ttl=1e295)  # far past the index's horizon
    assert cache.get_nowait("k") == 1
    assert anyio.run(cache.sweep) == 0
    clock.advance(1e296)
    assert cache.get_nowait("k") is None  # not indexed, but still expires on read
    assert len(cache) == 0


# -- argument ranges -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"default_ttl": -1}, ValueError, "default_ttl must be > 0 or None"),
        ({"default_ttl": 0}, ValueError, "default_ttl must be > 0 or None"),
        ({"default_ttl": math.nan}, ValueError, "default_ttl must be > 0"),
        ({"default_ttl": -(10**400)}, ValueError, "default_ttl must be > 0"),
        ({"default_ttl": "1"}, TypeError, "default_ttl must be a number of seconds"),
        ({"sweep_interval": 5e-324}, ValueError, "sweep_interval must be between"),
        ({"sweep_interval": 10**400}, ValueError, "sweep_interval must be between"),
        ({"sweep_interval": Fraction(1, 10**400)}, ValueError, "sweep_interval must be between"),
        ({"shards": 2**18}, ValueError, "shards must be a power of two from 1 to 1024"),
        ({"shards": 2048}, ValueError, "shards must be a power of two from 1 to 1024"),
        ({"shards": 10**400}, ValueError, "shards must be a power of two"),
        ({"record_stats": 1}, TypeError, "record_stats must be a bool"),
        ({"name": 3}, TypeError, "name must be a str or None"),
        ({"on_removal": 3}, TypeError, "on_removal must be a callable"),
    ],
)
def test_constructor_arguments_are_checked(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Cache(**kwargs)


def test_timedelta_is_accepted_wherever_a_ttl_is(fake: FakeClock) -> None:
    minute = datetime.timedelta(minutes=1)
    cache: Cache[str, int] = Cache(
        default_ttl=minute, sweep_interval=datetime.timedelta(seconds=2), clock=fake
    )
    assert cache.default_ttl == 60.0
    assert cache.sweep_interval == 2.0
    cache.set_nowait("a", 1, ttl=datetime.timedelta(seconds=5))
    cache.set_many_nowait({"b": 2}, ttl=datetime.timedelta(seconds=7))
    assert cache.ttl_nowait("a") == 5.0
    assert cache.ttl_nowait("b") == 7.0
    assert cache.expire_nowait("a", datetime.timedelta(seconds=9))
    assert cache.ttl_nowait("a") == 9.0
    cache.set_nowait("zero", 1, ttl=datetime.timedelta(0))
    assert "zero" not in cache
    with pytest.raises(ValueError, match="ttl must be >= 0 or None"):
        cache.set_nowait("neg", 1, ttl=datetime.timedelta(seconds=-1))


@pytest.mark.parametrize("ttl", [10**400, Fraction(10**400, 1)])
def test_int_too_large_for_a_float_is_never_rather_than_overflow(fake: FakeClock, ttl: Any) -> None:
    cache: Cache[str, int] = Cache(clock=fake)
    cache.set_nowait("k", 1, ttl=ttl)
    assert cache.ttl_nowait("k") is None
    with pytest.raises(ValueError, match="ttl must be >= 0 or None"):
        cache.set_nowait("k", 1, ttl=-(10**400))


@pytest.mark.parametrize("bad", [-(10**400), math.nan, 0, -1.0])
async def test_timeout_range(cache: Cache[str, int], bad: Any) -> None:
    async def load() -> int:
        return 1

    with pytest.raises(ValueError, match="timeout must be > 0 or None"):
        await cache.get_or_load("k", load, timeout=bad)
    assert await cache.get_or_load("k", load, timeout=10**400) == 1  # huge: no timeout


def test_fake_clock_rejects_huge_and_subnormal_nonsense() -> None:
    with pytest.raises(ValueError, match="start must be finite"):
        FakeClock(10**400)
    clock = FakeClock()
    with pytest.raises(ValueError, match="seconds must be finite"):
        clock.advance(10**400)
    assert clock.advance(5e-324) == 5e-324


# -- nothing freed under a lock --------------------------------------------------------


class Reentrant:
    """A value (or key) whose finaliser calls back into the cache.

    It records whether any shard lock was held when it ran: the whole point
    is that the cache releases what it removes only after its locks.
    """

    events: list[str]

    def __init__(self, cache: Cache[Any, Any], label: str, events: list[str]) -> None:
        self.cache = cache
        self.label = label
        self.events = events

    def __del__(self) -> None:
        cache = self.cache
        held = [index for index, shard in enumerate(cache._shards) if shard.lock.locked()]
        self.events.append(f"{self.label} held={held}")
        if held:
            return  # re-entering would deadlock: the test fails on the event instead
        cache.set_nowait(("reentered", self.label), 1, ttl=100.0)
        cache.get_nowait(("reentered", self.label))
        cache.delete_nowait(("reentered", self.label))

    def __hash__(self) -> int:
        return hash(self.label)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reentrant) and other.label == self.label


def _no_lock_was_held(events: list[str], count: int) -> None:
    assert len(events) >= count, events
    assert all(event.endswith("held=[]") for event in events), events


@pytest.fixture(params=[1, 4], ids=["1-shard", "4-shards"])
def reentrant_cache(request: pytest.FixtureRequest, fake: FakeClock) -> Cache[Any, Any]:
    return Cache(shards=request.param, clock=fake)


def test_overwrite_releases_the_old_value_after_the_lock(
    reentrant_cache: Cache[Any, Any],
) -> None:
    events: list[str] = []
    cache = reentrant_cache
    cache.set_nowait("k", Reentrant(cache, "v1", events), ttl=5.0)
    cache.set_nowait("k", 2, ttl=5.0)  # same bucket
    cache.set_nowait("k", Reentrant(cache, "v2", events), ttl=5.0)
    cache.set_nowait("k", 3, ttl=500.0)  # another bucket
    gc.collect()
    _no_lock_was_held(events, 2)


@pytest.mark.parametrize(
    "remove",
    [
        "delete",
        "delete_many",
        "expire_zero",
        "set_ttl_zero",
        "clear_nowait",
        "clear",
        "read_expired",
        "sweep",
        "write_reclaim",
        "invalidate_tags",
    ],
)
def test_every_removal_releases_after_the_lock(
    reentrant_cache: Cache[Any, Any], fake: FakeClock, remove: str
) -> None:
    events: list[str] = []
    cache = reentrant_cache
    for index in range(20):
        cache.set_nowait(
            Reentrant(cache, f"key{index}", events),
            Reentrant(cache, f"value{index}", events),
            ttl=1.0,
            tags=("t",) if remove == "invalidate_tags" else None,
        )
    keys = [Reentrant(cache, f"key{index}", []) for index in range(20)]
    if remove in ("read_expired", "sweep", "write_reclaim"):
        fake.advance(5.0)
    if remove == "delete":
        for key in keys:
            cache.delete_nowait(key)
    elif remove == "delete_many":
        cache.delete_many_nowait(keys)
    elif remove == "expire_zero":
        for key in keys:
            cache.expire_nowait(key, 0)
    elif remove == "set_ttl_zero":
        for key in keys:
            cache.set_nowait(key, None, ttl=0)
    elif remove == "clear_nowait":
        cache.clear_nowait()
    elif remove == "clear":
        anyio.run(cache.clear)
    elif remove == "read_expired":
        for key in keys:
            assert cache.get_nowait(key) is None
    elif remove == "sweep":
        anyio.run(cache.sweep)
    elif remove == "write_reclaim":
        for index in range(40):
            cache.set_nowait(f"new{index}", index, ttl=100.0)
    else:
        assert cache.invalidate_tags_nowait("t") == 20
    del keys
    gc.collect()
    assert not any(("reentered", f"value{i}") in entries(cache) for i in range(20))
    _no_lock_was_held(events, 20)
    assert_index_consistent(cache)


def test_weakref_callback_reenters_safely(fake: FakeClock) -> None:
    cache: Cache[str, Any] = Cache(shards=1, clock=fake)
    calls: list[bool] = []

    class Value:
        pass

    def callback(_: object) -> None:
        calls.append(cache._shards[0].lock.locked())
        cache.set_nowait("from-callback", 1)

    value = Value()
    ref = weakref.ref(value, callback)
    cache.set_nowait("k", value, ttl=1.0)
    del value
    fake.advance(2.0)
    anyio.run(cache.sweep)
    assert ref() is None
    assert calls == [False]
    assert cache.get_nowait("from-callback") == 1


def test_finaliser_in_the_sweeper_does_not_hang_the_loop(fake: FakeClock) -> None:
    events: list[str] = []
    cache: Cache[str, Any] = Cache(shards=1, sweep_interval=0.001, clock=fake)
    for index in range(500):
        cache.set_nowait(f"k{index}", Reentrant(cache, f"v{index}", events), ttl=1.0)
    fake.advance(2.0)

    async def main() -> None:
        with anyio.fail_after(10):
            async with cache:
                while len(events) < 500:  # noqa: ASYNC110 - the sweeper's own pace
                    await anyio.sleep(0.001)

    anyio.run(main)
    _no_lock_was_held(events, 500)


# -- keys whose repr, hash or eq misbehave ----------------------------------------------


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class BadHash:
    def __hash__(self) -> int:
        raise RuntimeError("no hash for you")


async def test_refresh_hit_with_a_key_whose_repr_raises(
    cache: Cache[Any, Any], clock: FakeClock
) -> None:
    key = BadRepr()
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await cache.get_or_load(key, load, ttl=10, refresh_ahead=5) == 1
    clock.advance(6)
    async with cache:  # the refresh goes to the cache's task group, named after the key
        assert await cache.get_or_load(key, load, ttl=10, refresh_ahead=5) == 1
        with anyio.fail_after(5):
            while calls < 2:
                await anyio.lowlevel.checkpoint()
    assert not cache._loads  # no load left behind
    assert await cache.get(key) == 2


async def test_key_whose_hash_raises_fails_cleanly(cache: Cache[Any, Any]) -> None:
    with pytest.raises(RuntimeError, match="no hash"):
        await cache.set(BadHash(), 1)
    with pytest.raises(RuntimeError, match="no hash"):
        await cache.get(BadHash())
    assert len(cache) == 0
    await cache.set("ok", 1)
    assert await cache.get("ok") == 1


def test_listener_sees_a_key_whose_repr_raises(fake: FakeClock, caplog: Any) -> None:
    def on_removal(key: object, value: object, cause: object) -> None:
        raise ValueError("listener failed")

    cache: Cache[Any, int] = Cache(clock=fake, on_removal=on_removal)
    key = BadRepr()
    cache.set_nowait(key, 1)
    assert cache.delete_nowait(key)
    assert "repr failed" in caplog.text
    assert "listener failed" in caplog.text
