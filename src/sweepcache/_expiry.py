"""The expiry index: keys grouped into time buckets, one index per shard.

A pure data structure: it never reads the clock (callers pass ``now``), never
locks (callers hold their shard's lock around every method) and never frees a
key or value: whatever it removes is appended to the caller's ``removed`` /
``dropped`` lists (see ``_removal.py``), which the caller releases after its lock, so that a
``__del__`` (or weakref callback) that calls back into the cache can never
deadlock on the shard's lock.

Layout, after Ristretto's expiration map: a key whose entry expires at ``t``
lives in bucket ``floor(t * inverse_width)``, kept as a float: ``y - y % 1.0``
is exact and costs a third of ``int(y)`` (25 ns against 75 ns, timeit on
CPython 3.11). A bucket is *due* once the current instant falls in a later
bucket; every key still filed in a due bucket has expired (the bucket
function is monotonic, so ``t > now`` would put the key in ``bucket(now)`` or
later). Reclaiming a due bucket therefore costs one step per key filed in it,
not one per key in the cache.

Instants at or beyond the *horizon* (``2**52`` bucket widths, about 35 million
years with the default one-second sweep interval) are not indexed: past it
bucket ids are no longer exact whole numbers, and an infinite scaled instant
would give a NaN bucket. Such entries expire on read only, like entries that
never expire.

Buckets are append-only lists (8 bytes a key). A key that leaves a bucket
(overwritten with another expiry, deleted, expired on read) leaves a stale
copy behind; each bucket counts its stale copies and, once they are the
majority, compacts itself *incrementally*: its keys move to a ``pending``
list that every later leave (and the sweeper) works through
``COMPACT_STEP`` slots at a time, while new keys go to a fresh list. No single
step costs more than a few microseconds, whatever the bucket's size, and the
index never holds more than about three times the keys that are live in it,
with or without a sweeper running.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any, Final, Generic, TypeVar

from ._removal import EXPIRED, Removal

K = TypeVar("K")
V = TypeVar("V")

#: ``expires_at`` of an entry that never expires; such entries are not indexed.
NEVER: Final = float("inf")
#: Bucket ids must stay below this to be exact whole numbers.
HORIZON_BUCKETS: Final = 2.0**52
#: Slots a compaction step examines: a few microseconds of work per leave.
COMPACT_STEP: Final = 16

#: What the cache stores under a key: ``(value, expires_at, key, ...)``
#: (see ``_shards.py``); the index only reads ``expires_at``.
Entry = tuple[Any, ...]


class LookupDict(dict[Any, Any]):
    """A dict whose ``get(key)`` never takes the dict's lock: the free-threaded layout's dicts.

    On free-threaded CPython 3.13, ``dict.get`` enters the dict's critical
    section, and with two threads at work it falls into a slow path: in a
    two-thread write benchmark here, ``d.get(k)`` made writers 4x slower than
    ``d[k]`` on one thread and collapsed to half the throughput on two, while
    ``d[k]`` and ``k in d`` read lock-free and scaled (cpython PR #129336
    removed the lock in 3.14). Here ``get`` is ``__getitem__`` and a missing
    key gives ``None`` through ``__missing__``, so every ``.get(key)`` in the
    cache reads lock-free without a second code path. (Under the GIL plain
    dicts stay: ``__missing__`` costs a Python call on every miss.)
    """

    __slots__ = ()

    get = dict.__getitem__  # type: ignore[assignment]

    def __missing__(self, key: object) -> None:
        return None


class Bucket(Generic[K]):
    """The keys filed under one time bucket, and how many copies are stale.

    ``pending`` holds the part of the bucket a compaction has not examined
    yet (``None`` when no compaction runs); ``seen`` the keys it kept so far.
    """

    __slots__ = ("keys", "pending", "seen", "stale")

    def __init__(self) -> None:
        self.keys: list[K] = []
        self.stale = 0
        self.pending: list[K] | None = None
        self.seen: set[K] | None = None

    def __len__(self) -> int:
        pending = self.pending
        return len(self.keys) + (0 if pending is None else len(pending))


class ExpiryIndex(Generic[K, V]):
    """Time-bucket index over the keys of one shard.

    Invariant: for every bucket ``b``, ``len(b) - b.stale`` is the number of
    distinct keys whose current entry maps to ``b``.
    """

    __slots__ = ("_buckets", "_dict_type", "_inverse_width", "heap", "horizon")

    def __init__(self, width: float, dict_type: type[dict[Any, Any]] = dict) -> None:
        self._dict_type = dict_type
        self._inverse_width = 1.0 / width
        #: Instants at or beyond this are not indexed (they expire on read).
        self.horizon = HORIZON_BUCKETS * width
        self._buckets: dict[float, Bucket[K]] = dict_type()
        #: Min-heap of bucket ids; may hold ids of buckets already dropped.
        #: Public for white-box tests and ``has_due``.
        self.heap: list[float] = []

    def bucket_of(self, expires_at: float) -> float:
        """Return the bucket id (a whole number) of an instant below the horizon."""
        scaled = expires_at * self._inverse_width
        return scaled - scaled % 1.0

    def add(self, key: K, expires_at: float) -> None:
        """File a key that was not indexed under ``expires_at`` (below the horizon)."""
        scaled = expires_at * self._inverse_width
        bucket_id = scaled - scaled % 1.0
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            bucket = self._buckets[bucket_id] = Bucket()
            self._push(bucket_id)
        bucket.keys.append(key)

    def move(
        self,
        key: K,
        old_expires_at: float,
        expires_at: float,
        data: dict[K, Entry],
        dropped: list[object],
    ) -> None:
        """Record that ``key`` moved from ``old_expires_at`` to ``expires_at``.

        Either may be at or beyond the horizon (not indexed). ``data`` must
        already hold the new entry.
        """
        horizon = self.horizon
        if old_expires_at < horizon:
            old_id = self.bucket_of(old_expires_at)
            if expires_at < horizon and self.bucket_of(expires_at) == old_id:
                return
            self.leave(old_id, data, dropped)
        if expires_at < horizon:
            self.add(key, expires_at)

    def forget(self, expires_at: float, data: dict[K, Entry], dropped: list[object]) -> None:
        """Record that a key filed under ``expires_at`` left ``data``."""
        if expires_at < self.horizon:
            self.leave(self.bucket_of(expires_at), data, dropped)

    def leave(self, bucket_id: float, data: dict[K, Entry], dropped: list[object]) -> None:
        """Mark one copy in ``bucket_id`` stale; drop the bucket or compact a step if due."""
        bucket = self._buckets.get(bucket_id)
        if bucket is None:  # already reclaimed by a sweep in progress
            return
        bucket.stale += 1
        pending = bucket.pending
        size = len(bucket.keys) + (0 if pending is None else len(pending))
        if bucket.stale >= size:
            del self._buckets[bucket_id]
            dropped.append(bucket)  # its key references die after the lock
        elif pending is not None or bucket.stale * 2 > size:
            self._compact_step(bucket_id, bucket, data, dropped, COMPACT_STEP)

    def _compact_step(
        self,
        bucket_id: float,
        bucket: Bucket[K],
        data: dict[K, Entry],
        dropped: list[object],
        budget: int,
        now: float | None = None,
        removed: list[Removal] | None = None,
    ) -> int:
        """Examine up to ``budget`` pending slots: keep each live key once, drop the rest.

        With ``now`` (the sweeper), keys that have expired are removed from
        ``data`` into ``removed`` instead of being kept. Returns how many were.
        """
        pending = bucket.pending
        if pending is None:
            # Start: the current keys become pending; new keys go to a fresh list.
            pending = bucket.pending = bucket.keys
            bucket.keys = []
            bucket.seen = set()
        keys = bucket.keys
        seen = bucket.seen
        assert seen is not None
        inverse_width = self._inverse_width
        reclaimed = 0
        while pending and budget > 0:
            budget -= 1
            key = pending.pop()
            entry = data.get(key) if key not in seen else None
            if (
                entry is not None
                and (scaled := entry[1] * inverse_width) - scaled % 1.0 == bucket_id
            ):
                if now is not None and entry[1] <= now:
                    del data[key]
                    removed.append((key, entry, EXPIRED))  # type: ignore[union-attr]
                    reclaimed += 1
                else:
                    keys.append(key)
                    seen.add(key)
            else:  # a stale copy: the key moved, left, or was kept already
                bucket.stale -= 1
                dropped.append(key)
        if not pending:
            bucket.pending = None
            dropped.append(bucket.seen)  # frees its key references after the lock
            bucket.seen = None
            if not keys:
                if self._buckets.get(bucket_id) is bucket:
                    del self._buckets[bucket_id]
            elif bucket.stale * 2 > len(keys):
                # Keys that left during the pass are still half the bucket:
                # start the next pass now (its work comes with later leaves).
                bucket.pending = keys
                bucket.keys = []
                bucket.seen = set()
        return reclaimed

    def _push(self, bucket_id: float) -> None:
        heap = self.heap
        heappush(heap, bucket_id)
        # Drop the ids of buckets that compaction or deletion removed, so the
        # heap stays within a constant factor of the live buckets.
        if len(heap) > 2 * len(self._buckets) + 64:
            heap[:] = self._buckets
            heapify(heap)

    def reset_index(self) -> dict[float, Bucket[K]]:
        """Forget every key; return the old buckets for the caller to free after its lock."""
        buckets = self._buckets
        self._buckets = self._dict_type()
        self.heap = []
        return buckets

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
        self,
        due: float,
        now: float,
        limit: int,
        data: dict[K, Entry],
        removed: list[Removal],
        dropped: list[object],
    ) -> bool:
        """Remove expired entries filed in buckets older than ``due``.

        Looks at no more than ``limit`` index slots (ids of dropped buckets
        included). Appends each removed ``(key, entry)`` to ``removed`` and
        every other reference it lets go of to ``dropped``. Returns whether
        no due bucket is left.
        """
        heap = self.heap
        buckets = self._buckets
        bucket_of = self.bucket_of
        while heap and limit > 0:
            bucket_id = heap[0]
            if bucket_id >= due:
                return True
            bucket = buckets.get(bucket_id)
            if bucket is None:
                heappop(heap)
                limit -= 1
                continue
            for keys in (bucket.keys, bucket.pending):
                while keys and limit > 0:
                    limit -= 1
                    key = keys.pop()
                    entry = data.get(key)
                    if entry is not None and entry[1] <= now and bucket_of(entry[1]) == bucket_id:
                        del data[key]
                        removed.append((key, entry, EXPIRED))
                    else:
                        # A stale copy: the key moved to another bucket or left.
                        # (With a clock that went backwards, a live key filed in
                        # a due bucket also lands here: it leaves the index and
                        # expires lazily on read. Clocks must be monotonic.)
                        bucket.stale -= 1
                        dropped.append(key)
            if not bucket.keys and not bucket.pending:
                if buckets.get(bucket_id) is bucket:
                    del buckets[bucket_id]
                if bucket.seen is not None:
                    dropped.append(bucket.seen)
                    bucket.seen = None
                heappop(heap)
        return not heap or heap[0] >= due

    def reclaim_current(
        self,
        bucket_id: float,
        start: int,
        now: float,
        limit: int,
        data: dict[K, Entry],
        removed: list[Removal],
        dropped: list[object],
    ) -> int:
        """Remove the expired entries of the bucket that ``now`` falls in.

        First finishes a compaction in progress (reclaiming as it goes), then
        scans from position ``start`` for at most ``limit`` slots, dropping
        stale copies on the way. Returns the position to resume from, ``-1``
        once the scan reached the end.
        """
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            return -1
        if bucket.pending is not None:
            self._compact_step(bucket_id, bucket, data, dropped, limit, now, removed)
            return 0 if self._buckets.get(bucket_id) is bucket else -1
        keys = bucket.keys
        bucket_of = self.bucket_of
        horizon = self.horizon
        position = min(start, len(keys))
        while position < len(keys) and limit > 0:
            limit -= 1
            key = keys[position]
            entry = data.get(key)
            current = entry is not None and entry[1] < horizon and bucket_of(entry[1]) == bucket_id
            if current and entry[1] > now:  # type: ignore[index]
                position += 1
                continue
            # Remove this copy by swapping the last one into its place.
            keys[position] = keys[-1]
            keys.pop()
            if current:
                del data[key]
                removed.append((key, entry, EXPIRED))  # type: ignore[arg-type]
            else:
                bucket.stale -= 1
                dropped.append(key)
        if not keys:
            del self._buckets[bucket_id]
        return position if position < len(keys) else -1

    def __len__(self) -> int:
        """Index slots in use, stale copies included (for tests and memory checks)."""
        return sum(len(bucket) for bucket in self._buckets.values())
