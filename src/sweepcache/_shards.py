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
from ._removal import EXPIRED, EXPLICIT, REPLACED, SIZE, Removal, Trash

if TYPE_CHECKING:
    from collections.abc import Hashable

    from ._eviction import EvictionPolicy


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
            inverse_width = self._inverse_width
            old_scaled = old[1] * inverse_width
            new_scaled = expires_at * inverse_width
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
        tags: tuple[Hashable, ...] | None = None,
        hash_: int = 0,
        weight: int = 1,
    ) -> None:
        """Like :meth:`put`, with ``tags``, reporting what left in ``removed``/``dropped``.

        ``hash_`` and ``weight`` serve bounded shards only.

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

    def take(self, key: K, dropped: list[object]) -> Entry | None:
        """Remove ``key`` and everything that tracks it; return its entry (``None`` if absent).

        The caller reports the entry (``EXPLICIT``, or ``EXPIRED`` if it had)
        and frees it after the lock.
        """
        data = self.data
        old = data.pop(key, None)
        if old is not None and old[1] < self.horizon:
            scaled = old[1] * self._inverse_width  # forget(), inlined: delete's hot path
            self.leave(scaled - scaled % 1.0, data, dropped)
        return old

    def pop(self, key: K, now: float, removed: list[Removal], dropped: list[object]) -> bool:
        """Remove ``key``; return whether it held a live entry.

        The entry goes to ``removed`` as ``EXPLICIT``, or ``EXPIRED`` if it had.
        """
        old = self.take(key, dropped)
        if old is None:
            return False
        live: bool = now < old[1]
        removed.append((key, old, EXPLICIT if live else EXPIRED))
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

    def put_tagged(
        self, key: K, value: V, expires_at: float, now: float, tags: tuple[Hashable, ...]
    ) -> object:
        """Like :meth:`put`, for a value carrying ``tags`` (not empty).

        The key leaves the tags it had and joins ``tags``; an overwrite that
        passes the very tuple the key already carries (the common case of a
        constant ``tags=("users",)``) leaves the tag index alone. Returns what
        :meth:`put` returns. (It repeats :meth:`put`'s steps rather than
        calling it: on this path a call costs more than the tag work.)
        """
        data = self.data
        old = data.get(key)
        if old is not None:
            stored_key = old[2]
            data[key] = (value, expires_at, stored_key, tags)
            if len(old) < 4 or old[3] is not tags:
                self._untag(key, old)
                self._join(stored_key, tags)
            old_scaled = old[1] * self._inverse_width
            new_scaled = expires_at * self._inverse_width
            if old_scaled - old_scaled % 1.0 == new_scaled - new_scaled % 1.0:
                return old
            trash = Trash(old)
            self.move(key, old[1], expires_at, data, trash.dropped)
            return trash
        data[key] = (value, expires_at, key, tags)
        self._join(key, tags)
        if expires_at < self.horizon:
            self.add(key, expires_at)
        heap = self.heap
        if heap:
            scaled = now * self._inverse_width
            due = scaled - scaled % 1.0
            if heap[0] < due:
                trash = Trash()
                self.reclaim_due(due, now, 2, data, trash.removed, trash.dropped)
                self._untag_removed(trash.removed)
                return trash
        return None

    def _join(self, stored_key: K, tags: tuple[Hashable, ...]) -> None:
        """Add ``stored_key`` (the dict's own key object) to the set of each of ``tags``."""
        tag_index = self.tag_index
        for tag in tags:
            members = tag_index.get(tag)
            if members is None:
                tag_index[tag] = {stored_key}
            else:
                members.add(stored_key)

    def store(
        self,
        key: K,
        value: V,
        expires_at: float,
        now: float,
        removed: list[Removal],
        dropped: list[object],
        tags: tuple[Hashable, ...] | None = None,
        hash_: int = 0,
        weight: int = 1,
    ) -> None:
        """Store with ``tags`` (replacing the key's), reporting what left."""
        start = len(removed)
        super().store(key, value, expires_at, now, removed, dropped, tags)
        self._untag_removed(removed, start)  # the replaced entry, and any reclaimed
        if tags:
            self._join(self.data[key][2], tags)  # the dict's own key object (see above)

    def take(self, key: K, dropped: list[object]) -> Entry | None:
        """Remove ``key`` and its tags; return its entry."""
        old = Shard.take(self, key, dropped)
        if old is not None:
            self._untag(key, old)
        return old

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


class BoundedShard(TaggedShard[K, V]):
    """A shard of a cache with ``maxsize``: its entries are also tracked by an eviction policy.

    An entry is ``(value, expires_at, token)`` (``token`` is the policy's, and
    what the read path counts a hit on) or ``(value, expires_at, token,
    tags)``. The policy holds the key objects, and hands each back when the
    entry leaves, so that it too is freed after the lock.

    Before a write evicts a live entry to make room, it reclaims the shard's
    expired entries: every entry filed in a due bucket (within a budget of
    ``RECLAIM_BUDGET`` index slots, so a write never holds the lock long)
    and, when the current bucket is small, the current bucket's.
    """

    __slots__ = ("policy",)

    #: Index slots a write may examine for expired entries before it evicts.
    RECLAIM_BUDGET = 1024
    #: A current bucket this small is scanned for expired entries before an eviction.
    SMALL_BUCKET = 64

    def __init__(
        self,
        width: float,
        data: dict[K, Entry],
        dict_type: type[dict[Any, Any]],
        policy: EvictionPolicy[K],
    ) -> None:
        super().__init__(width, data, dict_type)
        self.policy = policy

    def put(  # type: ignore[override]
        self,
        key: K,
        value: V,
        expires_at: float,
        now: float,
        hash_: int,
        weight: int,
        tags: tuple[Hashable, ...] | None = None,
    ) -> object:
        """Store ``value`` (of ``weight``) under ``key``, evicting to stay within the budget.

        Returns what the caller must keep until it has released the lock:
        ``None``, the replaced entry, or a :class:`~sweepcache._removal.Trash`.
        """
        data = self.data
        policy = self.policy
        old = data.get(key)
        trash: Trash | None = None
        if expires_at <= now:
            # Expired on arrival (a ttl too small to move the clock): reported,
            # never stored, so it cannot push a live entry out.
            trash = Trash()
            if old is not None:
                self.pop(key, now, trash.removed, trash.dropped)
                if trash.removed[0][2] is EXPLICIT:  # it was live: an overwrite
                    trash.removed[0] = (key, old, REPLACED)
            trash.removed.append((key, (value, expires_at, -1), EXPIRED))
            return trash
        if old is not None:
            token = old[2]
            data[key] = (value, expires_at, token) if not tags else (value, expires_at, token, tags)
            old_scaled = old[1] * self._inverse_width
            new_scaled = expires_at * self._inverse_width
            if old_scaled - old_scaled % 1.0 != new_scaled - new_scaled % 1.0:
                trash = Trash(old)
                self.move(key, old[1], expires_at, data, trash.dropped)
            if (old[3] if len(old) > 3 else None) is not (tags or None):
                # (The very tuple the key carries leaves the tag index alone.)
                trash = trash or Trash(old)
                self._untag(key, old)
                self._tag(token, tags)
            old_weight = policy.weight_of(token) if policy.weighted else 1
            if weight != old_weight:
                trash = trash or Trash(old)
                if policy.weight - old_weight + weight > policy.capacity:
                    self._reclaim_for_room(weight - old_weight, now, trash)
                self._evict(policy.reweigh(token, weight), now, trash)
            return old if trash is None else trash
        if policy.weight + weight > policy.capacity and weight:
            # Full: expired entries go before live ones. (The check inlines
            # _reclaim_for_room's own: nothing due, no current bucket.)
            scaled = now * self._inverse_width
            current = scaled - scaled % 1.0
            heap = self.heap
            if (heap and heap[0] < current) or current in self._buckets:
                trash = Trash()
                self._reclaim_for_room(weight, now, trash)
        token, victims = policy.add(key, hash_, weight)
        entry = (value, expires_at, token) if not tags else (value, expires_at, token, tags)
        if victims:
            # Evicted before the new entry lands, so the dict never holds more
            # than the budget, not even for an instant another thread could see.
            trash = trash or Trash()
            if self._evict(victims, now, trash, token):
                # The new entry alone outweighs the budget: never stored.
                trash.removed.append((key, entry, SIZE))
                return trash
        data[key] = entry
        if expires_at < self.horizon:
            self.add(key, expires_at)
        if tags:
            self._tag(token, tags)
        heap = self.heap
        if heap:
            scaled = now * self._inverse_width
            due = scaled - scaled % 1.0
            if heap[0] < due:
                trash = trash or Trash()
                self._reclaim(due, now, 2, trash.removed, trash.dropped)
        return trash

    def store(
        self,
        key: K,
        value: V,
        expires_at: float,
        now: float,
        removed: list[Removal],
        dropped: list[object],
        tags: tuple[Hashable, ...] | None = None,
        hash_: int = 0,
        weight: int = 1,
    ) -> None:
        """Like :meth:`put`, reporting everything that left in ``removed`` and ``dropped``."""
        garbage: Any = self.put(key, value, expires_at, now, hash_, weight, tags)
        if garbage is None:
            return
        if garbage.__class__ is Trash:
            if garbage.replaced is not None:
                old = garbage.replaced
                removed.append((key, old, REPLACED if now < old[1] else EXPIRED))
            removed.extend(garbage.removed)
            dropped.extend(garbage.dropped)
        else:
            removed.append((key, garbage, REPLACED if now < garbage[1] else EXPIRED))

    def _tag(self, token: int, tags: tuple[Hashable, ...] | None) -> None:
        if tags:
            stored_key = self.policy.key_of(token)
            tag_index = self.tag_index
            for tag in tags:
                members = tag_index.get(tag)
                if members is None:
                    tag_index[tag] = {stored_key}
                else:
                    members.add(stored_key)

    def _evict(self, victims: Any, now: float, trash: Trash, token: int = -1) -> bool:
        """Take the policy's victims out of the dict and the index; they go as ``SIZE``.

        Returns whether ``token`` (a new entry's, not stored yet) is among them.
        """
        data = self.data
        removed = trash.removed
        dropped = trash.dropped
        horizon = self.horizon
        inverse_width = self._inverse_width
        own = False
        for victim_key, victim_token in victims:
            if victim_token == token:
                own = True
                continue
            entry = data.get(victim_key)
            if entry is None or entry[2] != victim_token:
                continue  # no longer the policy's entry: nothing to take out
            del data[victim_key]
            expires_at = entry[1]
            if expires_at < horizon:  # (forget(), inline: one eviction per insert)
                scaled = expires_at * inverse_width
                self.leave(scaled - scaled % 1.0, data, dropped)
            if len(entry) > 3:
                self._untag(victim_key, entry)
            removed.append((victim_key, entry, SIZE if now < expires_at else EXPIRED))
        return own

    def _reclaim_for_room(self, weight: int, now: float, trash: Trash) -> None:
        """Reclaim expired entries until ``weight`` fits, before the policy evicts live ones."""
        policy = self.policy
        scaled = now * self._inverse_width
        current = scaled - scaled % 1.0
        budget = self.RECLAIM_BUDGET
        while policy.weight + weight > policy.capacity and budget > 0 and self.has_due(current):
            self._reclaim(current, now, 64, trash.removed, trash.dropped)
            budget -= 64
        if policy.weight + weight > policy.capacity:
            bucket = self._buckets.get(current)
            if bucket is not None and len(bucket) <= self.SMALL_BUCKET:
                start = len(trash.removed)
                self.reclaim_current(
                    current, 0, now, self.SMALL_BUCKET, self.data, trash.removed, trash.dropped
                )
                self._forget_removed(trash.removed, trash.dropped, start)

    def _reclaim(
        self, due: float, now: float, limit: int, removed: list[Removal], dropped: list[object]
    ) -> bool:
        start = len(removed)
        done = self.reclaim_due(due, now, limit, self.data, removed, dropped)
        self._forget_removed(removed, dropped, start)
        return done

    def _forget_removed(self, removed: list[Removal], dropped: list[object], start: int) -> None:
        """The policy's (and the tag index's) side of removals ``removed[start:]``."""
        policy = self.policy
        for index in range(start, len(removed)):
            key, entry, _ = removed[index]
            dropped.append(policy.remove(entry[2]))  # its key: freed after the lock
            self._untag(key, entry)

    def take(self, key: K, dropped: list[object]) -> Entry | None:
        """Remove ``key``, its policy slot and its tags; return its entry."""
        old = Shard.take(self, key, dropped)
        if old is not None:
            dropped.append(self.policy.remove(old[2]))  # its key: freed after the lock
            self._untag(key, old)
        return old

    def discard_expired(
        self, key: K, entry: Entry, removed: list[Removal], dropped: list[object]
    ) -> bool:
        """Remove ``entry`` found expired by a read (and its policy slot and tags)."""
        start = len(removed)
        if not Shard.discard_expired(self, key, entry, removed, dropped):
            return False
        self._forget_removed(removed, dropped, start)
        return True

    def sweep_due(
        self, due: float, now: float, limit: int, removed: list[Removal], dropped: list[object]
    ) -> bool:
        """One bounded step of reclaiming the due buckets."""
        return self._reclaim(due, now, limit, removed, dropped)

    def sweep_current(
        self,
        bucket_id: float,
        start: int,
        now: float,
        limit: int,
        removed: list[Removal],
        dropped: list[object],
    ) -> int:
        """One bounded step of scanning the current bucket."""
        first = len(removed)
        position = self.reclaim_current(bucket_id, start, now, limit, self.data, removed, dropped)
        self._forget_removed(removed, dropped, first)
        return position

    def reset(self, data: dict[K, Entry]) -> Any:
        """Start over empty with ``data``; return what to free later (the policy's too)."""
        return super().reset(data), self.policy.clear()
