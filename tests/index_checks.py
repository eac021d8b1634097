"""White-box checks of the expiry index, shared by the model, thread and index tests."""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from sweepcache._expiry import COMPACT_STEP

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sweepcache import Cache

NEVER = math.inf


def entries(cache: Cache[Any, Any]) -> dict[Any, tuple[Any, ...]]:
    """Every stored entry, whatever the layout (one dict, or one per shard)."""
    merged: dict[Any, tuple[Any, ...]] = {}
    for data in cache._dicts:
        merged.update(data)
    return merged


def expiries(cache: Cache[Any, Any]) -> dict[Any, float]:
    """``key -> expires_at`` of every stored entry."""
    return {key: entry[1] for key, entry in entries(cache).items()}


def sweep_step_counts(cache: Cache[Any, Any]) -> Iterator[int]:
    """Run one sweep pass step by step, yielding how many entries each locked step removed."""
    removed: list[Any] = []
    dropped: list[object] = []
    for _ in cache._sweep_steps(removed, dropped):
        count = len(removed)
        removed.clear()
        dropped.clear()
        yield count


def assert_index_consistent(cache: Cache[Any, Any], *, swept: bool = False) -> None:
    """Check the expiry index of every shard against the entries (white box).

    With ``swept``, also check that no due bucket is left (a full sweep just ran).
    """
    data = entries(cache)
    mask = len(cache._shards) - 1
    now = cache._clock()
    for index, shard in enumerate(cache._shards):
        current = shard.bucket_of(now)
        entries_per_bucket: Counter[float] = Counter()
        filed: dict[float, list[Any]] = {}
        for key, entry in data.items():
            expires_at = entry[1]
            if cache.maxsize is None:  # bounded entries hold the policy's token there
                assert entry[2] == key, (key, entry)
            if hash(key) & mask == index and expires_at < shard.horizon:
                bucket_id = shard.bucket_of(expires_at)
                entries_per_bucket[bucket_id] += 1
                filed.setdefault(bucket_id, []).append(key)
            if len(cache._dicts) > 1 and hash(key) & mask == index:
                assert key in shard.data, f"{key!r} stored in another shard's dict"
        heap_ids = set(shard.heap)
        for bucket_id, bucket in shard._buckets.items():
            size = len(bucket)
            slots = list(bucket.keys) + list(bucket.pending or ())
            live = entries_per_bucket.pop(bucket_id, 0)
            assert 0 <= bucket.stale <= size, (bucket_id, bucket.stale, size)
            assert size - bucket.stale == live, (bucket_id, slots, bucket.stale)
            assert all(hash(key) & mask == index for key in slots)
            assert set(filed.get(bucket_id, ())) <= set(slots)
            assert bucket_id in heap_ids, f"bucket {bucket_id} missing from the heap"
            if bucket_id >= current:
                # Not due: only writes touched it. They keep it at most half
                # stale, or compact it incrementally (a little over half).
                assert live >= 1, f"empty bucket {bucket_id} kept"
                if bucket.pending is None:
                    assert size <= 2 * live, (bucket_id, size, live)
                else:
                    assert size <= 3 * live + 2 * COMPACT_STEP, (bucket_id, size, live)
            else:
                assert not swept, f"due bucket {bucket_id} survived a sweep"
        assert not entries_per_bucket, f"entries with no bucket: {dict(entries_per_bucket)}"
        if shard.heap:
            assert shard.heap[0] == min(shard.heap)
    if swept:
        finite = sum(1 for entry in data.values() if entry[1] < NEVER)
        assert sum(len(shard) for shard in cache._shards) <= 3 * finite + 2 * COMPACT_STEP
