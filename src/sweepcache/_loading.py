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
* The key is invalidated (``set``/``delete``/``expire``/``clear``) while the
  load is in flight: the load is *detached*: its result still reaches the
  callers already waiting on it but is not written to the cache, and new
  callers start a fresh load (a generation check, as in dogpile's
  ``get_or_create`` with an invalidation time).

Single-flight is per event loop: a load remembers the loop that started it
(:func:`anyio.lowlevel.current_token`) and a caller from another loop or
thread never waits on a foreign loop's event; it runs the loader on its own
and returns the result without storing it (the other loop's load stores its
own).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Generic

import anyio
from anyio.lowlevel import current_token

# A module, not names: _cache imports this module while it is being built.
from . import _cache
from ._expiry import V

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

    from anyio.abc import TaskGroup
    from anyio.lowlevel import EventLoopToken

    from ._cache import Cache, TTLArg
    from ._expiry import K

logger = logging.getLogger("sweepcache")


class Load(Generic[V]):
    """One in-flight load of one key, shared by its leader and its waiters.

    Fields are written by the leader (under the cache's registry lock for
    ``stale``/``committing``) before ``event`` is set, and only read by
    waiters after it is set, so waiters need no lock.
    """

    __slots__ = (
        "abandoned",
        "committing",
        "error",
        "event",
        "pending_start",
        "stale",
        "token",
        "traceback",
        "value",
    )

    def __init__(self, token: EventLoopToken, *, pending_start: bool = False) -> None:
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
        self.error: Exception | None = None
        self.traceback: TracebackType | None = None
        self.value: V | None = None


def check_timeout(timeout: object) -> None:
    """Raise unless ``timeout`` is ``None`` or a number of seconds > 0."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        kind = type(timeout).__name__
        raise TypeError(f"timeout must be a number of seconds or None, got {kind} {timeout!r}")
    if not timeout > 0.0:  # zero, negative or NaN
        raise ValueError(f"timeout must be > 0 or None, got {timeout!r}")


def check_refresh_ahead(refresh_ahead: object) -> None:
    """Raise unless ``refresh_ahead`` is ``None`` or a number of seconds >= 0."""
    if refresh_ahead is None:
        return
    if isinstance(refresh_ahead, bool) or not isinstance(refresh_ahead, (int, float)):
        raise TypeError(
            f"refresh_ahead must be a number of seconds or None, got "
            f"{type(refresh_ahead).__name__} {refresh_ahead!r}"
        )
    if not 0.0 <= refresh_ahead < math.inf:
        raise ValueError(f"refresh_ahead must be >= 0 and finite or None, got {refresh_ahead!r}")


def _check_arguments(ttl: TTLArg, load_timeout: float | None) -> None:
    if ttl is not _cache.DEFAULT_TTL:
        _cache.check_ttl(ttl)
    check_timeout(load_timeout)


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
) -> V:
    """The miss path of ``get_or_load``: join the key's load or lead a new one.

    ``refresh_ahead`` is only validated here, so that a bad value fails on
    the first call rather than on the first hit in the window.
    """
    _check_arguments(ttl, load_timeout)
    check_refresh_ahead(refresh_ahead)
    token = current_token()
    loads = cache._loads
    registry_lock = cache._loads_lock
    data = cache._data
    while True:
        # Re-checked on every round: an abandoned load's waiters come back
        # here, and a load may have finished between the caller's miss and now.
        entry = data.get(key)
        if entry is not None and cache._clock() < entry[1]:
            return entry[0]
        with registry_lock:
            current = loads.get(key)
            if current is None or current.pending_start:
                current = loads[key] = Load(token)
                leading = True
            else:
                leading = False
        if leading:
            return await lead(cache, key, current, loader, ttl, load_timeout)
        if current.token != token:
            # Another loop's event cannot be awaited here: load on our own,
            # and leave storing to that loop's leader.
            return await _call(loader, load_timeout)
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
    try:
        value = await _call(loader, load_timeout)
    except Exception as exc:
        with cache._loads_lock:
            _unregister(cache, key, load)
        load.error = exc
        load.traceback = exc.__traceback__
        load.event.set()
        raise
    except BaseException:
        # Cancelled (or KeyboardInterrupt...): not a result. Wake the waiters
        # so that one of them takes over instead of inheriting our cancellation.
        with cache._loads_lock:
            _unregister(cache, key, load)
        load.abandoned = True
        load.event.set()
        raise
    try:
        with cache._loads_lock:
            try:
                if not load.stale:
                    # Written under the registry lock with the load still
                    # registered, so an invalidation from another thread
                    # either marked it stale before this point or waits for
                    # the lock and then deletes what we wrote. ``committing``
                    # lets this write's own invalidation hook pass over it.
                    load.committing = True
                    cache.set_nowait(key, value, ttl)
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
    current_value: V,
    ttl: TTLArg,
    load_timeout: float | None,
    refresh_ahead: float,
) -> V:
    """A hit within ``refresh_ahead`` of expiry: start one refresh of ``key``.

    With the cache's task group running in this loop the refresh runs there
    and the caller gets ``current_value`` at once; otherwise the caller runs
    the load itself and gets the new value. A failed refresh is logged and
    leaves ``current_value`` in place (and returned): it was still valid.
    """
    check_refresh_ahead(refresh_ahead)
    loads = cache._loads
    if key in loads:  # a load or refresh is already in flight
        return current_value
    _check_arguments(ttl, load_timeout)
    token = current_token()
    task_group = _usable_task_group(cache, token)
    with cache._loads_lock:
        if key in loads:
            return current_value
        load = loads[key] = Load[V](token, pending_start=task_group is not None)
    if task_group is not None:
        try:
            task_group.start_soon(
                _refresh_in_background,
                cache,
                key,
                load,
                loader,
                ttl,
                load_timeout,
                name=f"sweepcache refresh of {key!r}",
            )
        except RuntimeError:  # the group is shutting down: refresh here instead
            with cache._loads_lock:
                load.pending_start = False
        else:
            return current_value
    try:
        return await lead(cache, key, load, loader, ttl, load_timeout)
    except Exception:
        logger.exception("sweepcache: refresh of key %r failed; keeping the current value", key)
        return current_value


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
    except Exception:
        # Never let a failed refresh crash the cache's task group (and so the
        # sweeper): log it; the current value stays until it expires.
        logger.exception("sweepcache: background refresh of key %r failed", key)
