"""``TieredCache``: a local :class:`sweepcache.Cache` (L1) kept correct in front of Redis (L2).

The read/invalidate race follows Redis' client-side caching protocol: before
an L2 read, the reader takes a *placeholder* for its key (here: the key's
slot and its generation number); an invalidation of the key (a push from
Redis, or a write by this process) bumps the generation; the reply is stored
in L1 only if the generation did not move, the link was up throughout
(``epoch`` unchanged) and is still up. So a value read before a write can
never land in L1 after the write's invalidation.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, NoReturn, TypeVar, cast, final, overload

import anyio

from sweepcache import DEFAULT_TTL, Cache, _readpath

from ._common import L2Error, positive_seconds, ttl_seconds
from ._keys import NOT_A_KEY
from ._lease import HIT, LOADED, MISS
from ._rediscache import RedisCache, _Subscriber

if TYPE_CHECKING:
    from types import TracebackType

    from anyio.abc import TaskGroup, TaskStatus

    from sweepcache._arguments import TTLArg

    from ._common import RedisStats

__all__ = ("TierStats", "TieredCache")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")
_TieredT = TypeVar("_TieredT", bound="TieredCache[Any, Any]")

logger = logging.getLogger("sweepcache.redis")

_MISSING: Final[Any] = object()


class _Slot:
    """The placeholder of one key while reads or writes of it are in flight."""

    __slots__ = ("generation", "users")

    def __init__(self) -> None:
        self.generation = 0
        self.users = 0


@final
@dataclasses.dataclass(frozen=True, slots=True)
class TierStats:
    """Counters of a :class:`TieredCache` (L1 hits are counted by the L1 cache itself).

    Example::

        stats = tiered.stats()
        print(stats.l1_fills, stats.l2.l2_hits)
    """

    #: Values put into L1 after an L2 read, a load or a write.
    l1_fills: int
    #: L2 replies not put into L1: an invalidation or a link loss raced them.
    l1_fills_dropped: int
    #: L1 entries dropped by invalidations (pushes and this process's writes).
    l1_invalidations: int
    #: Times L1 was emptied because the invalidation link was lost or came back.
    l1_flushes: int
    #: Whether L1 is trusted (the invalidation link is up) right now.
    link_up: bool
    #: The L2 cache's counters.
    l2: RedisStats


@final
class TieredCache(_Subscriber, Generic[K, V]):
    """A local L1 :class:`sweepcache.Cache` in front of a shared L2 :class:`RedisCache`.

    * Reads go to L1, then L2 (filling L1), then the loader (filling both).
    * Writes and deletes go to L2, then L1; a failed L2 write removes the key
      from L1 and raises :class:`L2Error`.
    * An L1 entry never outlives its L2 entry: its ttl is capped by the L2
      entry's remaining ``PTTL``, and by ``l1_ttl``.
    * When any process writes or deletes a key, every process's L1 drops it
      (``CLIENT TRACKING ... BCAST`` on a dedicated connection). Until that
      link is up, and from the moment it is lost until it is back and L1 has
      been flushed, nothing is put into L1. When it is lost L1 is flushed,
      or kept for at most ``max_staleness`` seconds.
    * ``get_or_load`` loads each key once across every process (see
      :meth:`RedisCache.get_or_load`).

    The L1 cache must be used only through this object (it is flushed), and
    the whole tier from one event loop.

    Args:
        l1: The local cache; its ``default_ttl`` is not used.
        l2: The Redis cache; it must not belong to another tier.
        l1_ttl: Longest life of an L1 entry in seconds (``None``: only the
            L2 ``PTTL`` caps it). A short ``l1_ttl`` bounds staleness even if
            an invalidation were missed.
        max_staleness: Seconds L1 keeps serving after the invalidation link
            is lost (default 0: flushed at once). It is always flushed when
            the link comes back.

    Raises:
        TypeError: ``l1`` is not a :class:`sweepcache.Cache`, ``l2`` not a
            :class:`RedisCache`, or a duration is not a number.
        ValueError: A duration is out of range, or ``l2`` belongs to another tier.

    Example::

        tiered = TieredCache(
            l1=Cache(default_ttl=60),
            l2=RedisCache(url="redis://127.0.0.1:6379/0", prefix="app:"),
            l1_ttl=30,
        )
        async with tiered:
            await tiered.set("user:1", {"name": "Ada"}, ttl=300)
            assert await tiered.get("user:1") == {"name": "Ada"}
    """

    __slots__ = (
        "_epoch",
        "_fills",
        "_fills_dropped",
        "_flushes",
        "_invalidations",
        "_l1",
        "_l1_get",
        "_l1_ttl",
        "_l2",
        "_max_staleness",
        "_outer_group",
        "_slots",
        "_stale_l1",
        "_task_group",
        "_trusted",
    )

    def __new__(cls, *, l1: Cache[K, V], **_: object) -> TieredCache[K, V]:
        """Build the variant whose ``get`` inlines the read path of ``l1``'s own variant."""
        variant = getattr(l1, "_variant", None)
        if (
            cls is not TieredCache
            or not isinstance(l1, Cache)
            or variant is None
            or getattr(type(l1), "_origin", None) is not Cache  # a subclass: its own get
        ):
            return object.__new__(cls)
        return object.__new__(_variant(variant[0], variant[1]))

    def __init__(
        self,
        *,
        l1: Cache[K, V],
        l2: RedisCache[K, V],
        l1_ttl: float | None = None,
        max_staleness: float = 0.0,
    ) -> None:
        if not isinstance(l1, Cache):
            raise TypeError(f"l1 must be a sweepcache.Cache, got {type(l1).__name__}")
        if not isinstance(l2, RedisCache):
            raise TypeError(f"l2 must be a sweepcache.redis.RedisCache, got {type(l2).__name__}")
        self._l1_ttl = positive_seconds(l1_ttl, "l1_ttl", nullable=True)
        staleness = ttl_seconds(max_staleness, "max_staleness")
        if staleness is None or not math.isfinite(staleness):
            raise ValueError(f"max_staleness must be finite, got {max_staleness!r}")
        self._max_staleness = staleness
        self._l1 = l1
        self._l1_get = l1.get_nowait
        self._l2 = l2
        self._slots: dict[Hashable, _Slot] = {}
        #: Bumped whenever L1 stops being trusted: every read in flight is void.
        self._epoch = 0
        self._trusted = False
        #: L1 kept after a link loss (``max_staleness``), not flushed yet.
        self._stale_l1 = False
        self._fills = self._fills_dropped = self._flushes = self._invalidations = 0
        self._task_group: TaskGroup | None = None
        self._outer_group: TaskGroup | None = None
        l2._attach(self)

    # -- placeholders ------------------------------------------------------------

    def _enter(self, key: Hashable) -> tuple[_Slot, int, int]:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot()
        slot.users += 1
        return slot, slot.generation, self._epoch

    def _leave(self, key: Hashable, slot: _Slot) -> None:
        slot.users -= 1
        if not slot.users and self._slots.get(key) is slot:
            del self._slots[key]

    def _fill(
        self,
        key: K,
        value: V,
        slot: _Slot,
        generation: int,
        epoch: int,
        remaining: float | None,
        tags: Iterable[Hashable] | None = None,
    ) -> None:
        """Put an L2 value into L1 if no invalidation or link loss raced it."""
        if slot.generation != generation or self._epoch != epoch or not self._trusted:
            self._fills_dropped += 1
            return
        ttl = remaining
        if self._l1_ttl is not None and (ttl is None or ttl > self._l1_ttl):
            ttl = self._l1_ttl
        if ttl is not None and ttl <= 0.0:
            return
        self._l1.set_nowait(key, value, ttl, tags=tags)
        self._fills += 1

    def _invalidate_local(self, key: Hashable) -> None:
        slot = self._slots.get(key)
        if slot is not None:
            slot.generation += 1
        if self._l1.delete_nowait(key):  # type: ignore[arg-type]
            self._invalidations += 1

    # -- the link (called by the L2's listener) ------------------------------------

    def on_keys(self, keys: list[bytes] | None) -> None:
        """Drop the L1 entries of ``keys`` (all of L1 for ``None``)."""
        if keys is None:
            self._epoch += 1
            self._flushes += 1
            self._l1.clear_nowait()
            return
        decode = self._l2.key_codec.decode
        for redis_key in keys:
            key = decode(redis_key)
            if key is not NOT_A_KEY:
                self._invalidate_local(key)

    def on_down(self) -> None:
        """The link is lost: stop filling L1; flush it now or after ``max_staleness``."""
        self._trusted = False
        self._epoch += 1
        if self._max_staleness == 0.0 or self._task_group is None:
            self._flush()
        else:
            self._stale_l1 = True
            self._task_group.start_soon(self._flush_later, self._epoch)

    async def _flush_later(self, epoch: int) -> None:
        await anyio.sleep(self._max_staleness)
        if self._epoch == epoch and not self._trusted:
            self._flush()

    def _flush(self) -> None:
        self._stale_l1 = False
        self._flushes += 1
        self._l1.clear_nowait()

    async def on_up(self) -> None:
        """The link is back: flush what may have been missed, then trust L1 again."""
        self._epoch += 1
        self._flushes += 1
        self._stale_l1 = False
        await self._l1.clear()
        self._trusted = True

    # -- reading ---------------------------------------------------------------

    @overload
    def get_nowait(self, key: K) -> V | None: ...
    @overload
    def get_nowait(self, key: K, default: D) -> V | D: ...
    def get_nowait(self, key: K, default: object = None) -> object:
        """Return the L1 value of ``key`` or ``default``, without asking Redis.

        Example::

            tiered.get_nowait("user:1", default=None)
        """
        return self._l1_get(key, default)

    @overload
    async def get(self, key: K) -> V | None: ...
    @overload
    async def get(self, key: K, default: D) -> V | D: ...
    async def get(self, key: K, default: object = None) -> object:
        """Return the value under ``key`` from L1, else from L2 (filling L1), else ``default``.

        (Each tier runs a copy of this method with its L1's read path inlined,
        so that an L1 hit costs what a plain ``Cache`` hit costs.)

        Raises:
            TypeError: ``key`` is not hashable or has no Redis encoding.
            L2Error: Redis failed and the L2's ``on_l2_error`` is ``"raise"``.

        Example::

            user = await tiered.get("user:1")
        """
        value = self._l1_get(key, _MISSING)
        if value is not _MISSING:
            return value
        return await self._get_l2(key, default)

    async def _get_l2(self, key: K, default: object) -> object:
        l2 = self._l2
        redis_key = l2.key_codec.encode(key)
        slot, generation, epoch = self._enter(key)
        try:
            try:
                value, remaining = await l2._get_with_pttl(redis_key)
            except L2Error:
                if l2.on_l2_error == "raise":
                    raise
                return default
            if self._stale_l1:
                # Redis answers again while L1 is kept past a link loss:
                # other processes can write again, so stop serving it now.
                self._flush()
            if value is MISS:
                return default
            self._fill(key, value, slot, generation, epoch, remaining)
            return value
        finally:
            self._leave(key, slot)

    @overload
    async def get_many(self, keys: Iterable[K]) -> list[V | None]: ...
    @overload
    async def get_many(self, keys: Iterable[K], default: D) -> list[V | D]: ...
    async def get_many(self, keys: Iterable[K], default: object = None) -> list[Any]:
        """Return the values of ``keys`` in order: L1 first, the rest from L2 in one pipeline.

        L2 values are not put into L1 by this method (``get`` and
        ``get_or_load`` do).

        Raises:
            TypeError: A key has no Redis encoding.
            L2Error: Redis failed and ``on_l2_error="raise"``.

        Example::

            await tiered.get_many(["a", "b"])
        """
        keys = list(keys)
        values = [self._l1_get(key, _MISSING) for key in keys]
        missing = [index for index, value in enumerate(values) if value is _MISSING]
        if missing:
            found = await self._l2.get_many([keys[index] for index in missing], default)
            for index, value in zip(missing, found, strict=True):
                values[index] = value
        return values

    async def ttl(self, key: K) -> float | None:
        """Return the seconds ``key`` has left in L2 (the authority).

        Raises:
            KeyError: ``key`` is missing.
            L2Error: Redis failed.

        Example::

            await tiered.ttl("user:1")
        """
        return await self._l2.ttl(key)

    # -- writing ---------------------------------------------------------------

    async def set(
        self,
        key: K,
        value: V,
        ttl: TTLArg = DEFAULT_TTL,
        *,
        tags: Iterable[Hashable] | None = None,
    ) -> None:
        """Store ``value`` under ``key`` in L2, then in this process's L1.

        Every other process's L1 drops the key. Arguments and errors as
        :meth:`RedisCache.set`; if L2 fails the key is also gone from L1.

        Example::

            await tiered.set("user:1", {"name": "Ada"}, ttl=300)
        """
        seconds = self._l2._seconds(ttl)
        tag_list = None if tags is None else list(tags)
        self._invalidate_local(key)
        slot, generation, epoch = self._enter(key)
        try:
            try:
                await self._l2.set(key, value, seconds, tags=tag_list)
            finally:
                # Reads that began before the write must not fill L1 with
                # what they read; ours is filled only if nothing else moved.
                moved = slot.generation != generation
                self._invalidate_local(key)
            if not moved and seconds != 0.0:
                self._fill(key, value, slot, slot.generation, epoch, seconds, tag_list)
        finally:
            self._leave(key, slot)

    async def set_many(
        self,
        mapping: Mapping[K, V],
        ttl: TTLArg = DEFAULT_TTL,
        *,
        tags: Iterable[Hashable] | None = None,
    ) -> None:
        """Store every item in L2 (one pipeline); drop the keys from every L1.

        Example::

            await tiered.set_many({"a": 1, "b": 2}, ttl=60)
        """
        for key in mapping:
            self._invalidate_local(key)
        try:
            await self._l2.set_many(mapping, ttl, tags=tags)
        finally:
            for key in mapping:
                self._invalidate_local(key)

    async def delete(self, key: K) -> bool:
        """Remove ``key`` from L2 and from every process's L1; return whether L2 held it.

        Raises:
            TypeError: ``key`` has no Redis encoding.
            L2Error: Redis failed (the key is gone from this L1 anyway).

        Example::

            await tiered.delete("user:1")
        """
        self._invalidate_local(key)
        try:
            return await self._l2.delete(key)
        finally:
            self._invalidate_local(key)

    async def delete_many(self, keys: Iterable[K]) -> int:
        """Remove every key in ``keys`` from L2 and every L1; return how many L2 held.

        Example::

            await tiered.delete_many(["a", "b"])
        """
        keys = list(keys)
        for key in keys:
            self._invalidate_local(key)
        try:
            return await self._l2.delete_many(keys)
        finally:
            for key in keys:
                self._invalidate_local(key)

    async def expire(self, key: K, ttl: TTLArg) -> bool:
        """Give ``key`` a new ttl in L2; drop it from every L1 (it refills with the new ttl).

        Example::

            await tiered.expire("session:1", 3600)
        """
        self._invalidate_local(key)
        try:
            return await self._l2.expire(key, ttl)
        finally:
            self._invalidate_local(key)

    async def clear(self) -> None:
        """Remove every key of the namespace from L2, and everything from L1.

        Example::

            await tiered.clear()
        """
        self._epoch += 1
        try:
            await self._l2.clear()
        finally:
            self._epoch += 1
            await self._l1.clear()

    async def invalidate_tags(self, *tags: Hashable) -> int:
        """Remove the keys carrying any of ``tags`` from L2 and from every process's L1.

        Returns:
            How many keys L2 removed.

        Example::

            await tiered.invalidate_tags("org:7")
        """
        self._epoch += 1  # reads in flight may carry the tags
        self._l1.invalidate_tags_nowait(*tags)
        try:
            return await self._l2.invalidate_tags(*tags)
        finally:
            self._epoch += 1
            await self._l1.invalidate_tags(*tags)

    # -- loading ---------------------------------------------------------------

    async def get_or_load(
        self,
        key: K,
        loader: Callable[[], Awaitable[V]],
        *,
        ttl: TTLArg = DEFAULT_TTL,
        timeout: float | None = None,  # noqa: ASYNC109 - bounds a load shared by many callers
        refresh_ahead: float | None = None,
        tags: Iterable[Hashable] | Callable[[V], Iterable[Hashable]] | None = None,
    ) -> V:
        """Return the value from L1, else L2, else load it once across every process.

        Semantics of :meth:`RedisCache.get_or_load`; the value is also put
        into L1 (unless an invalidation raced it). With ``refresh_ahead`` an
        L1 hit is served as is: L1 entries are short-lived copies and the
        refresh happens on the L2 read that follows their expiry.

        Raises:
            TypeError: ``key`` has no encoding, or an argument has the wrong type.
            ValueError: An argument is out of range.
            TimeoutError: ``timeout`` elapsed.
            L2Error: Redis failed and ``on_l2_error="raise"``.
            Exception: Whatever the loader raised.

        Example::

            user = await tiered.get_or_load("user:7", load_user, ttl=300)
        """
        value = self._l1_get(key, _MISSING)
        if value is not _MISSING:
            return cast("V", value)
        l2 = self._l2
        redis_key = l2.key_codec.encode(key)
        slot, generation, epoch = self._enter(key)
        try:
            result, remaining, source = await l2.load_with_ttl(
                key, redis_key, loader, ttl, timeout, refresh_ahead, tags
            )
            if source in (HIT, LOADED):
                fill_tags = None if tags is None or callable(tags) else tags
                if callable(tags):
                    fill_tags = tags(result)
                self._fill(key, result, slot, generation, epoch, remaining, fill_tags)
            return cast("V", result)
        finally:
            self._leave(key, slot)

    # -- background tasks ----------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> NoReturn:
        """Run every background task of the tier until cancelled (the one entry point).

        The L2's :meth:`RedisCache.run` (client, invalidation link, lease
        renewals) and the L1's sweeper. ``task_status.started()`` comes once
        the first connection attempt is over; L1 is used once the link is up.

        Example::

            async with anyio.create_task_group() as tg:
                await tg.start(tiered.run)
        """
        async with anyio.create_task_group() as task_group:
            self._task_group = task_group
            try:
                await task_group.start(self._l1.run_sweeper)
                await task_group.start(self._l2.run)
                task_status.started()
                await anyio.sleep_forever()
            finally:
                self._task_group = None
                self._trusted = False
                self._epoch += 1
        raise AssertionError("unreachable")  # pragma: no cover

    async def __aenter__(self: _TieredT) -> _TieredT:
        """Start :meth:`run` in a task group owned by the tier."""
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(self.run)
        except BaseException as exc:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._outer_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        """Stop the background tasks; an exception of the body propagates unchanged."""
        task_group, self._outer_group = self._outer_group, None
        assert task_group is not None, "__aexit__ without __aenter__"
        task_group.cancel_scope.cancel()
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            return await task_group.__aexit__(exc_type, exc, traceback)
        await task_group.__aexit__(None, None, None)
        return None

    # -- introspection -----------------------------------------------------------

    @property
    def l1(self) -> Cache[K, V]:
        """The local cache."""
        return self._l1

    @property
    def l2(self) -> RedisCache[K, V]:
        """The Redis cache."""
        return self._l2

    @property
    def link_up(self) -> bool:
        """Whether L1 is in use (the link is up, and L1 was flushed after it came up)."""
        return self._trusted

    @property
    def default_ttl(self) -> float | None:
        """The L2's ``default_ttl``."""
        return self._l2.default_ttl

    def stats(self) -> TierStats:
        """Return a snapshot of the counters.

        Example::

            assert tiered.stats().l1_flushes == 0
        """
        return TierStats(
            l1_fills=self._fills,
            l1_fills_dropped=self._fills_dropped,
            l1_invalidations=self._invalidations,
            l1_flushes=self._flushes,
            link_up=self._trusted,
            l2=self._l2.stats(),
        )

    def __repr__(self) -> str:
        return f"<sweepcache.redis.TieredCache l1={self._l1!r} l2={self._l2!r}>"


TieredCache.__module__ = "sweepcache.redis"
TierStats.__module__ = "sweepcache.redis"


@functools.cache
def _variant(layout: str, records: tuple[str, ...]) -> type[TieredCache[Any, Any]]:
    """The private subclass of ``TieredCache`` over an L1 of this layout and these records."""
    namespace: dict[str, Any] = {
        "__slots__": (),
        "get": functools.wraps(TieredCache.get)(_readpath.tiered_get(layout, records)),
    }
    variant = type("TieredCache", (TieredCache,), namespace)
    variant.__module__ = TieredCache.__module__
    variant.__qualname__ = TieredCache.__qualname__
    return variant
