"""``Cache[K, V]``: the public facade over the sharded entries and the sweeper."""

from __future__ import annotations

import enum
import math
import threading
from numbers import Real
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, NoReturn, TypeVar, final, overload

import anyio
import anyio.lowlevel

from ._clock import Clock, default_clock
from ._expiry import NEVER, Entry, K, V
from ._loading import load as _load
from ._loading import refresh as _refresh
from ._shards import Shard
from ._sweeper import run_sweeper, sweep_steps, sweep_with_checkpoints

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping
    from types import TracebackType

    from anyio.abc import TaskGroup, TaskStatus
    from anyio.lowlevel import EventLoopToken

    from ._loading import Load

D = TypeVar("D")
_CacheT = TypeVar("_CacheT", bound="Cache[Any, Any]")

#: Each sweep interval is split into this many expiry buckets. A pass empties
#: the due buckets and scans the one the current instant falls in, so it
#: reclaims every expired key while looking at no more than a quarter
#: interval's worth of keys that have not expired yet.
_BUCKETS_PER_INTERVAL: Final = 4


class _Default(enum.Enum):
    """The type of :data:`DEFAULT_TTL`: "use the cache's ``default_ttl``".

    Pass it to forward a ``ttl`` argument without choosing one yourself::

        async def remember(key: str, value: int, ttl: TTLArg = DEFAULT_TTL) -> None:
            await cache.set(key, value, ttl=ttl)
    """

    TTL = "the cache's default_ttl"

    def __repr__(self) -> str:
        return "<default_ttl>"


#: Sentinel for "use the cache's ``default_ttl``".
DEFAULT_TTL: Final = _Default.TTL

TTLArg = float | None | Literal[_Default.TTL]


def check_ttl(ttl: object, name: str = "ttl") -> float | None:
    """Return ``ttl`` as float seconds (``None`` for never), or raise.

    Any real number works (``int``, ``float``, ``Fraction``, NumPy floats);
    ``math.inf`` means never, like ``None``. ``bool`` is rejected although it
    is an ``int``: ``ttl=True`` is a bug, not one second.
    """
    if ttl is None:
        return None
    if ttl.__class__ is int or ttl.__class__ is float:  # skip the slow ABC check
        seconds = float(ttl)
        if not seconds >= 0.0:  # negative or NaN
            raise ValueError(f"{name} must be >= 0 or None, got {ttl!r}")
        return None if seconds == math.inf else seconds
    if isinstance(ttl, bool) or not isinstance(ttl, Real):
        raise TypeError(
            f"{name} must be a number of seconds or None, got {type(ttl).__name__} {ttl!r}"
        )
    seconds = float(ttl)
    if not seconds >= 0.0:  # negative or NaN
        raise ValueError(f"{name} must be >= 0 or None, got {ttl!r}")
    return None if seconds == math.inf else seconds


def _unhashable(key: object) -> TypeError:
    return TypeError(
        f"cache keys must be hashable, got unhashable key of type {type(key).__name__!r}"
    )


@final
class Cache(Generic[K, V]):
    """An in-process TTL cache for asyncio and trio.

    Reads take no lock; writes lock one of ``shards`` stripes for a few
    bytecodes and never across an ``await``. Expired entries are never
    returned (lazy expiry) and are reclaimed in the background by the sweeper
    (``async with cache:`` or ``await task_group.start(cache.run_sweeper)``),
    by :meth:`sweep`, and a few at a time by writes of new keys.

    The async methods never yield to the event loop: they wrap the
    ``*_nowait`` methods so that code can ``await`` them today and a slower
    tier can sit behind the same names later.

    Args:
        default_ttl: Seconds an entry lives when ``set`` gets no ``ttl``;
            ``None`` means entries never expire by default.
        shards: Number of lock stripes (and expiry indexes); a power of two.
        sweep_interval: Seconds between the sweeper's passes (real time).
        clock: Returns the current time in seconds and never goes backwards;
            it decides expiry. :class:`sweepcache.testing.FakeClock` in tests.

    Raises:
        ValueError: ``default_ttl`` is not > 0 or ``None``, ``shards`` is not a
            power of two >= 1, or ``sweep_interval`` is not > 0.
        TypeError: An argument has the wrong type.

    Example::

        async with Cache[str, int](default_ttl=30.0) as cache:
            await cache.set("answer", 42)
            assert await cache.get("answer") == 42
    """

    __slots__ = (
        "__weakref__",
        "_clock",
        "_data",
        "_default_ttl",
        "_inverse_width",
        "_lifecycle_lock",
        "_loads",
        "_loads_lock",
        "_mask",
        "_shards",
        "_sweep_interval",
        "_task_group",
        "_task_group_token",
    )

    def __init__(
        self,
        *,
        default_ttl: float | None = 60.0,
        shards: int = 16,
        sweep_interval: float = 1.0,
        clock: Clock = default_clock,
    ) -> None:
        default_seconds = check_ttl(default_ttl, "default_ttl")
        if default_seconds == 0.0:
            raise ValueError("default_ttl must be > 0 or None, got 0 (ttl=0 deletes a key)")
        if isinstance(shards, bool) or not isinstance(shards, int):
            raise TypeError(f"shards must be an int, got {type(shards).__name__} {shards!r}")
        if shards < 1 or shards & (shards - 1):
            raise ValueError(f"shards must be a power of two >= 1, got {shards!r}")
        if isinstance(sweep_interval, bool) or not isinstance(sweep_interval, (int, float)):
            raise TypeError(
                f"sweep_interval must be a number of seconds, got "
                f"{type(sweep_interval).__name__} {sweep_interval!r}"
            )
        if not 0.0 < sweep_interval < math.inf:
            raise ValueError(f"sweep_interval must be > 0 and finite, got {sweep_interval!r}")
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")

        width = float(sweep_interval) / _BUCKETS_PER_INTERVAL
        self._default_ttl = default_seconds
        self._sweep_interval = float(sweep_interval)
        self._clock = clock
        #: Every entry, as ``key -> (value, expires_at)``; one dict for all
        #: shards so that a read is a single ``dict.get`` with no shard lookup.
        self._data: dict[K, Entry[V]] = {}
        self._shards: tuple[Shard[K, V], ...] = tuple(Shard(width) for _ in range(shards))
        self._mask = shards - 1
        self._inverse_width = 1.0 / width
        self._task_group: TaskGroup | None = None
        self._lifecycle_lock = threading.Lock()
        # Single-flight loads in flight (see the loading section below). The
        # lock is reentrant because a load's final ``set_nowait`` runs under
        # it and calls the invalidation hook.
        self._loads: dict[K, Load[V]] = {}
        self._loads_lock = threading.RLock()
        #: Loop of ``_task_group``, so refreshes never spawn into a foreign loop.
        self._task_group_token: EventLoopToken | None = None

    # -- reading -------------------------------------------------------------
    # The read path is written out in full in each method instead of calling
    # one helper: a Python call costs ~60 ns, a quarter of the whole budget
    # (bench/bench_hotpath.py, target "get <= 1.5x the floor" in DESIGN.md).

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
        try:
            entry = self._data.get(key)
        except TypeError:
            raise _unhashable(key) from None
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        if entry is not None:
            self._discard_expired(key, entry)
        return default

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
        try:
            entry = self._data.get(key)
        except TypeError:
            raise _unhashable(key) from None
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        if entry is not None:
            self._discard_expired(key, entry)
        return default

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` holds a live (unexpired) entry."""
        try:
            entry = self._data.get(key)  # type: ignore[arg-type]
        except TypeError:
            raise _unhashable(key) from None
        return entry is not None and self._clock() < entry[1]

    def __len__(self) -> int:
        """Number of stored entries.

        Entries that have expired but that neither a read nor the sweeper has
        reclaimed yet are still counted; call :meth:`sweep` first for an exact
        count of live entries.
        """
        return len(self._data)

    @overload
    async def get_many(self, keys: Iterable[K]) -> list[V | None]: ...
    @overload
    async def get_many(self, keys: Iterable[K], default: D) -> list[V | D]: ...
    async def get_many(self, keys: Iterable[K], default: object = None) -> list[Any]:
        """Return the values of ``keys`` in order, ``default`` for each miss.

        All keys are judged at one instant (one clock read).

        Raises:
            TypeError: A key is not hashable.

        Example::

            await cache.get_many(["a", "missing"])  # -> [1, None]
        """
        data = self._data
        now = self._clock()
        values: list[object] = []
        for key in keys:
            try:
                entry = data.get(key)
            except TypeError:
                raise _unhashable(key) from None
            if entry is not None and now < entry[1]:
                values.append(entry[0])
            else:
                if entry is not None:
                    self._discard_expired(key, entry)
                values.append(default)
        return values

    async def ttl(self, key: K) -> float | None:
        """Return the seconds ``key`` has left to live, or ``None`` if it never expires.

        Raises:
            KeyError: ``key`` is missing or has expired.
            TypeError: ``key`` is not hashable.

        Example::

            await cache.set("k", 1, ttl=10)
            await cache.ttl("k")  # -> 10.0 (or a hair less)
        """
        try:
            entry = self._data.get(key)
        except TypeError:
            raise _unhashable(key) from None
        if entry is not None:
            expires_at = entry[1]
            if expires_at == NEVER:
                return None
            remaining = expires_at - self._clock()
            if remaining > 0.0:
                return remaining
            self._discard_expired(key, entry)
        raise KeyError(key)

    # -- writing -------------------------------------------------------------

    def _shard_of(self, key: object) -> Shard[K, V]:
        try:
            return self._shards[hash(key) & self._mask]
        except TypeError:
            raise _unhashable(key) from None

    def set_nowait(self, key: K, value: V, ttl: TTLArg = DEFAULT_TTL) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds.

        Args:
            key: Any hashable key.
            value: Any value, ``None`` included.
            ttl: Seconds to live; ``None`` never expires; ``0`` deletes the
                key. Defaults to the cache's ``default_ttl``.

        Raises:
            TypeError: ``key`` is not hashable or ``ttl`` is not a number.
            ValueError: ``ttl`` is negative or NaN. Nothing is changed.

        Example::

            cache.set_nowait("session:1", {"user": 7}, ttl=1800)
        """
        if ttl is DEFAULT_TTL:
            seconds = self._default_ttl
        elif ttl.__class__ is float and 0.0 < ttl < NEVER:  # type: ignore[operator,unused-ignore]
            seconds = ttl  # type: ignore[assignment,unused-ignore]
        else:
            seconds = check_ttl(ttl)
            if seconds == 0.0:
                self.delete_nowait(key)
                return
        try:
            shard = self._shards[hash(key) & self._mask]
        except TypeError:
            raise _unhashable(key) from None
        if self._loads:  # a load in flight must not store a result older than this
            self._detach_loads((key,))
        now = self._clock()
        expires_at = NEVER if seconds is None else now + seconds
        lock = shard.lock
        lock.acquire()  # not `with`: half the cost (bench/micro)
        try:
            shard.put(self._data, key, (value, expires_at), now)
        finally:
            lock.release()

    async def set(self, key: K, value: V, ttl: TTLArg = DEFAULT_TTL) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds.

        The awaitable twin of :meth:`set_nowait` (same arguments and errors).

        Example::

            await cache.set("user:1", {"name": "Ada"}, ttl=300)
        """
        self.set_nowait(key, value, ttl)

    async def set_many(self, mapping: Mapping[K, V], ttl: TTLArg = DEFAULT_TTL) -> None:
        """Store every item of ``mapping`` with the same ``ttl``, judged at one instant.

        Raises:
            TypeError: ``ttl`` is not a number. Nothing is changed.
            ValueError: ``ttl`` is negative or NaN. Nothing is changed.

        Example::

            await cache.set_many({"a": 1, "b": 2}, ttl=60)
        """
        seconds = self._default_ttl if ttl is DEFAULT_TTL else check_ttl(ttl)
        if seconds == 0.0:
            self._delete_all(mapping)
            return
        if self._loads:
            self._detach_loads(mapping)
        now = self._clock()
        expires_at = NEVER if seconds is None else now + seconds
        data = self._data
        for key, value in mapping.items():
            shard = self._shard_of(key)
            with shard.lock:
                shard.put(data, key, (value, expires_at), now)

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
            raise _unhashable(key) from None
        if self._loads:
            self._detach_loads((key,))
        lock = shard.lock
        lock.acquire()
        try:
            old = shard.pop(self._data, key)
        finally:
            lock.release()
        return old is not None and self._clock() < old[1]

    async def delete(self, key: K) -> bool:
        """Remove ``key``; return whether it held a live entry.

        The awaitable twin of :meth:`delete_nowait`.

        Example::

            if await cache.delete("user:1"):
                print("invalidated")
        """
        return self.delete_nowait(key)

    async def delete_many(self, keys: Iterable[K]) -> int:
        """Remove every key in ``keys``; return how many held a live entry.

        Raises:
            TypeError: A key is not hashable. Nothing is changed.

        Example::

            await cache.delete_many([f"user:{uid}" for uid in (1, 2, 3)])
        """
        return self._delete_all(keys)

    def _delete_all(self, keys: Iterable[K]) -> int:
        shards = [(self._shard_of(key), key) for key in keys]  # all hashable before any change
        if self._loads:
            self._detach_loads([key for _, key in shards])
        data = self._data
        now = self._clock()
        deleted = 0
        for shard, key in shards:
            with shard.lock:
                old = shard.pop(data, key)
            deleted += old is not None and now < old[1]
        return deleted

    def _discard_expired(self, key: K, entry: Entry[V]) -> None:
        """Remove ``entry`` found expired by a read, unless a writer replaced it."""
        shard = self._shards[hash(key) & self._mask]
        with shard.lock:
            data = self._data
            if data.get(key) is entry:
                shard.pop(data, key)

    def clear_nowait(self) -> None:
        """Remove every entry.

        Example::

            cache.clear_nowait()
            assert len(cache) == 0
        """
        if self._loads:
            self._detach_loads(None)
        # Take every lock, in order, so no write interleaves with the wipe.
        acquired: list[threading.Lock] = []
        try:
            for shard in self._shards:
                shard.lock.acquire()
                acquired.append(shard.lock)
            self._data.clear()
            for shard in self._shards:
                shard.clear()
        finally:
            for lock in reversed(acquired):
                lock.release()

    async def clear(self) -> None:
        """Remove every entry. The awaitable twin of :meth:`clear_nowait`.

        Example::

            await cache.clear()
        """
        self.clear_nowait()

    async def expire(self, key: K, ttl: float | None) -> bool:
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

            await cache.expire("session:1", 3600)  # extend a session
        """
        seconds = check_ttl(ttl)
        shard = self._shard_of(key)
        if self._loads:
            self._detach_loads((key,))
        data = self._data
        with shard.lock:
            entry = data.get(key)
            now = self._clock()
            if entry is None or entry[1] <= now:
                return False
            if seconds == 0.0:
                shard.pop(data, key)
                return True
            expires_at = NEVER if seconds is None else now + seconds
            data[key] = (entry[0], expires_at)
            shard.move(key, entry[1], expires_at, data)
            return True

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
    ) -> V:
        """Return the value under ``key``, loading it with ``loader()`` on a miss.

        Single-flight: on a miss exactly one caller per key runs ``await
        loader()`` and every concurrent caller for that key waits for its
        result; other keys are never blocked. The loader takes no arguments
        (bind them with a closure or :func:`functools.partial`). The result is
        stored with the ttl of the caller that ran the loader.

        * If the loader raises, that caller and every caller waiting on the
          same load get the exception; nothing is cached and the next call
          loads again.
        * If the caller running the loader is cancelled, a waiting caller
          takes over and runs its own loader; waiters never receive the
          cancellation. A cancelled waiter just stops waiting.
        * If the key is set, deleted, expired or cleared while a load is in
          flight, the callers already waiting get its result but it is not
          stored; later callers start a new load.
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
                window runs the load itself. A failed refresh is logged on the
                ``sweepcache`` logger and the current value stays. ``None``
                (the default) never refreshes early.

        Returns:
            The cached or loaded value.

        Raises:
            TypeError: ``key`` is not hashable, or an argument has the wrong type.
            ValueError: ``ttl``, ``timeout`` or ``refresh_ahead`` is out of range.
            TimeoutError: The load took longer than ``timeout``.
            Exception: Whatever the loader raised.

        Example::

            async def load_user() -> dict:
                return await db.fetch_user(7)

            user = await cache.get_or_load("user:7", load_user, ttl=300)
        """
        try:
            entry = self._data.get(key)
        except TypeError:
            raise _unhashable(key) from None
        if entry is not None:
            now = self._clock()
            if now < entry[1]:
                if refresh_ahead is None or entry[1] - now > refresh_ahead:
                    return entry[0]
                return await _refresh(self, key, loader, entry[0], ttl, timeout, refresh_ahead)
        return await _load(self, key, loader, ttl, timeout, refresh_ahead)

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
                        raise _unhashable(key) from None
                    if load is not None and not load.committing:
                        del loads[key]
                        detached.append(load)
            for load in detached:
                load.stale = True

    # -- end loading --

    # -- sweeping ------------------------------------------------------------

    async def sweep(self) -> int:
        """Reclaim every entry that has expired now; return how many.

        Works in slices of about a quarter millisecond with a checkpoint between
        them, holding one shard's lock at a time, so the loop keeps serving.
        Its cost grows with the number of expired entries, not the cache size.

        Example::

            clock.advance(61)
            assert await cache.sweep() == 1
        """
        return await sweep_with_checkpoints(self._sweep_steps())

    def _sweep_steps(self) -> Iterable[int]:
        now = self._clock()
        scaled = now * self._inverse_width
        return sweep_steps(self._shards, self._data, now, scaled - scaled % 1.0)

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
        try:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                # It may be the task group's own cancellation: let it absorb it.
                return await task_group.__aexit__(exc_type, exc, traceback)
            await task_group.__aexit__(None, None, None)
            return None
        finally:
            self._task_group = self._task_group_token = None

    # -- introspection -------------------------------------------------------

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

    def __repr__(self) -> str:
        return (
            f"<sweepcache.Cache entries={len(self._data)} shards={len(self._shards)} "
            f"default_ttl={self._default_ttl!r} sweep_interval={self._sweep_interval!r}>"
        )
