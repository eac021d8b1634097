"""The expiry index (``ExpiryIndex`` / ``Shard``) driven through the ``Cache`` sync API.

White-box checks, with a ``FakeClock`` and no sweeper task:

* memory stays bounded under set/overwrite/delete churn with no sweep at all:
  index slots stay within twice the indexed entries, the bucket heap within a
  constant factor of the buckets;
* expired write-once keys are reclaimed by later writes of new keys;
* a sweep's work is proportional to the expired entries, not the cache size,
  and a large bucket is processed in bounded slices with no lock held between
  them, even when writes land between the slices;
* ``sweep()`` returns exact counts; ``ttl=None`` entries are never indexed;
  an entry is expired exactly at its ``expires_at`` (``now >= expires_at``).
"""

from __future__ import annotations

import math
import random
from typing import Any, Final

import anyio
import pytest

from index_checks import assert_index_consistent, expiries, sweep_step_counts
from sweepcache import Cache
from sweepcache._sweeper import SLICE_KEYS
from sweepcache.testing import FakeClock

NEVER: Final = math.inf
START: Final = 1000.0


def index_slots(cache: Cache[Any, Any]) -> int:
    return sum(len(shard) for shard in cache._shards)


def heap_size(cache: Cache[Any, Any]) -> int:
    return sum(len(shard.heap) for shard in cache._shards)


def indexed_keys(cache: Cache[Any, Any]) -> int:
    """Distinct keys the index holds as current (slots minus stale copies)."""
    return sum(
        len(bucket) - bucket.stale for shard in cache._shards for bucket in shard._buckets.values()
    )


def expired_stored(cache: Cache[Any, Any]) -> int:
    now = cache._clock()
    return sum(1 for expires_at in expiries(cache).values() if expires_at <= now)


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock(start=START)


class TestBoundedMemoryWithoutSweeper:
    """Set/delete churn cannot grow the index when nothing ever sweeps."""

    @pytest.mark.parametrize("shards", [1, 16])
    def test_churn_on_long_ttl_keys(self, fake: FakeClock, shards: int) -> None:
        cache: Cache[int, int] = Cache(shards=shards, clock=fake)
        rng = random.Random(1234)
        keys = 1_000
        for key in range(keys):
            cache.set_nowait(key, key, ttl=rng.uniform(500.0, 1500.0))
        peak_slots = peak_heap = 0
        moved = 0
        for round_number in range(200_000):
            key = rng.randrange(keys)
            choice = rng.random()
            if choice < 0.6:
                # A new expiry several buckets away, and the clock moves a
                # bucket every 125 rounds: keys keep changing buckets.
                cache.set_nowait(key, round_number, ttl=rng.uniform(500.0, 1500.0))
                moved += 1
            elif choice < 0.7:
                cache.set_nowait(key, round_number, ttl=1000.0)  # same bucket until time moves
            elif choice < 0.8:
                cache.set_nowait(key, round_number, ttl=None)  # leaves the index
            elif choice < 0.95:
                cache.delete_nowait(key)
            else:
                cache.set_nowait(key, round_number, ttl=rng.choice([500.0, 1500.0]))
            fake.advance(0.002)
            if round_number % 2_000 == 0:
                finite = sum(1 for e in expiries(cache).values() if e < NEVER)
                slots = index_slots(cache)
                # Nothing has expired (400 s of 500+ s ttls), so no bucket is due
                # and each holds at most about as many stale copies as live keys
                # (a little more while a compaction is under way).
                assert slots <= 3 * finite, (round_number, slots, finite)
                assert sum(len(s._buckets) for s in cache._shards) <= finite
                assert heap_size(cache) <= 2 * keys + 65 * shards
                peak_slots = max(peak_slots, slots)
                peak_heap = max(peak_heap, heap_size(cache))
        assert moved > 100_000  # far more moves than slots: compaction really ran
        assert peak_slots <= 3 * keys
        assert peak_heap <= 2 * keys + 65 * shards
        assert expired_stored(cache) == 0
        assert_index_consistent(cache)

    def test_overwrites_in_one_bucket_compact_it(self, fake: FakeClock) -> None:
        """Moving most keys out of a bucket compacts it instead of piling up stale copies."""
        cache: Cache[int, int] = Cache(shards=1, sweep_interval=1.0, clock=fake)
        for key in range(100):
            cache.set_nowait(key, key, ttl=10.0)
        (bucket,) = cache._shards[0]._buckets.values()
        for key in range(90):
            cache.set_nowait(key, key, ttl=20.0)  # another bucket
        assert len(bucket) - bucket.stale == 10
        assert bucket.stale * 2 <= len(bucket) or bucket.pending is not None  # compacting
        assert index_slots(cache) <= 2 * len(cache)
        for key in range(90, 100):
            cache.delete_nowait(key)
        assert len(cache._shards[0]._buckets) == 1  # the emptied bucket is gone
        assert_index_consistent(cache)

    def test_heap_forgets_dropped_buckets(self, fake: FakeClock) -> None:
        """Buckets that empty out leave no ever-growing trail of ids on the heap."""
        cache: Cache[int, int] = Cache(shards=1, sweep_interval=1.0, clock=fake)
        for round_number in range(20_000):
            cache.set_nowait(0, round_number, ttl=100.0)  # a new bucket each round
            fake.advance(0.25)
            assert len(cache._shards[0]._buckets) == 1
            assert len(cache._shards[0].heap) <= 2 * 1 + 65
        assert_index_consistent(cache)


class TestReclaimedByWrites:
    """Without a sweeper, writes of new keys reclaim expired write-once keys."""

    @pytest.mark.parametrize("shards", [1, 16])
    def test_write_once_keys_do_not_accumulate(self, fake: FakeClock, shards: int) -> None:
        cache: Cache[int, int] = Cache(shards=shards, clock=fake)
        peak = 0
        for key in range(100_000):
            cache.set_nowait(key, key, ttl=1.0)
            fake.advance(0.001)  # ~1,000 keys live at any instant
            peak = max(peak, len(cache))
        # Live keys, plus at most the quarter-interval bucket not yet due.
        assert peak <= 1_000 + 250 + 50 * shards, peak
        assert index_slots(cache) <= 3 * len(cache)
        assert heap_size(cache) <= 2 * len(cache) + 65 * shards
        assert_index_consistent(cache)

    def test_write_once_keys_via_set_many_do_not_accumulate(self, fake: FakeClock) -> None:
        cache: Cache[int, int] = Cache(shards=16, clock=fake)

        async def write_once_keys() -> None:
            for key in range(20_000):
                await cache.set_many({key: key}, ttl=1.0)
                fake.advance(0.001)

        anyio.run(write_once_keys)
        assert len(cache) <= 1_000 + 250 + 50 * 16

    def test_new_key_reclaims_at_most_two(self, fake: FakeClock) -> None:
        """Each write pays a small, bounded share (two expired entries)."""
        cache: Cache[int, int] = Cache(shards=1, clock=fake)
        for key in range(10):
            cache.set_nowait(key, key, ttl=1.0)
        fake.advance(5.0)
        cache.set_nowait(100, 100, ttl=1.0)
        assert len(cache) == 10 + 1 - 2
        cache.set_nowait(100, 101, ttl=1.0)  # an overwrite reclaims nothing
        assert len(cache) == 9
        assert_index_consistent(cache)


class TestSweepWork:
    """A sweep's cost follows the expired entries, in bounded slices."""

    def test_nothing_expired_touches_nothing(self, fake: FakeClock) -> None:
        cache: Cache[int, int] = Cache(shards=16, clock=fake)
        anyio.run(cache.set_many, dict.fromkeys(range(100_000), 1), 3_600.0)
        fake.advance(100.0)
        before = [(bucket_id, len(b)) for s in cache._shards for bucket_id, b in s._buckets.items()]
        steps = list(sweep_step_counts(cache))
        # One step per shard: the (empty) current bucket; no due bucket, no slices.
        assert steps == [0] * cache.shards
        after = [(bucket_id, len(b)) for s in cache._shards for bucket_id, b in s._buckets.items()]
        assert after == before
        assert len(cache) == 100_000

    @pytest.mark.parametrize("bystanders", [0, 100_000])
    def test_steps_follow_the_expired_count(self, fake: FakeClock, bystanders: int) -> None:
        """1,000 expired keys cost the same steps beside 0 or 100,000 live ones."""
        cache: Cache[int, int] = Cache(shards=4, clock=fake)
        anyio.run(cache.set_many, {-key - 1: 1 for key in range(bystanders)}, 3_600.0)
        anyio.run(cache.set_many, dict.fromkeys(range(1_000), 1), 1.0)
        fake.advance(2.0)
        steps = list(sweep_step_counts(cache))
        assert sum(steps) == 1_000
        # Per shard: due-bucket slices of SLICE_KEYS, then one current-bucket step.
        assert len(steps) <= cache.shards * 2 + 1_000 // SLICE_KEYS + 1
        assert len(cache) == bystanders

    @pytest.mark.parametrize("where", ["due", "current"])
    def test_big_bucket_is_swept_in_slices(self, fake: FakeClock, where: str) -> None:
        """10,000 keys in one bucket take many short locked steps, none holding the lock."""
        cache: Cache[int, int] = Cache(shards=1, sweep_interval=1.0, clock=fake)
        shard = cache._shards[0]
        for key in range(10_000):
            # All in the bucket [1000.0, 1000.25): half expire at .1, half at .2.
            cache.set_nowait(key, key, ttl=0.1 if key % 2 else 0.2)
        assert len(shard._buckets) == 1
        fake.advance(0.15 if where == "current" else 0.5)
        expected = 5_000 if where == "current" else 10_000
        assert expired_stored(cache) == expected
        steps = 0
        reclaimed = 0
        for count in sweep_step_counts(cache):
            assert not shard.lock.locked()  # no lock across a suspension
            assert 0 <= count <= SLICE_KEYS
            steps += 1
            reclaimed += count
        assert reclaimed == expected
        assert steps >= 10_000 // SLICE_KEYS
        assert expired_stored(cache) == 0
        assert len(cache) == 10_000 - expected
        assert_index_consistent(cache)

    @pytest.mark.parametrize(
        "meddle", ["new_key", "overwrite", "overwrite_far", "delete", "expire", "clear"]
    )
    @pytest.mark.parametrize("where", ["due", "current"])
    def test_writes_between_slices(self, fake: FakeClock, meddle: str, where: str) -> None:
        """Writes that land between a sweep's slices keep the index exact."""
        cache: Cache[int, int] = Cache(shards=1, sweep_interval=1.0, clock=fake)
        rng = random.Random(f"{meddle}-{where}")
        for key in range(3_000):
            cache.set_nowait(key, key, ttl=0.1 if key % 2 else 0.2)
        fake.advance(0.15 if where == "current" else 0.5)
        sweep_now = fake.now
        steps = iter(sweep_step_counts(cache))
        new_key = 10_000
        for _ in steps:
            key = rng.randrange(3_000)
            if meddle == "new_key":
                cache.set_nowait(new_key, 0, ttl=0.05)
                new_key += 1
            elif meddle == "overwrite":
                cache.set_nowait(key, -key, ttl=0.07)
            elif meddle == "overwrite_far":
                cache.set_nowait(key, -key, ttl=rng.choice([None, 5.0]))
            elif meddle == "delete":
                cache.delete_nowait(key)
            elif meddle == "expire":
                anyio.run(cache.expire, key, 0.3)
            elif rng.random() < 0.1:
                cache.clear_nowait()
            assert_index_consistent(cache)
        # The pass judged expiry at its own start: nothing it could see as expired is left.
        assert all(e > sweep_now for e in expiries(cache).values())
        fake.advance(1.0)
        expected = expired_stored(cache)
        assert anyio.run(cache.sweep) == expected
        assert expired_stored(cache) == 0
        assert_index_consistent(cache)


class TestExactCounts:
    """``sweep()`` counts exactly, at and around expiry instants."""

    def test_sweep_counts(self, fake: FakeClock) -> None:
        cache: Cache[str, int] = Cache(shards=4, sweep_interval=1.0, clock=fake)
        for i in range(10):
            cache.set_nowait(f"one-{i}", i, ttl=1.0)
        for i in range(5):
            cache.set_nowait(f"two-{i}", i, ttl=2.0)
        for i in range(3):
            cache.set_nowait(f"never-{i}", i, ttl=None)
        cache.delete_nowait("one-0")
        cache.delete_nowait("one-1")
        cache.set_nowait("one-2", 2, ttl=5.0)
        fake.advance(1.5)
        assert cache.get_nowait("one-3") is None  # expired, dropped on read
        assert anyio.run(cache.sweep) == 10 - 2 - 1 - 1
        assert anyio.run(cache.sweep) == 0
        fake.advance(0.5)  # exactly the two-second instant
        assert anyio.run(cache.sweep) == 5
        assert sorted(expiries(cache)) == ["never-0", "never-1", "never-2", "one-2"]
        fake.advance(10_000.0)
        assert sum(sweep_step_counts(cache)) == 1
        assert len(cache) == 3
        assert_index_consistent(cache)

    @pytest.mark.parametrize("ttl", [1e-9, 0.1, 0.25, 0.3, 0.5, 1.0, 7.77, 1234.5678])
    def test_expired_exactly_at_expires_at(self, fake: FakeClock, ttl: float) -> None:
        cache: Cache[str, int] = Cache(shards=1, sweep_interval=1.0, clock=fake)
        cache.set_nowait("k", 1, ttl=ttl)
        cache.set_nowait("sweep-me", 1, ttl=ttl)
        expires_at = cache._data["k"][1]
        fake.advance(math.nextafter(expires_at, -math.inf) - fake.now)
        assert "k" in cache
        assert cache.get_nowait("k") == 1
        assert anyio.run(cache.sweep) == 0
        fake.advance(expires_at - fake.now)
        assert fake.now == expires_at
        assert "k" not in cache
        assert "sweep-me" not in cache
        with pytest.raises(KeyError):
            anyio.run(cache.ttl, "k")
        assert cache.get_nowait("k", "miss") == "miss"
        assert anyio.run(cache.sweep) == 1  # sweep-me, found at the instant
        assert len(cache) == 0
        assert_index_consistent(cache)


class TestNeverExpiringKeys:
    """Entries with ``ttl=None`` cost no index slot and are never swept."""

    def test_never_indexed(self, fake: FakeClock) -> None:
        cache: Cache[int, int] = Cache(default_ttl=None, shards=4, clock=fake)
        for key in range(100):
            cache.set_nowait(key, key, ttl=None)
        for key in range(100, 200):
            cache.set_nowait(key, key)  # default_ttl=None
        anyio.run(cache.set_many, dict.fromkeys(range(200, 300), 0), None)
        assert index_slots(cache) == 0
        assert heap_size(cache) == 0
        fake.advance(1e9)
        assert anyio.run(cache.sweep) == 0
        assert len(cache) == 300

    def test_leaving_the_index(self, fake: FakeClock) -> None:
        cache: Cache[int, int] = Cache(shards=4, clock=fake)
        for key in range(100):
            cache.set_nowait(key, key, ttl=5.0)
        assert indexed_keys(cache) == 100
        for key in range(50):
            cache.set_nowait(key, key, ttl=None)
        for key in range(50, 100):
            assert anyio.run(cache.expire, key, None)
        assert indexed_keys(cache) == 0
        assert index_slots(cache) == 0  # every bucket emptied and dropped
        fake.advance(10.0)
        assert anyio.run(cache.sweep) == 0
        assert len(cache) == 100
        assert_index_consistent(cache)
