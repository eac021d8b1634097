"""Single-flight loads behind :meth:`sweepcache.Cache.get_or_load`.

On a miss, the first caller for a key becomes the *leader*: it registers a
:class:`Load` in the cache's in-flight registry (``key -> Load``), runs the
loader in its own task and publishes the outcome; every concurrent caller for
that key finds the registered load and waits on its event. Other keys are
never blocked: the registry lock is held for a few bytecodes, never across an
``await``.

Failure modes, decided once here:

* The loader raises an :class:`Exception` (``TimeoutError`` from ``timeout``
  included): the leader and every waiter of that load get that exception;
  nothing is cached, and the next call loads again.
* The leader is cancelled (or gets any other ``BaseException``): the load is
  *abandoned*, removed from the registry, and its waiters wake up, re-check
  the cache, and the first of them becomes the new leader. Waiters never see
  a cancellation they did not ask for (cashews' ``lock=True`` cancels
  everyone; async-lru shares one task and must shield it).
* A waiter is cancelled: it simply stops waiting; the load goes on.
* The key is invalidated (``set``/``delete``/``expire``/``clear``, or one of
  the load's tags) while the load is in flight: the load is *detached*: its
  result still reaches the callers already waiting on it but is not written
  to the cache, and new callers start a fresh load (a generation check, as in
  dogpile's ``get_or_create`` with an invalidation time).
* A loader that waits on its own key (directly, or from a task it started)
  would wait forever: the loads a task leads are kept in a context variable,
  which child tasks inherit, and such a wait raises :class:`RuntimeError`.
* A background refresh never disturbs the cache's task group: whatever its
  loader raises, a stray cancellation or an unknown ``BaseException``
  included, is logged as a failed refresh. Only a real cancellation of the
  refresh (the group shutting down), ``KeyboardInterrupt`` and
  ``SystemExit`` propagate.

Single-flight is per event loop: a load remembers the loop that started it
(:func:`anyio.lowlevel.current_token`) and a caller from another loop or
thread never waits on a foreign loop's event; it runs the loader on its own
and returns the result without storing it (the other loop's load stores its
own).
"""

from __future__ import annotations

import logging
import math
from contextvars import ContextVar
from time import perf_counter
from typing import TYPE_CHECKING, Any, Generic, Union

import anyio
from anyio.lowlevel import current_token

from ._arguments import (
    DEFAULT_TTL,
    check_refresh_ahead,
    check_refresh_window,
    check_timeout,
    check_ttl,
    safe_repr,
)
from ._expiry import V

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable, Iterable
    from types import TracebackType

    from anyio.abc import TaskGroup
    from anyio.lowlevel import EventLoopToken

    from ._arguments import TTLArg
    from ._cache import Cache
    from ._expiry import K

logger = logging.getLogger("sweepcache")

#: Tags of a load: fixed, or computed from the loaded value.
LoadTags = Union["Iterable[Hashable]", "Callable[[Any], Iterable[Hashable]]", None]

#: The loads the current task (and the tasks it started) is leading.
_LEADING: ContextVar[tuple[Load[Any], ...]] = ContextVar("sweepcache_leading", default=())


class Load(Generic[V]):
    """One in-flight load of one key, shared by its leader and its waiters.

    Fields are written by the leader (under the cache's registry lock for
    ``stale``/``committing``) before ``event`` is set, and only
    read by waiters after it is set, so waiters need no lock.
    """

    __slots__ = (
        "abandoned",
        "committing",
        "error",
        "event",
        "pending_start",
        "stale",
        "tags",
        "token",
        "traceback",
        "value",
    )

    def __init__(
        self,
        token: EventLoopToken,
        tags: LoadTags = None,
        *,
        pending_start: bool = False,
    ) -> None:
        self.token = token
        self.event = anyio.Event()
        #: Set when the leader left without an outcome; waiters take over.
        self.abandoned = False
        #: Set by invalidation: the result must not be written to the cache.
        self.stale = False
        #: True only while the leader's own ``set_nowait`` runs (under the
        #: registry lock), so that its invalidation hook skips this load.
        self.committing = False
        #: A background refresh not running yet: nobody waits on it, and a
        #: miss replaces it (its task may never start if its group is cancelled).
        self.pending_start = pending_start
        #: The result's tags: a frozenset, a callable of the value, or None.
        self.tags = tags
        self.error: Exception | None = None
        self.traceback: TracebackType | None = None
        self.value: V | None = None

    def carries_any(self, tags: frozenset[Hashable]) -> bool | None:
        """Whether the result will carry one of ``tags``; ``None`` if it is not known yet."""
        own = self.tags
        if own is None:
            return False
        if callable(own):
            return None
        return not tags.isdisjoint(own)


class DoNotStore(Generic[V]):
    """A loader's result to hand to the callers but not to store (``@cached(condition=)``)."""

    __slots__ = ("value",)

    def __init__(self, value: V) -> None:
        self.value = value


def _check_arguments(
    cache: Cache[Any, Any], ttl: TTLArg, load_timeout: object, refresh_ahead: object
) -> float | None:
    seconds = cache.default_ttl if ttl is DEFAULT_TTL else check_ttl(ttl)
    timeout = check_timeout(load_timeout)
    check_refresh_window(check_refresh_ahead(refresh_ahead), seconds)
    return timeout


def _fixed_tags(tags: LoadTags) -> LoadTags:
    """Freeze fixed tags now (so errors surface before the load); keep a callable."""
    if tags is None or callable(tags):
        return tags
    from ._cache import entry_tags

    return entry_tags(tags)


async def _call(loader: Callable[[], Awaitable[V]], load_timeout: float | None) -> V:
    if load_timeout is None:
        return await loader()
    with anyio.fail_after(load_timeout):
        return await loader()


async def load(
    cache: Cache[K, V],
    key: K,
    loader: Callable[[], Awaitable[V]],
    ttl: TTLArg,
    load_timeout: float | None,
    refresh_ahead: float | None = None,
    tags: LoadTags = None,
) -> V:
    """The miss path of ``get_or_load``: join the key's load or lead a new one.

    ``refresh_ahead`` is only validated here, so that a bad value fails on
    the first call rather than on the first hit in the window.
    """
    timeout = _check_arguments(cache, ttl, load_timeout, refresh_ahead)
    tags = _fixed_tags(tags)
    token = current_token()
    loads = cache._loads
    registry_lock = cache._loads_lock
    while True:
        # Re-checked on every round: an abandoned load's waiters come back
        # here, and a load may have finished between the caller's miss and now.
        entry = cache._lookup(key)
        if entry is not None and cache._clock() < entry[1]:
            return entry[0]  # type: ignore[no-any-return]
        with registry_lock:
            current = loads.get(key)
            if current is None or current.pending_start:
                current = loads[key] = Load(token, tags)
                leading = True
            else:
                leading = False
        if leading:
            return await lead(cache, key, current, loader, ttl, timeout)
        if current.token != token:
            # Another loop's event cannot be awaited here: load on our own,
            # and leave storing to that loop's leader.
            return await _call(loader, timeout)
        if current in _LEADING.get():
            raise RuntimeError(
                f"the loader of key {safe_repr(key)} waits for its own key, "
                f"which would never finish: load it another way (or use another key)"
            )
        await current.event.wait()
        if current.abandoned:
            continue
        if current.error is not None:
            # Every waiter raises the one exception object; restore the
            # leader's traceback so it does not grow with each re-raise
            # (asyncio.Future.result does the same).
            raise current.error.with_traceback(current.traceback)
        return current.value  # type: ignore[return-value]  # set before the event


async def lead(
    cache: Cache[K, V],
    key: K,
    load: Load[V],
    loader: Callable[[], Awaitable[V]],
    ttl: TTLArg,
    load_timeout: float | None,
) -> V:
    """Run ``loader`` for the registered ``load`` and publish its outcome."""
    started = perf_counter()
    leading = _LEADING.set((*_LEADING.get(), load))
    try:
        value = await _call(loader, load_timeout)
    except Exception as exc:
        cache._record_load(False, perf_counter() - started)
        with cache._loads_lock:
            _unregister(cache, key, load)
        load.error = exc
        load.traceback = exc.__traceback__
        load.event.set()
        raise
    except BaseException:
        # Cancelled (or KeyboardInterrupt...): not a result. Wake the waiters
        # so that one of them takes over instead of inheriting our cancellation.
        cache._record_load(False, perf_counter() - started)
        with cache._loads_lock:
            _unregister(cache, key, load)
        load.abandoned = True
        load.event.set()
        raise
    finally:
        _LEADING.reset(leading)
    cache._record_load(True, perf_counter() - started)
    store = True
    if value.__class__ is DoNotStore:
        value = value.value  # type: ignore[attr-defined]
        store = False
    try:
        tags = load.tags
        if store and callable(tags):
            tags = _result_tags(tags, value, key)
        with cache._loads_lock:
            try:
                if store and not load.stale:
                    # Written under the registry lock with the load still
                    # registered, so an invalidation from another thread
                    # either marked it stale before this point or waits for
                    # the lock and then deletes what we wrote. ``committing``
                    # lets this write's own invalidation hook pass over it.
                    load.committing = True
                    cache.set_nowait(key, value, ttl, tags=tags)  # type: ignore[arg-type]
            finally:
                load.committing = False
                _unregister(cache, key, load)
    except BaseException:
        load.abandoned = True  # storing failed (MemoryError...): waiters retry
        raise
    else:
        load.value = value
    finally:
        load.event.set()  # waiters must never hang, whatever happened above
    return value


def _result_tags(
    tags: Callable[[Any], Iterable[Hashable]], value: object, key: object
) -> tuple[Hashable, ...]:
    from ._cache import entry_tags

    try:
        return entry_tags(tags(value))
    except Exception as exc:
        raise TypeError(f"the tags function of key {safe_repr(key)} failed: {exc!r}") from exc


def _unregister(cache: Cache[K, V], key: K, load: Load[V]) -> None:
    """Remove ``load`` from the registry unless it was detached or replaced."""
    loads = cache._loads
    if loads.get(key) is load:
        del loads[key]


def _usable_task_group(cache: Cache[Any, Any], token: EventLoopToken) -> TaskGroup | None:
    """The cache's running task group, if it belongs to the current loop."""
    task_group = cache._task_group
    if task_group is None or cache._task_group_token != token:
        return None
    return task_group


async def refresh(
    cache: Cache[K, V],
    key: K,
    loader: Callable[[], Awaitable[V]],
    entry: tuple[Any, ...],
    now: float,
    ttl: TTLArg,
    load_timeout: float | None,
    refresh_ahead: object,
    tags: LoadTags = None,
) -> V:
    """A hit with ``refresh_ahead`` given: within that window of expiry, start one refresh.

    With the cache's task group running in this loop the refresh runs there
    and the caller gets the current value at once; otherwise the caller runs
    the load itself and gets the new value. A failed refresh is logged and
    leaves the current value in place (and returned): it was still valid.
    """
    current_value: V = entry[0]
    window = check_refresh_ahead(refresh_ahead)
    if window is None or entry[1] - now > window:
        return current_value
    loads = cache._loads
    if key in loads:  # a load or refresh is already in flight
        return current_value
    timeout = _check_arguments(cache, ttl, load_timeout, window)
    tags = _fixed_tags(tags)
    token = current_token()
    task_group = _usable_task_group(cache, token)
    with cache._loads_lock:
        if key in loads:
            return current_value
        load = loads[key] = Load[V](token, tags, pending_start=task_group is not None)
    if task_group is not None:
        try:
            task_group.start_soon(
                _refresh_in_background,
                cache,
                key,
                load,
                loader,
                ttl,
                timeout,
                name=f"sweepcache refresh of {safe_repr(key)}",
            )
        except BaseException as exc:
            with cache._loads_lock:
                if isinstance(exc, RuntimeError):  # the group is closing: refresh here
                    load.pending_start = False
                else:
                    _unregister(cache, key, load)
                    raise
        else:
            return current_value
    try:
        return await lead(cache, key, load, loader, ttl, timeout)
    except BaseException as exc:
        if not _failed_refresh(exc):
            raise
        logger.exception(
            "sweepcache: refresh of key %s failed; keeping the current value", safe_repr(key)
        )
        return current_value


def _failed_refresh(exc: BaseException) -> bool:
    """Whether ``exc``, raised by a refresh, is the loader's failure (not ours to raise).

    A cancellation counts as the loader's unless the refreshing task really
    is being cancelled (an enclosing cancel scope was cancelled: the cache's
    task group shutting down, or the caller's own scope).
    """
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return False
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return anyio.current_effective_deadline() != -math.inf
    return True


async def _refresh_in_background(
    cache: Cache[K, V],
    key: K,
    load: Load[V],
    loader: Callable[[], Awaitable[V]],
    ttl: TTLArg,
    load_timeout: float | None,
) -> None:
    with cache._loads_lock:
        if cache._loads.get(key) is not load:
            return  # invalidated or taken over by a miss before we started
        load.pending_start = False
    try:
        await lead(cache, key, load, loader, ttl, load_timeout)
    except BaseException as exc:
        # Never let a failed refresh crash the cache's task group (and so the
        # sweeper, and the user's ``async with cache:`` body): log it; the
        # current value stays until it expires.
        if not _failed_refresh(exc):
            raise
        logger.exception("sweepcache: background refresh of key %s failed", safe_repr(key))
