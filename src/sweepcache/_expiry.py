"""The expiry index: keys grouped into time buckets, one index per shard.

A pure data structure: it never reads the clock (callers pass ``now``) and
never locks (callers hold their shard's lock around every method).

Layout, after Ristretto's expiration map: a key whose entry expires at ``t``
lives in bucket ``floor(t * inverse_width)``, kept as a float: ``y - y % 1.0``
is exact and costs a third of ``int(y)`` (25 ns against 75 ns, timeit on
CPython 3.11). A bucket is *due* once the current instant falls in a later
bucket; every key still filed in a due bucket has expired (the bucket
function is monotonic, so ``t > now`` would put the key in ``bucket(now)`` or
later). Reclaiming a due bucket therefore costs one step per key filed in it,
not one per key in the cache.

Buckets are append-only lists (8 bytes a key). A key that leaves a bucket
(overwritten with another expiry, deleted, expired on read) leaves a stale
copy behind; each bucket counts its stale copies and compacts itself once
they are the majority, so the index never holds more than twice the keys that
are live in it, with or without a sweeper running. Compaction costs
``O(len(bucket))`` and happens after at least ``len(bucket) / 2`` leaves:
amortised ``O(1)`` per write.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: ``expires_at`` of an entry that never expires; such entries are not indexed.
NEVER = float("inf")

Entry = tuple[V, float]


class Bucket(Generic[K]):
    """The keys filed under one time bucket, and how many of them are stale."""

    __slots__ = ("keys", "stale")

    def __init__(self) -> None:
        self.keys: list[K] = []
        self.stale = 0


class ExpiryIndex(Generic[K, V]):
    """Time-bucket index over the keys of one shard.

    Invariant: for every bucket ``b``, ``len(b.keys) - b.stale`` is the number
    of distinct keys whose current entry maps to ``b``.
    """

    __slots__ = ("_buckets", "_inverse_width", "heap")

    def __init__(self, width: float) -> None:
        self._inverse_width = 1.0 / width
        self._buckets: dict[float, Bucket[K]] = {}
        #: Min-heap of bucket ids; may hold ids of buckets already dropped.
        #: Public for white-box tests and ``has_due``.
        self.heap: list[float] = []

    def bucket_of(self, expires_at: float) -> float:
        """Return the bucket id (a whole number) for a finite instant."""
        scaled = expires_at * self._inverse_width
        return scaled - scaled % 1.0

    def add(self, key: K, expires_at: float) -> None:
        """File a key that was not indexed under its finite ``expires_at``."""
        scaled = expires_at * self._inverse_width
        bucket_id = scaled - scaled % 1.0
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            bucket = self._buckets[bucket_id] = Bucket()
            self._push(bucket_id)
        bucket.keys.append(key)

    def move(
        self, key: K, old_expires_at: float, expires_at: float, data: dict[K, Entry[V]]
    ) -> None:
        """Record that ``key`` moved from ``old_expires_at`` to ``expires_at``.

        Either may be ``NEVER`` (not indexed). ``data`` must already hold the
        new entry.
        """
        if old_expires_at < NEVER:
            old_id = self.bucket_of(old_expires_at)
            if expires_at < NEVER and self.bucket_of(expires_at) == old_id:
                return
            self.leave(old_id, data)
        if expires_at < NEVER:
            self.add(key, expires_at)

    def leave(self, bucket_id: float, data: dict[K, Entry[V]]) -> None:
        """Mark one copy in ``bucket_id`` stale; compact or drop the bucket if due."""
        bucket = self._buckets.get(bucket_id)
        if bucket is None:  # already reclaimed by a sweep in progress
            return
        bucket.stale += 1
        size = len(bucket.keys)
        if bucket.stale * 2 > size:
            if bucket.stale >= size:
                del self._buckets[bucket_id]
            else:
                self._compact(bucket_id, bucket, data)

    def _compact(self, bucket_id: float, bucket: Bucket[K], data: dict[K, Entry[V]]) -> None:
        # Keep each key once, and only if its entry still maps here. The
        # bucket test is written out (see bucket_of) because this loop is what
        # deletes of long-lived keys pay for, amortised. An entry that never
        # expires scales to inf, and inf - inf % 1.0 is NaN: never equal.
        inverse_width = self._inverse_width
        bucket.keys = [
            key
            for key in dict.fromkeys(bucket.keys)
            if (entry := data.get(key)) is not None
            and (scaled := entry[1] * inverse_width) - scaled % 1.0 == bucket_id
        ]
        bucket.stale = 0

    def _push(self, bucket_id: float) -> None:
        heap = self.heap
        heappush(heap, bucket_id)
        # Drop the ids of buckets that compaction or deletion removed, so the
        # heap stays within a constant factor of the live buckets.
        if len(heap) > 2 * len(self._buckets) + 64:
            heap[:] = self._buckets
            heapify(heap)

    def clear(self) -> None:
        """Forget every key."""
        self._buckets.clear()
        self.heap.clear()

    def has_due(self, due: float) -> bool:
        """Whether some bucket older than ``due`` may hold keys (cheap, may be stale).

        Safe without the lock: another thread may empty the heap between the
        two reads on a free-threaded build, which only means "nothing due".
        """
        try:
            return self.heap[0] < due
        except IndexError:
            return False

    def reclaim_due(
        self, due: float, now: float, limit: int, data: dict[K, Entry[V]]
    ) -> tuple[int, bool]:
        """Remove expired entries filed in buckets older than ``due``.

        Looks at no more than ``limit`` index slots. Returns how many entries
        were removed from ``data`` and whether no due bucket is left.
        """
        heap = self.heap
        buckets = self._buckets
        bucket_of = self.bucket_of
        reclaimed = 0
        while heap and limit > 0:
            bucket_id = heap[0]
            if bucket_id >= due:
                return reclaimed, True
            bucket = buckets.get(bucket_id)
            if bucket is None:
                heappop(heap)
                continue
            keys = bucket.keys
            while keys and limit > 0:
                limit -= 1
                key = keys.pop()
                entry = data.get(key)
                if entry is not None and entry[1] <= now and bucket_of(entry[1]) == bucket_id:
                    del data[key]
                    reclaimed += 1
                else:
                    # A stale copy: the key moved to another bucket or left.
                    # (With a clock that went backwards, a live key filed in
                    # a due bucket also lands here: it leaves the index and
                    # expires lazily on read. Clocks must be monotonic.)
                    bucket.stale -= 1
            if not keys:
                if buckets.get(bucket_id) is bucket:
                    del buckets[bucket_id]
                heappop(heap)
        return reclaimed, not heap or heap[0] >= due

    def reclaim_current(
        self, bucket_id: float, start: int, now: float, limit: int, data: dict[K, Entry[V]]
    ) -> tuple[int, int]:
        """Remove the expired entries of the bucket that ``now`` falls in.

        Scans from position ``start`` for at most ``limit`` slots, dropping
        stale copies on the way. Returns ``(reclaimed, next_start)``; a
        ``next_start`` of ``-1`` means the scan reached the end.
        """
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            return 0, -1
        keys = bucket.keys
        bucket_of = self.bucket_of
        reclaimed = 0
        position = min(start, len(keys))
        while position < len(keys) and limit > 0:
            limit -= 1
            key = keys[position]
            entry = data.get(key)
            current = entry is not None and entry[1] < NEVER and bucket_of(entry[1]) == bucket_id
            if current and entry[1] > now:  # type: ignore[index]
                position += 1
                continue
            # Remove this copy by swapping the last one into its place.
            keys[position] = keys[-1]
            keys.pop()
            if current:
                del data[key]
                reclaimed += 1
            else:
                bucket.stale -= 1
        if not keys:
            del self._buckets[bucket_id]
        return reclaimed, (position if position < len(keys) else -1)

    def __len__(self) -> int:
        """Index slots in use, stale copies included (for tests and memory checks)."""
        return sum(len(bucket.keys) for bucket in self._buckets.values())
