"""White-box checks of the expiry index, shared by the model, thread and index tests."""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sweepcache import Cache

NEVER = math.inf


def assert_index_consistent(cache: Cache[Any, Any], *, swept: bool = False) -> None:
    """Check the expiry index of every shard against ``cache._data`` (white box).

    With ``swept``, also check that no due bucket is left (a full sweep just ran).
    """
    data = cache._data
    mask = len(cache._shards) - 1
    now = cache._clock()
    for index, shard in enumerate(cache._shards):
        current = shard.bucket_of(now)
        entries_per_bucket: Counter[float] = Counter()
        filed: dict[float, list[Any]] = {}
        for key, (_, expires_at) in data.items():
            if hash(key) & mask == index and expires_at < NEVER:
                bucket_id = shard.bucket_of(expires_at)
                entries_per_bucket[bucket_id] += 1
                filed.setdefault(bucket_id, []).append(key)
        heap_ids = set(shard.heap)
        for bucket_id, bucket in shard._buckets.items():
            size = len(bucket.keys)
            live = entries_per_bucket.pop(bucket_id, 0)
            assert 0 <= bucket.stale <= size, (bucket_id, bucket.stale, size)
            assert size - bucket.stale == live, (bucket_id, bucket.keys, bucket.stale)
            assert all(hash(key) & mask == index for key in bucket.keys)
            assert set(filed.get(bucket_id, ())) <= set(bucket.keys)
            assert bucket_id in heap_ids, f"bucket {bucket_id} missing from the heap"
            if bucket_id >= current:
                # Not due: only writes touched it, and they keep it at most half stale.
                assert live >= 1, f"empty bucket {bucket_id} kept"
                assert size <= 2 * live, (bucket_id, size, live)
            else:
                assert not swept, f"due bucket {bucket_id} survived a sweep"
        assert not entries_per_bucket, f"entries with no bucket: {dict(entries_per_bucket)}"
        if shard.heap:
            assert shard.heap[0] == min(shard.heap)
    if swept:
        finite = sum(1 for _, expires_at in data.values() if expires_at < NEVER)
        assert sum(len(shard) for shard in cache._shards) <= 2 * finite
