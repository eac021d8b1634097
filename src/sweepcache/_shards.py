"""A shard: one striped lock and the expiry index of the keys that hash to it."""

from __future__ import annotations

import threading

from ._expiry import NEVER, Entry, ExpiryIndex, K, V


class Shard(ExpiryIndex[K, V]):
    """The lock and expiry index for the keys whose hash falls in this stripe.

    Entries themselves live in the cache's single dict, so a read needs no
    shard lookup and no lock; the shard's lock serialises every change to the
    entries of its keys together with their index slots, and is never held
    across an ``await``.
    """

    __slots__ = ("lock",)

    def __init__(self, width: float) -> None:
        super().__init__(width)
        self.lock = threading.Lock()

    def put(self, data: dict[K, Entry[V]], key: K, entry: Entry[V], now: float) -> None:
        """Store ``entry`` under ``key`` and file it; the caller holds ``lock``.

        A new key also reclaims up to two expired entries of this shard, so
        the number of expired entries stays bounded by the writes even when
        no sweeper runs (the seed cache leaked them forever).
        """
        old = data.get(key)
        data[key] = entry
        expires_at = entry[1]
        if old is not None:
            # Most overwrites keep their bucket: test that inline before the
            # call. (With NEVER, inf % 1.0 is NaN, so the test fails over to
            # move, which handles it.)
            old_scaled = old[1] * self._inverse_width
            new_scaled = expires_at * self._inverse_width
            if old_scaled - old_scaled % 1.0 != new_scaled - new_scaled % 1.0:
                self.move(key, old[1], expires_at, data)
            return
        if expires_at < NEVER:
            self.add(key, expires_at)
        heap = self.heap
        if heap:
            scaled = now * self._inverse_width
            due = scaled - scaled % 1.0
            if heap[0] < due:
                self.reclaim_due(due, now, 2, data)

    def pop(self, data: dict[K, Entry[V]], key: K) -> Entry[V] | None:
        """Remove ``key`` and its index slot; return its entry. The caller holds ``lock``."""
        old = data.pop(key, None)
        if old is not None and old[1] < NEVER:
            self.leave(self.bucket_of(old[1]), data)
        return old
