"""A shard: one striped lock, the entries' dict, and the expiry index of its keys.

Every method runs with the shard's ``lock`` held, for a bounded number of
steps, and frees nothing: what it removes goes to the caller's ``removed``
(as ``(key, entry, cause)``) and ``dropped`` lists, or is returned, and the
caller lets go of it after releasing the lock.

An entry is the tuple ``(value, expires_at, key)``, or ``(value, expires_at,
key, tags)`` for a tagged one. ``key`` is the key object the dict stores (on
an overwrite the dict keeps its first key object, and so does the new
entry), so that the entry alone keeps it alive until the caller releases it,
wherever the removal happens.

Two classes with one memory layout, so that a shard can change class under
its lock: :class:`Shard` is the plain, fastest path; :class:`TaggedShard`
also keeps the tag index. A cache switches its shards to it on its first
tagged write, so a cache that never uses tags pays nothing for them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ._expiry import Bucket, Entry, ExpiryIndex, K, V
from ._removal import EXPIRED, EXPLICIT, REPLACED, Removal, Trash

if TYPE_CHECKING:
    from collections.abc import Hashable


class Shard(ExpiryIndex[K, V]):
    """The lock, entries and expiry index for the keys whose hash falls in this stripe.

    ``data`` is this shard's own dict (free-threaded layout) or the dict all
    shards share (default layout); either way the shard's lock serialises
    every change to the entries of its keys together with their index slots,
    and is never held across an ``await``.
    """

    __slots__ = ("data", "lock", "tag_index")

    def __init__(
        self, width: float, data: dict[K, Entry], dict_type: type[dict[Any, Any]] = dict
    ) -> None:
        super().__init__(width, dict_type)
        self.lock = threading.Lock()
        self.data = data
        #: Keys of each tag (TaggedShard only).
        self.tag_index: dict[Hashable, set[K]] = dict_type()

    def put(self, key: K, value: V, expires_at: float, now: float) -> object:
        """Store an untagged ``value`` under ``key`` until ``expires_at``; file it.

        A new key also reclaims up to two expired entries of this shard, so
        the number of expired entries stays bounded by the writes even when
        no sweeper runs (the seed cache leaked them forever).

        Returns what the caller must keep until it has released the lock
        (and may report): ``None``, the replaced entry (the common overwrite),
        or a :class:`~sweepcache._removal.Trash` with everything that left.
        """
        data = self.data
        old = data.get(key)
        if old is not None:
            data[key] = (value, expires_at, old[2])
            # Most overwrites keep their bucket: test that inline before the
            # call. (Past the horizon, scaled is inf and inf % 1.0 is NaN, so
            # the test fails over to move, which handles it.)
            old_scaled = old[1] * self._inverse_width
            new_scaled = expires_at * self._inverse_width
            if old_scaled - old_scaled % 1.0 == new_scaled - new_scaled % 1.0:
                return old
            trash = Trash(old)
            self.move(key, old[1], expires_at, data, trash.dropped)
            return trash
        data[key] = (value, expires_at, key)
        if expires_at < self.horizon:
            self.add(key, expires_at)
        heap = self.heap
        if heap:
            scaled = now * self._inverse_width
            due = scaled - scaled % 1.0
            if heap[0] < due:
                trash = Trash()
                self.reclaim_due(due, now, 2, data, trash.removed, trash.dropped)
                return trash
        return None

    def store(
        self,
        key: K,
        value: V,
        expires_at: float,
        now: float,
        removed: list[Removal],
        dropped: list[object],
        tags: frozenset[Hashable] | None = None,
    ) -> None:
        """Like :meth:`put`, with ``tags``, reporting what left in ``removed``/``dropped``.

        An overwritten entry is ``REPLACED`` (``EXPIRED`` if it had expired);
        entries reclaimed on the way are ``EXPIRED``.
        """
        data = self.data
        old = data.get(key)
        if old is not None:
            stored_key = old[2]
            data[key] = (
                (value, expires_at, stored_key)
                if not tags
                else (value, expires_at, stored_key, tags)
            )
            removed.append((key, old, REPLACED if now < old[1] else EXPIRED))
            self.move(key, old[1], expires_at, data, dropped)
            return
        data[key] = (value, expires_at, key) if not tags else (value, expires_at, key, tags)
        if expires_at < self.horizon:
            self.add(key, expires_at)
        heap = self.heap
        if heap:
            scaled = now * self._inverse_width
            due = scaled - scaled % 1.0
            if heap[0] < due:
                self.reclaim_due(due, now, 2, data, removed, dropped)

    def pop(self, key: K, now: float, removed: list[Removal], dropped: list[object]) -> bool:
        """Remove ``key``; return whether it held a live entry.

        The entry goes to ``removed`` as ``EXPLICIT``, or ``EXPIRED`` if it had.
        """
        old = self.data.pop(key, None)
        if old is None:
            return False
        live: bool = now < old[1]
        removed.append((key, old, EXPLICIT if live else EXPIRED))
        self.forget(old[1], self.data, dropped)
        return live

    def discard_expired(
        self, key: K, entry: Entry, removed: list[Removal], dropped: list[object]
    ) -> bool:
        """Remove ``entry``, found expired by a read, unless a writer replaced it."""
        data = self.data
        if data.get(key) is not entry:
            return False
        del data[key]
        removed.append((key, entry, EXPIRED))
        self.forget(entry[1], data, dropped)
        return True

    def retime(
        self,
        key: K,
        now: float,
        expires_at: float | None,
        removed: list[Removal],
        dropped: list[object],
    ) -> bool:
        """Give the live entry under ``key`` a new ``expires_at``; ``None`` removes it.

        An instant at or before ``now`` (a ttl too small to move the clock)
        leaves the entry expired, to be reclaimed like any expired entry.
        Returns whether ``key`` held a live entry.
        """
        data = self.data
        entry = data.get(key)
        if entry is None or entry[1] <= now:
            return False
        if expires_at is None:  # ttl=0: an explicit removal
            self.pop(key, now, removed, dropped)
            return True
        data[key] = (entry[0], expires_at, *entry[2:])
        dropped.append(entry)
        self.move(key, entry[1], expires_at, data, dropped)
        return True

    def sweep_due(
        self, due: float, now: float, limit: int, removed: list[Removal], dropped: list[object]
    ) -> bool:
        """One bounded step of reclaiming the due buckets; True once none is left."""
        return self.reclaim_due(due, now, limit, self.data, removed, dropped)

    def sweep_current(
        self,
        bucket_id: float,
        start: int,
        now: float,
        limit: int,
        removed: list[Removal],
        dropped: list[object],
    ) -> int:
        """One bounded step of scanning the current bucket; -1 once done."""
        return self.reclaim_current(bucket_id, start, now, limit, self.data, removed, dropped)

    def reset(self, data: dict[K, Entry]) -> tuple[dict[float, Bucket[K]], dict[Hashable, set[K]]]:
        """Start over empty with ``data``; return the old index and tags, to free later."""
        self.data = data
        tag_index = self.tag_index
        self.tag_index = self._dict_type()
        return self.reset_index(), tag_index

    def take_tagged(self, tag: Hashable) -> set[K] | None:
        """Take the set of keys carrying ``tag`` out of the tag index (``None`` if none)."""
        return self.tag_index.pop(tag, None)


class TaggedShard(Shard[K, V]):
    """A shard whose entries may carry tags: an entry leaves its tags whenever it leaves.

    ``tag_index`` maps each tag to the set of keys whose entry carries it;
    an empty tag leaves the index.
    """

    __slots__ = ()

    def put(self, key: K, value: V, expires_at: float, now: float) -> object:
        """Store an untagged value; an overwrite drops the tags the key had."""
        garbage: Any = super().put(key, value, expires_at, now)
        if garbage is None:
            return None
        if garbage.__class__ is Trash:
            if garbage.replaced is not None:
                self._untag(key, garbage.replaced)
            self._untag_removed(garbage.removed)
        else:  # the replaced entry
            self._untag(key, garbage)
        return garbage

    def store(
        self,
        key: K,
        value: V,
        expires_at: float,
        now: float,
        removed: list[Removal],
        dropped: list[object],
        tags: frozenset[Hashable] | None = None,
    ) -> None:
        """Store with ``tags`` (replacing the key's), reporting what left."""
        start = len(removed)
        super().store(key, value, expires_at, now, removed, dropped, tags)
        self._untag_removed(removed, start)  # the replaced entry, and any reclaimed
        if tags:
            stored_key = self.data[key][2]  # the dict's own key object (see above)
            tag_index = self.tag_index
            for tag in tags:
                members = tag_index.get(tag)
                if members is None:
                    tag_index[tag] = {stored_key}
                else:
                    members.add(stored_key)

    def pop(self, key: K, now: float, removed: list[Removal], dropped: list[object]) -> bool:
        """Remove ``key`` and its tags; return whether it held a live entry."""
        start = len(removed)
        live = super().pop(key, now, removed, dropped)
        self._untag_removed(removed, start)
        return live

    def discard_expired(
        self, key: K, entry: Entry, removed: list[Removal], dropped: list[object]
    ) -> bool:
        """Remove ``entry`` found expired by a read, and its tags."""
        if not super().discard_expired(key, entry, removed, dropped):
            return False
        self._untag(key, entry)
        return True

    def sweep_due(
        self, due: float, now: float, limit: int, removed: list[Removal], dropped: list[object]
    ) -> bool:
        """One bounded step of reclaiming the due buckets, untagging what left."""
        start = len(removed)
        done = super().sweep_due(due, now, limit, removed, dropped)
        self._untag_removed(removed, start)
        return done

    def sweep_current(
        self,
        bucket_id: float,
        start: int,
        now: float,
        limit: int,
        removed: list[Removal],
        dropped: list[object],
    ) -> int:
        """One bounded step of scanning the current bucket, untagging what left."""
        first = len(removed)
        position = super().sweep_current(bucket_id, start, now, limit, removed, dropped)
        self._untag_removed(removed, first)
        return position

    def _untag(self, key: K, entry: Entry) -> None:
        """Drop ``key`` from the sets of the tags its (departed) ``entry`` carried."""
        if len(entry) < 4 or not entry[3]:
            return
        tag_index = self.tag_index
        for tag in entry[3]:
            members = tag_index.get(tag)
            if members is not None:
                # The set may hold another key object equal to ``key``; the
                # entry keeps the stored one alive, so nothing is freed here.
                members.discard(key)
                if not members:
                    del tag_index[tag]

    def _untag_removed(self, removed: list[Removal], start: int = 0) -> None:
        for index in range(start, len(removed)):
            key, entry, _ = removed[index]
            self._untag(key, entry)
