"""``Cache[K, V]``: the public facade over the sharded entries and the sweeper."""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from itertools import islice
from time import perf_counter
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    NoReturn,
    TypeVar,
    cast,
    overload,
)

import anyio
import anyio.lowlevel

from . import _readpath, _writepath
from ._arguments import (
    DEFAULT_TTL,
    TTLArg,
    check_default_ttl,
    check_maxsize,
    check_shards,
    check_sweep_interval,
    check_ttl,
    safe_repr,
)
from ._clock import Clock, default_clock
from ._eviction import EvictionPolicy
from ._expiry import NEVER, Entry, K, LookupDict, V
from ._removal import EXPIRED, EXPLICIT, REPLACED, Removal, Trash, notify, release
from ._shards import BoundedShard, Shard, TaggedShard
from ._stats import CacheStats, StatsRecorder
from ._sweeper import (
    SLICE_SECONDS,
    dismantle,
    release_in_slices,
    run_in_slices,
    run_sweeper,
    sweep_steps,
)

if TYPE_CHECKING:
    import datetime
    from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Mapping
    from types import TracebackType

    from anyio.abc import TaskGroup, TaskStatus
    from anyio.lowlevel import EventLoopToken
    from typing_extensions import Self

    from ._loading import Load
    from ._removal import RemovalCause

__all__ = ("DEFAULT_TTL", "Cache", "TTLArg", "unhashable")

D = TypeVar("D")
_CacheT = TypeVar("_CacheT", bound="Cache[Any, Any]")

#: Each sweep interval is split into this many expiry buckets. A pass empties
#: the due buckets and scans the one the current instant falls in, so it
#: reclaims every expired key while looking at no more than a quarter
#: interval's worth of keys that have not expired yet.
_BUCKETS_PER_INTERVAL: Final = 4
#: Default number of lock stripes.
DEFAULT_SHARDS: Final = 16
#: A bounded cache's default shard count keeps at least this many entries per shard.
_MIN_ENTRIES_PER_SHARD: Final = 1250
#: Entries released (or cleared) per batch between two looks at the clock.
_SLICE_KEYS: Final = 256
#: Keys removed by tag invalidation under one lock hold: each removal may do
#: a compaction step, so a slice stays well under a millisecond (stalls suite).
_TAG_SLICE: Final = 64

#: Set by tests to build every cache with one layout; ``None`` picks by build.
_LAYOUT_OVERRIDE: str | None = None


def default_layout() -> str:
    """One dict per shard on a free-threaded build (GIL off), one shared dict otherwise."""
    if _LAYOUT_OVERRIDE is not None:
        return _LAYOUT_OVERRIDE
    gil_enabled: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    if gil_enabled is not None and not gil_enabled():
        return _readpath.SHARDED
    return _readpath.SINGLE


def unhashable(key: object) -> TypeError:
    """The error for an unhashable key, naming its type."""
    return TypeError(
        f"cache keys must be hashable, got unhashable key of type {type(key).__name__!r}"
    )


def check_tags(tags: object) -> frozenset[Hashable]:
    """Return ``tags`` (the arguments of ``invalidate_tags``) as a frozenset, or raise."""
    return frozenset(entry_tags(tags))


def entry_tags(tags: object) -> tuple[Hashable, ...]:
    """Return ``tags`` as the tuple an entry keeps (no duplicates), or raise ``TypeError``.

    A tuple of distinct tags is kept as it is: code that passes the same
    constant tuple on every write (``tags=("users",)``) shares one object
    between all its entries instead of one per entry (a frozenset of one tag
    costs 216 B, a tuple 48 B).
    """
    if isinstance(tags, (str, bytes)):
        raise TypeError(
            f"tags must be an iterable of hashable tags, got the string {tags!r}; "
            f"write tags=({tags!r},) for one tag"
        )
    try:
        if tags.__class__ is tuple and len(set(tags)) == len(tags):
            return tags
        return tuple(dict.fromkeys(tags))  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(
            f"tags must be an iterable of hashable tags, got {type(tags).__name__} "
            f"{safe_repr(tags, 80)}"
        ) from None


class Cache(Generic[K, V]):
    """An in-process TTL cache for asyncio and trio.

    Reads take no lock; writes lock one of ``shards`` stripes for a few
    bytecodes and never across an ``await``. Expired entries are never
    returned (lazy expiry) and are reclaimed in the background by the sweeper
    (``async with cache:`` or ``await task_group.start(cache.run_sweeper)``),
    by :meth:`sweep`, and a few at a time by writes of new keys. Values are
    stored by reference, not copied; each process has its own cache.

    The async methods never yield to the event loop (except :meth:`clear`,
    :meth:`invalidate_tags` and :meth:`sweep`, which work in slices): they
    are twins of the ``*_nowait`` methods, so that code can ``await`` them
    today and a slower tier can sit behind the same names.

    ``Cache`` can be subclassed: a subclass's methods come first and reach
    the cache's through ``super()``. ``get`` and ``get_nowait``, ``set`` and
    ``set_nowait`` are each a path of its own (generated for the cache's
    features), so a subclass that wraps reads or writes overrides both twins.
    Instances are of a class built from the subclass for their features (one
    per set of features, built once): ``isinstance`` holds, ``type(cache) is
    MyCache`` does not, and the subclass's ``__init_subclass__`` (if it has
    one) runs for that class too, with no arguments.

    Args:
        default_ttl: Seconds (or a :class:`~datetime.timedelta`) an entry
            lives when ``set`` gets no ``ttl``; ``None`` means never.
        shards: Number of lock stripes (and expiry indexes): a power of two
            from 1 to 1024. Default 16; with ``maxsize``, fewer, so that each
            shard keeps at least 1,250 entries (1 with a ``weigher``): a
            bounded cache splits its budget evenly across its shards.
        sweep_interval: Seconds between the sweeper's passes (real time),
            from 0.001 to 86400.
        clock: Returns the current time in seconds and never goes backwards;
            it decides expiry. :class:`sweepcache.testing.FakeClock` in tests.
        maxsize: The most entries kept, or with a ``weigher`` the largest
            total weight; ``None`` (the default) is unbounded. Past it, writes
            evict entries chosen by a W-TinyLFU policy (frequency and recency,
            scan- and loop-resistant), after the shard's expired entries. An
            entry heavier than its shard's budget is not stored (reported as
            ``SIZE``, never raised). After any write returns, ``len(cache)``
            (or :attr:`weight`) is at most ``maxsize``.
        weigher: ``weigher(key, value) -> int >= 0``, the weight of an entry;
            needs ``maxsize``. A weigher that raises, or returns a negative or
            non-int weight, makes the write raise and change nothing.
        on_removal: Called as ``on_removal(key, value, cause)`` once for
            every entry that leaves the cache, with no lock held (see
            :class:`RemovalCause`). It runs in the task or thread whose
            operation removed the entry: the writer's (``set``, ``delete``,
            ``clear``, ``invalidate_tags``, and writes that reclaim expired
            entries), the reader's (a read that finds an entry expired) or
            the sweeper's. What it raises is logged on the ``sweepcache``
            logger and never reaches that operation. It may call the cache.
        record_stats: Keep the counters of :meth:`stats` (hits, misses, loads,
            removals by cause...). Off by default: then reads and writes cost
            nothing more (as Caffeine's ``recordStats``).
        name: A name for this cache, shown in its ``repr`` and in metrics.

    Raises:
        ValueError: An argument is out of its range (see each one), or a
            ``weigher`` is given without ``maxsize``.
        TypeError: An argument has the wrong type.

    Example::

        async with Cache[str, int](default_ttl=30.0) as cache:
            await cache.set("answer", 42)
            assert await cache.get("answer") == 42
    """

    __slots__ = (
        "__weakref__",
        "_clock",
        "_counts",
        "_data",
        "_default_ttl",
        "_dicts",
        "_hit_count",
        "_inverse_width",
        "_layout",
        "_lifecycle_lock",
        "_listener",
        "_loads",
        "_loads_lock",
        "_mask",
        "_maxsize",
        "_miss_count",
        "_name",
        "_shards",
        "_stats",
        "_sweep_interval",
        "_task_group",
        "_task_group_owner",
        "_task_group_token",
        "_weigher",
    )

    def __new__(
        cls,
        *_args: object,
        on_removal: Callable[[K, V, RemovalCause], object] | None = None,
        record_stats: bool = False,
        maxsize: int | None = None,
        **_: object,
    ) -> Self:
        """Build the variant of the cache whose read and write paths fit its features.

        A subclass of ``Cache`` gets a variant of its own, with its methods
        ahead of the generated paths (``super()`` reaches them). Should its
        ``__init__`` pass other features than its constructor was called
        with, ``__init__`` switches the instance to the variant that fits.
        """
        if "_variant" in cls.__dict__:  # a variant class, built directly (tests)
            return object.__new__(cls)
        records, writes = _features(maxsize, on_removal, record_stats)
        variant = _variant_of(cls, default_layout(), records, writes)
        return cast("Self", object.__new__(variant))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a subclass with an ``__init__`` of its own that constructor signature."""
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            signature = inspect.signature(cls.__init__)
            cls.__signature__ = signature.replace(  # type: ignore[attr-defined]
                parameters=list(signature.parameters.values())[1:],
                return_annotation=inspect.Signature.empty,
            )

    def __init__(
        self,
        *,
        default_ttl: float | datetime.timedelta | None = 60.0,
        shards: int | None = None,
        sweep_interval: float | datetime.timedelta = 1.0,
        clock: Clock = default_clock,
        maxsize: int | None = None,
        weigher: Callable[[K, V], int] | None = None,
        on_removal: Callable[[K, V, RemovalCause], object] | None = None,
        record_stats: bool = False,
        name: str | None = None,
    ) -> None:
        default_seconds = check_default_ttl(default_ttl)
        bound = check_maxsize(maxsize)
        if weigher is not None:
            if not callable(weigher):
                raise TypeError(f"weigher must be a callable or None, got {safe_repr(weigher)}")
            if bound is None:
                raise ValueError("weigher needs maxsize: the weights add up to at most maxsize")
        if shards is None:
            shards = _default_shards(bound, weigher is not None)
        check_shards(shards)
        interval = check_sweep_interval(sweep_interval)
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
        if on_removal is not None and not callable(on_removal):
            raise TypeError(f"on_removal must be a callable or None, got {on_removal!r}")
        if not isinstance(record_stats, bool):
            raise TypeError(f"record_stats must be a bool, got {type(record_stats).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {type(name).__name__} {name!r}")
        variant = type(self)
        layout, *built_for = getattr(variant, "_variant", (default_layout(), (), _PLAIN))
        features = _features(bound, on_removal, record_stats)
        if tuple(built_for) != features:
            # A subclass's __init__ passed other features than its caller.
            origin = getattr(variant, "_origin", variant)
            self.__class__ = _variant_of(origin, layout, *features)

        width = interval / _BUCKETS_PER_INTERVAL
        self._default_ttl = default_seconds
        self._sweep_interval = interval
        self._clock = clock
        self._listener = on_removal
        self._name = name
        self._stats = StatsRecorder(weighted=weigher is not None) if record_stats else None
        self._maxsize = bound
        self._weigher = weigher
        if self._stats is not None:  # what the generated read path calls
            self._hit_count = self._stats.hit
            self._miss_count = self._stats.miss
        self._layout = self._layout_name()
        self._mask = shards - 1
        self._inverse_width = 1.0 / width
        dict_type = dict if self._layout == _readpath.SINGLE else LookupDict
        if bound is None:
            self._shards: tuple[Shard[K, V], ...] = tuple(
                Shard(width, {}, dict_type) for _ in range(shards)
            )
        else:
            # The budget is split across the shards (the remainder to the first
            # ones), each with a policy of its own; one list of read counts
            # serves them all, so a read needs no shard lookup.
            self._counts: list[int] = []
            share, extra = divmod(bound, shards)
            self._shards = tuple(
                BoundedShard(
                    width,
                    {},
                    dict_type,
                    EvictionPolicy(
                        share + (index < extra),
                        self._counts,
                        shard=index,
                        shards=shards,
                        weighted=weigher is not None,
                    ),
                )
                for index in range(shards)
            )
        self._install_dicts(self._new_dicts())
        self._task_group: TaskGroup | None = None
        self._lifecycle_lock = threading.Lock()
        # Single-flight loads in flight (see _loading.py). The lock is
        # reentrant because a load's final ``set_nowait`` runs under it and
        # calls the invalidation hook.
        self._loads: dict[K, Load[V]] = dict_type()
        self._loads_lock = threading.RLock()
        #: Loop of ``_task_group``, so refreshes never spawn into a foreign loop.
        self._task_group_token: EventLoopToken | None = None
        self._task_group_owner = 0

    @classmethod
    def _layout_name(cls) -> str:
        return _readpath.SINGLE

    # -- layout ---------------------------------------------------------------

    def _new_dicts(self) -> tuple[dict[K, Entry], ...]:
        if self._layout == _readpath.SINGLE:
            return ({},)
        return tuple(LookupDict() for _ in self._shards)

    def _install_dicts(self, dicts: tuple[dict[K, Entry], ...]) -> None:
        """Point the shards (and the read path) at ``dicts``; every lock must be held."""
        self._dicts = dicts
        self._data = dicts[0]
        if len(dicts) == 1:
            for shard in self._shards:
                shard.data = dicts[0]
        else:
            for shard, data in zip(self._shards, dicts, strict=True):
                shard.data = data

    # -- reading -------------------------------------------------------------
    # The bodies of get_nowait, get and get_or_load are generated per variant
    # (_readpath.py); the ones here are only declarations for readers and
    # type checkers, replaced in every class that instances are built from.

    @overload
    def get_nowait(self, key: K) -> V | None: ...
    @overload
    def get_nowait(self, key: K, default: D) -> V | D: ...
    def get_nowait(self, key: K, default: object = None) -> object:
        """Return the value stored under ``key``, or ``default`` if it is missing or expired.

        A stored ``None`` is a hit: pass a sentinel ``default`` to tell it apart.

        Raises:
            TypeError: ``key`` is not hashable.

        Example::

            cache.set_nowait("k", None)
            assert cache.get_nowait("k", default=...) is None
        """
        raise NotImplementedError  # pragma: no cover - generated per variant

    @overload
    async def get(self, key: K) -> V | None: ...
    @overload
    async def get(self, key: K, default: D) -> V | D: ...
    async def get(self, key: K, default: object = None) -> object:
        """Return the value stored under ``key``, or ``default`` if it is missing or expired.

        The awaitable twin of :meth:`get_nowait`; it does not yield to the loop.

        Raises:
            TypeError: ``key`` is not hashable.

        Example::

            value = await cache.get("user:1", default=None)
        """
        raise NotImplementedError  # pragma: no cover - generated per variant

    def _lookup(self, key: K) -> Entry | None:
        """The entry under ``key``, expired or not, without recording anything."""
        raise NotImplementedError  # pragma: no cover - generated per variant

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` holds a live (unexpired) entry. Not counted as a read."""
        entry = self._lookup(key)  # type: ignore[arg-type]
        return entry is not None and self._clock() < entry[1]

    def __len__(self) -> int:
        """Number of stored entries.

        Entries that have expired but that neither a read nor the sweeper has
        reclaimed yet are still counted; call :meth:`sweep` first for an exact
        count of live entries.
        """
        return sum(map(len, self._dicts))

    @overload
    def get_many_nowait(self, keys: Iterable[K]) -> list[V | None]: ...
    @overload
    def get_many_nowait(self, keys: Iterable[K], default: D) -> list[V | D]: ...
    def get_many_nowait(self, keys: Iterable[K], default: object = None) -> list[Any]:
        """Return the values of ``keys`` in order, ``default`` for each miss.

        All keys are judged at one instant (one clock read).

        Raises:
            TypeError: A key is not hashable.

        Example::

            cache.get_many_nowait(["a", "missing"])  # -> [1, None]
        """
        now = self._clock()
        values: list[object] = []
        lookup = self._lookup
        for key in keys:
            entry = lookup(key)
            if entry is not None and now < entry[1]:
                self._record_hit(entry)
                values.append(entry[0])
            else:
                self._record_miss()
                if entry is not None:
                    self._discard_expired(key, entry)
                values.append(default)
        return values

    @overload
    async def get_many(self, keys: Iterable[K]) -> list[V | None]: ...
    @overload
    async def get_many(self, keys: Iterable[K], default: D) -> list[V | D]: ...
    async def get_many(self, keys: Iterable[K], default: object = None) -> list[Any]:
        """Return the values of ``keys`` in order, ``default`` for each miss.

        The awaitable twin of :meth:`get_many_nowait`.

        Example::

            await cache.get_many(["a", "missing"])  # -> [1, None]
        """
        return self.get_many_nowait(keys, default)

    def _record_load(self, success: bool, seconds: float) -> None:
        """Count a finished load."""
        if self._stats is not None:
            self._stats.record_load(success, seconds)

    def _record_hit(self, entry: Entry) -> None:
        """Record a hit on ``entry`` (the generated read paths do it inline)."""
        if self._stats is not None:
            self._stats.hit()
        if self._maxsize is not None:
            self._counts[entry[2]] += 1

    def _record_miss(self) -> None:
        """Count a miss (the generated read paths count inline)."""
        if self._stats is not None:
            self._stats.miss()

    def ttl_nowait(self, key: K) -> float | None:
        """Return the seconds ``key`` has left to live, or ``None`` if it never expires.

        Raises:
            KeyError: ``key`` is missing or has expired.
            TypeError: ``key`` is not hashable.

        Example::

            cache.set_nowait("k", 1, ttl=10)
            cache.ttl_nowait("k")  # -> 10.0 (or a hair less)
        """
        entry = self._lookup(key)
        if entry is not None:
            expires_at = entry[1]
            if expires_at == NEVER:
                return None
            remaining: float = expires_at - self._clock()
            if remaining > 0.0:
                return remaining
            self._discard_expired(key, entry)
        raise KeyError(key)

    async def ttl(self, key: K) -> float | None:
        """Return the seconds ``key`` has left to live, or ``None`` if it never expires.

        The awaitable twin of :meth:`ttl_nowait`.

        Raises:
            KeyError: ``key`` is missing or has expired.
            TypeError: ``key`` is not hashable.

        Example::

            await cache.set("k", 1, ttl=10)
            await cache.ttl("k")  # -> 10.0 (or a hair less)
        """
        return self.ttl_nowait(key)

    # -- writing -------------------------------------------------------------

    def _shard_of(self, key: object) -> Shard[K, V]:
        try:
            return self._shards[hash(key) & self._mask]
        except TypeError:
            raise unhashable(key) from None

    def set_nowait(
        self, key: K, value: V, ttl: TTLArg = DEFAULT_TTL, *, tags: Iterable[Hashable] | None = None
    ) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds.

        Args:
            key: Any hashable key.
            value: Any value, ``None`` included; stored by reference.
            ttl: Seconds to live (a number or a :class:`~datetime.timedelta`);
                ``None`` never expires; ``0`` deletes the key. Defaults to the
                cache's ``default_ttl``. A ttl too long for the expiry index
                (past about 35 million years) expires on read only.
            tags: Tags for :meth:`invalidate_tags`; they replace the key's
                tags. Without ``tags`` an overwrite drops the key's tags.

        Raises:
            TypeError: ``key`` (or a tag) is not hashable, or ``ttl`` is not a
                number. Nothing is changed.
            ValueError: ``ttl`` is negative or NaN. Nothing is changed.

        Example::

            cache.set_nowait("session:1", {"user": 7}, ttl=1800)
        """
        raise NotImplementedError  # pragma: no cover - generated per variant (_writepath)

    async def set(
        self, key: K, value: V, ttl: TTLArg = DEFAULT_TTL, *, tags: Iterable[Hashable] | None = None
    ) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds.

        The awaitable twin of :meth:`set_nowait` (same arguments and errors).

        Example::

            await cache.set("user:1", {"name": "Ada"}, ttl=300)
        """
        raise NotImplementedError  # pragma: no cover - generated per variant (_writepath)

    def _enable_tags(self) -> None:
        """Switch every shard to the tag-keeping class, once (a plain cache pays nothing)."""
        if self._shards[-1].__class__ is not Shard:
            return
        for shard in self._shards:  # in order: the last one switched means all are
            with shard.lock:
                if shard.__class__ is Shard:
                    shard.__class__ = TaggedShard

    def set_many_nowait(
        self,
        mapping: Mapping[K, V],
        ttl: TTLArg = DEFAULT_TTL,
        *,
        tags: Iterable[Hashable] | None = None,
    ) -> None:
        """Store every item of ``mapping`` with the same ``ttl``, judged at one instant.

        Raises:
            TypeError: A key or a tag is not hashable, or ``ttl`` is not a
                number. Nothing is changed.
            ValueError: ``ttl`` is negative or NaN. Nothing is changed.

        Example::

            cache.set_many_nowait({"a": 1, "b": 2}, ttl=60)
        """
        seconds = self._default_ttl if ttl is DEFAULT_TTL else check_ttl(ttl)
        tag_set = None if tags is None else entry_tags(tags)
        # Every key hashed (and every value weighed) before anything changes.
        items = [
            (self._shard_of(key), key, value, hash(key), self._weight(key, value))
            for key, value in mapping.items()
        ]
        if seconds == 0.0:
            self._delete_all([key for _, key, *_ in items])
            return
        if tag_set is not None:
            self._enable_tags()
        if self._loads:
            self._detach_loads([key for _, key, *_ in items])
        now = self._clock()
        expires_at = NEVER if seconds is None else now + seconds
        removed: list[Removal] = []
        dropped: list[object] = []
        for shard, key, value, hash_, weight in items:
            with shard.lock:
                shard.store(key, value, expires_at, now, removed, dropped, tag_set, hash_, weight)
            if self._stats is not None:
                self._stats.put()
            if len(dropped) > _SLICE_KEYS:
                self._release(removed, dropped)
        self._release(removed, dropped)

    async def set_many(
        self,
        mapping: Mapping[K, V],
        ttl: TTLArg = DEFAULT_TTL,
        *,
        tags: Iterable[Hashable] | None = None,
    ) -> None:
        """Store every item of ``mapping`` with the same ``ttl``, judged at one instant.

        The awaitable twin of :meth:`set_many_nowait`.

        Example::

            await cache.set_many({"a": 1, "b": 2}, ttl=60)
        """
        self.set_many_nowait(mapping, ttl, tags=tags)

    # -- deleting ------------------------------------------------------------

    def delete_nowait(self, key: K) -> bool:
        """Remove ``key``; return whether it held a live entry.

        Raises:
            TypeError: ``key`` is not hashable.

        Example::

            cache.delete_nowait("user:1")  # -> True if it was cached
        """
        try:
            shard = self._shards[hash(key) & self._mask]
        except TypeError:
            raise unhashable(key) from None
        if self._loads:
            self._detach_loads((key,))
        now = self._clock()
        dropped: list[object] = []
        lock = shard.lock
        lock.acquire()
        try:
            old = shard.take(key, dropped)
        finally:
            lock.release()
        if old is None:
            return False
        live: bool = now < old[1]
        if self._stats is not None or self._listener is not None:
            self._release([(key, old, EXPLICIT if live else EXPIRED)], dropped)
        return live  # old and dropped are freed on return, with no lock held

    async def delete(self, key: K) -> bool:
        """Remove ``key``; return whether it held a live entry.

        The awaitable twin of :meth:`delete_nowait`.

        Example::

            if await cache.delete("user:1"):
                print("invalidated")
        """
        return self.delete_nowait(key)

    def delete_many_nowait(self, keys: Iterable[K]) -> int:
        """Remove every key in ``keys``; return how many held a live entry.

        Raises:
            TypeError: A key is not hashable. Nothing is changed.

        Example::

            cache.delete_many_nowait([f"user:{uid}" for uid in (1, 2, 3)])
        """
        return self._delete_all(keys)

    async def delete_many(self, keys: Iterable[K]) -> int:
        """Remove every key in ``keys``; return how many held a live entry.

        The awaitable twin of :meth:`delete_many_nowait`.

        Example::

            await cache.delete_many([f"user:{uid}" for uid in (1, 2, 3)])
        """
        return self._delete_all(keys)

    def _delete_all(self, keys: Iterable[K]) -> int:
        shards = [(self._shard_of(key), key) for key in keys]  # all hashable before any change
        if self._loads:
            self._detach_loads([key for _, key in shards])
        now = self._clock()
        deleted = 0
        removed: list[Removal] = []
        dropped: list[object] = []
        for shard, key in shards:
            with shard.lock:
                deleted += shard.pop(key, now, removed, dropped)
            if len(removed) + len(dropped) > _SLICE_KEYS:
                self._release(removed, dropped)
        self._release(removed, dropped)
        return deleted

    def _discard_expired(self, key: K, entry: Entry) -> None:
        """Remove ``entry`` found expired by a read, unless a writer replaced it."""
        shard = self._shards[hash(key) & self._mask]
        removed: list[Removal] = []
        dropped: list[object] = []
        with shard.lock:
            shard.discard_expired(key, entry, removed, dropped)
        self._release(removed, dropped, "read")

    def _release(
        self, removed: list[Removal], dropped: list[object], reclaimer: str = "write"
    ) -> None:
        """Count, report and free what a locked step removed; no lock may be held.

        ``reclaimer`` says who found the expired entries among ``removed``.
        """
        if self._stats is not None:
            self._stats.record_removals(removed, reclaimer, self._removal_weight)
        release(self._listener, removed, dropped)

    def _report_put(self, key: K, garbage: object, now: float) -> None:
        """Report what a plain ``put`` returned: a replaced entry, or a Trash."""
        if garbage.__class__ is Trash:
            trash: Trash = garbage
            replaced = trash.replaced
            removed = trash.removed
            if replaced is not None:
                removed.insert(0, (key, replaced, REPLACED if now < replaced[1] else EXPIRED))
            self._release(removed, trash.dropped)
            return
        old: Entry = garbage  # type: ignore[assignment]
        cause = REPLACED if now < old[1] else EXPIRED
        stats = self._stats
        if stats is not None:
            if cause is REPLACED:
                stats.replaced()
            else:
                stats.expired["write"]()
        if self._listener is not None:
            notify(self._listener, (key, old, cause))

    def _weight(self, key: K, value: V) -> int:
        """1, or the weigher's checked weight of ``value``."""
        return 1 if self._weigher is None else self._weigh(key, value)

    def _removal_weight(self, key: K, value: V) -> int:
        """The weight of a removed entry, for statistics (0 if the weigher fails now)."""
        if self._weigher is None:
            return 1
        try:
            return self._weigh(key, value)
        except (TypeError, ValueError):
            return 0

    def _weigh(self, key: K, value: V) -> int:
        """The weight of ``value`` by the cache's weigher, checked; raises before any change."""
        weigher = self._weigher
        assert weigher is not None
        try:
            weight = weigher(key, value)
        except Exception as exc:
            raise ValueError(
                f"the weigher failed on key {safe_repr(key)}: {exc!r}; nothing was stored"
            ) from exc
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise TypeError(
                f"the weigher must return an int, got {type(weight).__name__} {safe_repr(weight)} "
                f"for key {safe_repr(key)}; nothing was stored"
            )
        if weight < 0:
            raise ValueError(
                f"the weigher returned a negative weight ({weight}) for key {safe_repr(key)}; "
                f"nothing was stored"
            )
        return weight

    def _lock_all(self) -> list[threading.Lock]:
        acquired: list[threading.Lock] = []
        try:
            for shard in self._shards:
                shard.lock.acquire()
                acquired.append(shard.lock)
        except BaseException:
            for lock in reversed(acquired):
                lock.release()
            raise
        return acquired

    def _swap_out(self) -> tuple[tuple[dict[K, Entry], ...], list[object]]:
        """Empty the cache at once, under every lock; return the old contents."""
        if self._loads:
            self._detach_loads(None)
        fresh = self._new_dicts()
        acquired = self._lock_all()
        try:
            old_dicts = self._dicts
            garbage: list[object] = [shard.reset({}) for shard in self._shards]
            self._install_dicts(fresh)
        finally:
            for lock in reversed(acquired):
                lock.release()
        return old_dicts, garbage

    def clear_nowait(self) -> None:
        """Remove every entry, at once.

        Every shard's lock is held only to swap in empty containers; the old
        entries are then freed (and reported to ``on_removal``) with no lock
        held, but in one go: ``O(entries)`` for the caller. In an event loop,
        prefer :meth:`clear`, which frees them in slices.

        Example::

            cache.clear_nowait()
            assert len(cache) == 0
        """
        old_dicts, garbage = self._swap_out()
        now = self._clock()
        removed: list[Removal] = []
        for old in old_dicts:
            while old:
                key, entry = old.popitem()
                removed.append((key, entry, _cause(entry, now)))
                if len(removed) >= _SLICE_KEYS:
                    self._release(removed, [])
        self._release(removed, garbage)

    async def clear(self) -> None:
        """Remove every entry, without stalling the event loop.

        The cache is empty as soon as this is called (every lock is held just
        long enough to swap in empty containers); the old entries are then
        freed, and reported to ``on_removal``, in slices of about a quarter
        millisecond with a checkpoint between them. (The emptied dict's own
        table goes back to the allocator in one step at the end: a few
        milliseconds at half a million entries.) If cancelled, the rest is
        released at once.

        Example::

            await cache.clear()
        """
        old_dicts, garbage = self._swap_out()
        now = self._clock()
        removed: list[Removal] = []
        deadline = perf_counter() + SLICE_SECONDS
        try:
            for old in old_dicts:
                while old:
                    for _ in range(_SLICE_KEYS):
                        if not old:
                            break
                        key, entry = old.popitem()
                        removed.append((key, entry, _cause(entry, now)))
                    if self._stats is not None:
                        self._stats.record_removals(removed, "write", self._removal_weight)
                    deadline = await release_in_slices(removed, [], self._listener, deadline)
            for _ in dismantle(garbage):  # the old index and tag sets, a slice at a time
                if perf_counter() >= deadline:
                    await anyio.lowlevel.checkpoint()
                    deadline = perf_counter() + SLICE_SECONDS
        finally:
            # Cancelled: the cache is already empty; report and free the rest
            # now (what ``removed`` still holds was counted already).
            release(self._listener, removed, [])
            for old in old_dicts:
                while old:
                    key, entry = old.popitem()
                    removed.append((key, entry, _cause(entry, now)))
            self._release(removed, garbage)

    def expire_nowait(self, key: K, ttl: TTLArg) -> bool:
        """Give the live entry under ``key`` a new ``ttl`` from now.

        Args:
            key: The key to change.
            ttl: Seconds to live from now; ``None`` never expires; ``0``
                deletes the key.

        Returns:
            Whether ``key`` held a live entry (and so was changed).

        Raises:
            TypeError: ``key`` is not hashable or ``ttl`` is not a number.
            ValueError: ``ttl`` is negative or NaN. Nothing is changed.

        Example::

            cache.expire_nowait("session:1", 3600)  # extend a session
        """
        seconds = self._default_ttl if ttl is DEFAULT_TTL else check_ttl(ttl)
        shard = self._shard_of(key)
        if self._loads:
            self._detach_loads((key,))
        removed: list[Removal] = []
        dropped: list[object] = []
        with shard.lock:
            now = self._clock()
            expires_at = None if seconds == 0.0 else NEVER if seconds is None else now + seconds
            changed = shard.retime(key, now, expires_at, removed, dropped)
        self._release(removed, dropped)
        return changed

    async def expire(self, key: K, ttl: TTLArg) -> bool:
        """Give the live entry under ``key`` a new ``ttl`` from now.

        The awaitable twin of :meth:`expire_nowait`.

        Example::

            await cache.expire("session:1", 3600)  # extend a session
        """
        return self.expire_nowait(key, ttl)

    # -- tags ----------------------------------------------------------------

    def invalidate_tags_nowait(self, *tags: Hashable) -> int:
        """Remove every entry carrying any of ``tags``; return how many live ones it removed.

        Loads in flight whose result would carry one of the tags are
        detached, as for :meth:`delete`: a value loaded before this call never
        lands after it. Removals are reported to ``on_removal`` as
        ``EXPLICIT``. Costs ``O(members)``, in one go; in an event loop prefer
        :meth:`invalidate_tags`, which works in slices.

        Raises:
            TypeError: A tag is not hashable.

        Example::

            cache.set_nowait("user:7", user, tags=("user:7",))
            cache.set_nowait("user:ada@example.com", user, tags=("user:7",))
            assert cache.invalidate_tags_nowait("user:7") == 2
        """
        removed_live = 0
        for step in self._invalidation_steps(check_tags(tags)):
            removed_live += step
        return removed_live

    async def invalidate_tags(self, *tags: Hashable) -> int:
        """Remove every entry carrying any of ``tags``; return how many live ones it removed.

        Like :meth:`invalidate_tags_nowait`, but in slices of about a quarter
        millisecond with a checkpoint between them, so the loop never stalls.

        Raises:
            TypeError: A tag is not hashable.

        Example::

            await cache.set("user:7", user, tags=("user:7",))
            await cache.set("profile:7", profile, tags=("user:7",))
            assert await cache.invalidate_tags("user:7") == 2
        """
        removed_live = 0
        deadline = perf_counter() + SLICE_SECONDS
        for step in self._invalidation_steps(check_tags(tags)):
            removed_live += step
            if perf_counter() >= deadline:
                await anyio.lowlevel.checkpoint()
                deadline = perf_counter() + SLICE_SECONDS
        return removed_live

    def _invalidation_steps(self, tags: frozenset[Hashable]) -> Iterable[int]:
        """Remove the entries carrying ``tags``, one locked slice per step; yield live counts."""
        if self._loads:
            self._detach_tagged(tags)
        for shard in self._shards:
            if not shard.tag_index:
                continue
            with shard.lock:
                taken = [shard.take_tagged(tag) for tag in tags]
            members: set[Any] = set().union(*(keys for keys in taken if keys))
            del taken  # outside the lock: these sets may hold the last references to keys
            while members:
                removed: list[Removal] = []
                dropped: list[object] = []
                batch = list(islice(_popper(members), _TAG_SLICE))
                live = 0
                with shard.lock:
                    now = self._clock()
                    data = shard.data
                    for key in batch:
                        entry = data.get(key)
                        # Between two slices the key may have been set again
                        # without these tags: only an entry carrying one goes.
                        if entry is not None and len(entry) > 3 and not tags.isdisjoint(entry[3]):
                            live += shard.pop(key, now, removed, dropped)
                    del key, entry
                self._release(removed, dropped)
                del batch
                yield live

    def _detach_tagged(self, tags: frozenset[Hashable]) -> None:
        """Detach the in-flight loads whose result may carry one of ``tags``.

        A load whose tags depend on its value may carry any tag until its
        value is known: it is detached too (its callers still get its value,
        new callers load afresh), so no caller arriving after the
        invalidation is handed a value read before it.
        """
        with self._loads_lock:
            loads = self._loads
            for key, load in list(loads.items()):
                if load.carries_any(tags) is not False and not load.committing:
                    del loads[key]
                    load.stale = True

    # -- loading (single-flight) --
    # The miss path and its rules (errors, cancellation, invalidation) live in
    # _loading.py; what stays here is the hit path, kept as cheap as `get`'s.

    async def get_or_load(
        self,
        key: K,
        loader: Callable[[], Awaitable[V]],
        *,
        ttl: TTLArg = DEFAULT_TTL,
        # A caller's own cancel scope cannot bound a load shared by many callers.
        timeout: float | None = None,  # noqa: ASYNC109
        refresh_ahead: float | None = None,
        tags: Iterable[Hashable] | Callable[[V], Iterable[Hashable]] | None = None,
    ) -> V:
        """Return the value under ``key``, loading it with ``loader()`` on a miss.

        Single-flight: on a miss exactly one caller per key runs ``await
        loader()`` and every concurrent caller for that key waits for its
        result; other keys are never blocked. The loader takes no arguments
        (bind them with a closure or :func:`functools.partial`). The result is
        stored with the ttl (and tags) of the caller that ran the loader.

        * If the loader raises, that caller and every caller waiting on the
          same load get the exception; nothing is cached and the next call
          loads again.
        * If the caller running the loader is cancelled, a waiting caller
          takes over and runs its own loader; waiters never receive the
          cancellation. A cancelled waiter just stops waiting.
        * If the key is set, deleted, expired or cleared (or one of the load's
          ``tags`` is invalidated) while a load is in flight, the callers
          already waiting get its result but it is not stored; later callers
          start a new load.
        * A loader that (directly, or in a task it started) waits for its own
          key gets a :class:`RuntimeError` instead of waiting forever.
        * Single-flight is per event loop: a caller in another loop or
          thread runs its loader on its own and does not store the result.

        Args:
            key: Any hashable key.
            loader: An async callable without arguments returning the value.
            ttl: Seconds the loaded value lives, as in :meth:`set`.
            timeout: Seconds the loader may run (:func:`anyio.fail_after`);
                ``None`` waits forever.
            refresh_ahead: Early refresh: a hit in the last ``refresh_ahead``
                seconds of the entry's life starts one refresh (single-flight).
                While ``async with cache:`` runs in the caller's loop the
                refresh runs in the cache's task group and callers keep
                getting the current value; otherwise the caller that hits the
                window runs the load itself. A failed refresh (whatever the
                loader raises, a stray cancellation included) is logged on the
                ``sweepcache`` logger and the current value stays. It must be
                shorter than ``ttl``. ``None`` (the default) never refreshes early.
            tags: Tags of the loaded value, as in :meth:`set`, or a function
                building them from the loaded value.

        Returns:
            The cached or loaded value.

        Raises:
            TypeError: ``key`` is not hashable, or an argument has the wrong type.
            ValueError: ``ttl``, ``timeout`` or ``refresh_ahead`` is out of range.
            TimeoutError: The load took longer than ``timeout``.
            RuntimeError: The loader waited for its own key.
            Exception: Whatever the loader raised.

        Example::

            async def load_user() -> dict:
                return await db.fetch_user(7)

            user = await cache.get_or_load("user:7", load_user, ttl=300)
        """
        raise NotImplementedError  # pragma: no cover - generated per variant

    def _detach_loads(self, keys: Iterable[K] | None) -> None:
        """Detach the in-flight loads of ``keys`` (all loads if ``None``).

        A detached load still hands its result to the callers waiting on it
        but no longer stores it, and new callers no longer join it. Writers
        call this before taking a shard lock, never while holding one: a
        load stores its result under the registry lock (lock order: registry,
        then shard).
        """
        loads = self._loads
        with self._loads_lock:
            if keys is None:
                detached = list(loads.values())
                loads.clear()
            else:
                detached = []
                for key in keys:
                    try:
                        load = loads.get(key)
                    except TypeError:
                        raise unhashable(key) from None
                    if load is not None and not load.committing:
                        del loads[key]
                        detached.append(load)
            for load in detached:
                load.stale = True

    # -- sweeping ------------------------------------------------------------

    async def sweep(self) -> int:
        """Reclaim every entry that has expired now; return how many.

        Works in slices of about a quarter millisecond with a checkpoint
        between them, holding one shard's lock at a time, and frees what it
        removed (and calls ``on_removal``) outside the lock, so the loop keeps
        serving. Its cost grows with the number of expired entries, not the
        cache size.

        Example::

            clock.advance(61)
            assert await cache.sweep() == 1
        """
        removed: list[Removal] = []
        dropped: list[object] = []
        stats = self._stats
        return await run_in_slices(
            self._sweep_steps(removed, dropped),
            removed,
            dropped,
            self._listener,
            None
            if stats is None
            else functools.partial(
                stats.record_removals, reclaimer="sweeper", weigh=self._removal_weight
            ),
        )

    def sweep_nowait(self) -> int:
        """Reclaim every entry that has expired now, in this thread; return how many.

        The synchronous twin of :meth:`sweep`, for threads and code without an
        event loop: the same locked steps, one shard lock at a time, each
        step's removals released after its lock, but no checkpoints, so the
        caller is busy for ``O(expired entries)``.

        Example::

            clock.advance(61)
            assert cache.sweep_nowait() == 1
        """
        removed: list[Removal] = []
        dropped: list[object] = []
        reclaimed = 0
        for _ in self._sweep_steps(removed, dropped):
            reclaimed += len(removed)
            self._release(removed, dropped, "sweeper")
        return reclaimed

    def _sweep_steps(self, removed: list[Removal], dropped: list[object]) -> Iterable[None]:
        now = self._clock()
        scaled = now * self._inverse_width
        return sweep_steps(self._shards, now, scaled - scaled % 1.0, removed, dropped)

    async def run_sweeper(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Sweep every ``sweep_interval`` seconds until cancelled.

        Meant for ``await task_group.start(cache.run_sweeper)`` in a service's
        own task group; ``async with cache:`` does the same for you. A pass
        that raises is logged on the ``sweepcache`` logger and retried with
        exponential backoff (up to 60 intervals); the cache keeps serving
        with lazy expiry meanwhile.

        Example::

            async with anyio.create_task_group() as tg:
                await tg.start(cache.run_sweeper)
                ...
                tg.cancel_scope.cancel()
        """
        await run_sweeper(self.sweep, self._sweep_interval, task_status)

    async def __aenter__(self: _CacheT) -> _CacheT:
        """Start the sweeper in a task group owned by the cache."""
        with self._lifecycle_lock:
            if self._task_group is not None:
                raise RuntimeError(
                    "this cache's sweeper is already running ('async with cache' twice)"
                )
            task_group = self._task_group = anyio.create_task_group()
            self._task_group_token = anyio.lowlevel.current_token()
            self._task_group_owner = anyio.get_current_task().id
        try:
            await task_group.__aenter__()
        except BaseException:
            self._task_group = self._task_group_token = None
            raise
        try:
            await task_group.start(self.run_sweeper)
        except BaseException as exc:
            task_group.cancel_scope.cancel()
            self._task_group = self._task_group_token = None
            await task_group.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        """Stop the sweeper and wait for it (and any task it started) to finish.

        An exception raised in the ``async with`` body propagates unchanged,
        not wrapped in an ``ExceptionGroup``: the task group only ever holds
        the cache's own tasks, so it is told about cancellations only.
        """
        task_group = self._task_group
        assert task_group is not None, "__aexit__ without __aenter__"
        task_group.cancel_scope.cancel()
        if anyio.get_current_task().id != self._task_group_owner:
            # An async generator fixture of pytest-asyncio runs its setup and
            # its teardown in two tasks; a task group cannot be exited from a
            # task other than its own. Stop the sweeper and say what works.
            self._task_group = self._task_group_token = None
            await anyio.lowlevel.checkpoint()  # the cancelled sweeper ends meanwhile
            raise RuntimeError(
                "'async with cache:' was exited in another task than the one that entered it "
                "(pytest-asyncio runs an async generator fixture's setup and teardown in two "
                "tasks). Use AnyIO's pytest plugin, or run the sweeper in a task of your own "
                "(see 'Testing' in the docs): the sweeper has been stopped."
            )
        try:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                # It may be the task group's own cancellation: let it absorb it.
                return await task_group.__aexit__(exc_type, exc, traceback)
            await task_group.__aexit__(None, None, None)
            return None
        finally:
            self._task_group = self._task_group_token = None

    # -- introspection -------------------------------------------------------

    def stats(self) -> CacheStats:
        """Return a snapshot of the statistics (with ``record_stats=True``).

        Without ``record_stats`` every count is 0 (as Caffeine); ``entries``
        and ``weight`` are always filled in.

        Example::

            cache = Cache[str, int](record_stats=True)
            cache.set_nowait("a", 1)
            cache.get_nowait("a"), cache.get_nowait("b")
            assert cache.stats().hit_ratio == 0.5
        """
        entries = len(self)
        weight = self.weight
        if self._stats is None:
            return CacheStats(entries=entries, weight=weight)
        return self._stats.snapshot(entries, weight)

    @property
    def default_ttl(self) -> float | None:
        """Seconds an entry lives when ``set`` gets no ``ttl``; ``None`` means never."""
        return self._default_ttl

    @property
    def sweep_interval(self) -> float:
        """Seconds between the background sweeper's passes."""
        return self._sweep_interval

    @property
    def shards(self) -> int:
        """Number of lock stripes."""
        return len(self._shards)

    @property
    def maxsize(self) -> int | None:
        """The size bound: entries, or total weight with a weigher; ``None`` when unbounded."""
        return self._maxsize

    @property
    def weight(self) -> int:
        """The total weight of the stored entries (their number without a weigher)."""
        if self._maxsize is None:
            return len(self)
        return sum(shard.policy.weight for shard in self._shards)  # type: ignore[attr-defined]

    @property
    def record_stats(self) -> bool:
        """Whether this cache keeps the counters of :meth:`stats` (``record_stats=True``)."""
        return self._stats is not None

    @property
    def name(self) -> str | None:
        """The name given at construction, shown in ``repr`` and metrics."""
        return self._name

    def __repr__(self) -> str:
        name = "" if self._name is None else f" name={self._name!r}"
        return (
            f"<sweepcache.Cache{name} entries={len(self)} shards={len(self._shards)} "
            f"default_ttl={self._default_ttl!r} sweep_interval={self._sweep_interval!r}>"
        )


# ``Cache(...)`` goes through ``__new__`` (which picks the variant) and then
# ``__init__``: show users (and help(), IDEs) the constructor's real signature.
_init_signature = inspect.signature(Cache.__init__)
Cache.__signature__ = _init_signature.replace(  # type: ignore[attr-defined]
    parameters=list(_init_signature.parameters.values())[1:],
    return_annotation=inspect.Signature.empty,
)


def _popper(items: set[Any]) -> Iterator[Any]:
    """Pop ``items`` one by one (for ``islice``)."""
    while items:
        yield items.pop()


def _cause(entry: Entry, now: float) -> RemovalCause:
    return EXPLICIT if now < entry[1] else EXPIRED


def set_tagged(self: Cache[K, V], key: K, value: V, ttl: TTLArg, tags: Iterable[Hashable]) -> None:
    """The set with ``tags`` of unbounded caches: the plain path, with the tag index kept.

    (A bounded cache's own ``set_nowait`` stores tags through its policy.)
    """
    seconds = self._default_ttl if ttl is DEFAULT_TTL else check_ttl(ttl)
    tag_tuple = entry_tags(tags)
    if seconds == 0.0:
        self.delete_nowait(key)
        return
    try:
        shard = self._shards[hash(key) & self._mask]
    except TypeError:
        raise unhashable(key) from None
    if shard.__class__ is Shard:  # shards only ever switch to TaggedShard
        self._enable_tags()
    if self._loads:
        self._detach_loads((key,))
    now = self._clock()
    expires_at = NEVER if seconds is None else now + seconds
    lock = shard.lock
    lock.acquire()
    try:
        garbage = (
            shard.put_tagged(key, value, expires_at, now, tag_tuple)  # type: ignore[attr-defined]
            if tag_tuple
            else shard.put(key, value, expires_at, now)
        )
    finally:
        lock.release()
    stats = self._stats
    if stats is not None:
        stats.put()
    if garbage is not None and (stats is not None or self._listener is not None):
        self._report_put(key, garbage, now)
    del garbage


def _default_shards(maxsize: int | None, weighted: bool) -> int:
    """16 shards, but a bounded cache keeps at least ~1,250 entries per shard.

    Splitting a budget by key hash costs hit ratio once the shards get small
    (the eviction suite's sharding table: under 0.5 points down to 1,250
    entries per shard, up to 14 points below 12); a weighted budget is not
    split at all, so that any entry up to ``maxsize`` fits.
    """
    if maxsize is None:
        return DEFAULT_SHARDS
    if weighted:
        return 1
    shards = 1
    while shards < DEFAULT_SHARDS and maxsize // (shards * 2) >= _MIN_ENTRIES_PER_SHARD:
        shards *= 2
    return shards


#: The write paths of the variants (see _writepath.py).
_PLAIN: Final = _writepath.PLAIN
_REPORTING: Final = _writepath.REPORTING
_BOUNDED: Final = _writepath.BOUNDED


def _features(
    maxsize: int | None, on_removal: object, record_stats: object
) -> tuple[tuple[str, ...], str]:
    """What the read path records and which write path fits these constructor arguments."""
    records: tuple[str, ...] = ("policy",) if maxsize is not None else ()
    if record_stats is True:
        records += ("stats",)
    if maxsize is not None:
        return records, _BOUNDED
    if on_removal is not None or record_stats is True:
        return records, _REPORTING
    return records, _PLAIN


def _variant_of(
    origin: type[Cache[Any, Any]], layout: str, records: tuple[str, ...], writes: str
) -> type[Cache[Any, Any]]:
    """The class instances of ``origin`` (``Cache`` or a subclass) are built from.

    For a subclass: a class of the same name over the subclass and the
    variant, built once, so the subclass's own methods come first and reach
    the generated paths through ``super()``.
    """
    variant = _variant(layout, records, writes)
    if origin is Cache:
        return variant
    # Kept on the subclass itself, so that it and its variants are freed together.
    built_from = origin.__dict__.get("_sweepcache_variants")
    if built_from is None:
        built_from = {}
        type.__setattr__(origin, "_sweepcache_variants", built_from)
    key = (layout, records, writes)
    built: type[Cache[Any, Any]] | None = built_from.get(key)
    if built is None:
        namespace = {
            "__slots__": (),
            "__module__": origin.__module__,
            "__qualname__": origin.__qualname__,
            "_variant": key,
            "_origin": origin,
        }
        built = built_from.setdefault(key, type(origin.__name__, (origin, variant), namespace))
    return built


@functools.cache
def _variant(layout: str, records: tuple[str, ...], writes: str) -> type[Cache[Any, Any]]:
    """The private subclass of ``Cache`` with this layout's and these features' paths.

    ``records``: what reads record (see ``_readpath``); ``writes``: the write
    path (plain; reporting what it replaces to a listener and statistics;
    bounded, with the eviction policy).
    """
    namespace: dict[str, Any] = dict(_readpath.read_methods(layout, records))
    namespace["__slots__"] = ()
    namespace["_layout_name"] = classmethod(lambda cls: layout)
    namespace["_variant"] = (layout, records, writes)
    namespace["_origin"] = Cache
    namespace.update(_writepath.write_methods(writes))
    variant = type("Cache", (Cache,), namespace)
    variant.__module__ = "sweepcache"
    return variant
