"""Fleet-wide single-flight for :meth:`RedisCache.get_or_load`: local flights and Redis leases.

Within a process, concurrent callers of one key share one *flight* (the
first runs the load, the others wait; a cancelled leader hands over). Across
processes, the flight's leader takes a *lease* in Redis (``SET NX PX`` with a
random token) before calling the loader, renews it while the loader runs
(in the cache's background task group), and stores the result with a script
that first checks the token (fencing); writes and deletes of the key delete
its lease, so a load that raced a write does not store. Processes that find
the lease taken wait for its invalidation push (its ``DEL``, renewal or
expiry), not by polling, then read the stored value; when the holder dies
its lease expires and one of them takes over.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any, Final

import anyio

from ._common import L2Error, positive_seconds, px_of, ttl_seconds

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sweepcache._arguments import TTLArg

    from ._rediscache import RedisCache

try:  # the marker @cached(condition=...) wraps results in; optional coupling
    from sweepcache._loading import DoNotStore as _DoNotStore
except ImportError:  # pragma: no cover - an older core without it
    _DoNotStore = None  # type: ignore[assignment,misc]

logger = logging.getLogger("sweepcache.redis")

#: Returned by decode for a payload that is not a readable value.
MISS: Final[Any] = object()

#: How a ``get_or_load`` result came about (TieredCache fills its L1 only
#: from values that are in Redis).
HIT: Final = 0
LOADED: Final = 1
UNSTORED: Final = 2


class Flight:
    """One in-process load of one key, shared by the callers of this process."""

    __slots__ = ("abandoned", "error", "event", "result")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.abandoned = False
        self.error: BaseException | None = None
        self.result: tuple[Any, float | None, int] | None = None


async def load_with_ttl(
    cache: RedisCache[Any, Any],
    key: object,
    redis_key: bytes,
    loader: Callable[[], Awaitable[Any]],
    ttl: TTLArg,
    timeout: float | None,  # noqa: ASYNC109 - bounds a load shared by many callers
    refresh_ahead: float | None,
    tags: Any,
) -> tuple[Any, float | None, int]:
    """``get_or_load`` returning ``(value, seconds left, HIT/LOADED/UNSTORED)``."""
    seconds = cache._seconds(ttl)
    limit = positive_seconds(timeout, "timeout", nullable=True)
    if refresh_ahead is not None:
        window = ttl_seconds(refresh_ahead, "refresh_ahead")
        if window is None:
            raise ValueError("refresh_ahead must be finite or None, got inf")
        if seconds is not None and window >= seconds:
            raise ValueError(
                f"refresh_ahead must be shorter than the ttl ({seconds!r} s), got "
                f"{refresh_ahead!r}: every hit would reload"
            )
    if tags is not None and not callable(tags):
        tags = cache._tag_keys(tags)
    if not callable(loader):
        raise TypeError(f"loader must be an async callable, got {loader!r}")
    if limit is None:
        return await _single_flight(cache, key, redis_key, loader, seconds, refresh_ahead, tags)
    with anyio.fail_after(limit):
        return await _single_flight(cache, key, redis_key, loader, seconds, refresh_ahead, tags)


async def _single_flight(
    cache: RedisCache[Any, Any],
    key: object,
    redis_key: bytes,
    loader: Callable[[], Awaitable[Any]],
    seconds: float | None,
    refresh_ahead: float | None,
    tags: Any,
) -> tuple[Any, float | None, int]:
    flights = cache._flights
    while True:
        flight = flights.get(redis_key)
        if flight is None:
            flight = flights[redis_key] = Flight()
            try:
                result = await _fleet_load(
                    cache, key, redis_key, loader, seconds, refresh_ahead, tags
                )
            except Exception as exc:
                flight.error = exc
                raise
            except BaseException:
                flight.abandoned = True  # cancelled: a waiter takes over
                raise
            else:
                flight.result = result
                return result
            finally:
                if flights.get(redis_key) is flight:
                    del flights[redis_key]
                flight.event.set()
        await flight.event.wait()
        if flight.abandoned:
            continue
        if flight.error is not None:
            raise flight.error
        assert flight.result is not None
        return flight.result


async def _fleet_load(
    cache: RedisCache[Any, Any],
    key: object,
    redis_key: bytes,
    loader: Callable[[], Awaitable[Any]],
    seconds: float | None,
    refresh_ahead: float | None,
    tags: Any,
) -> tuple[Any, float | None, int]:
    lease_key = cache._lease_key(redis_key)
    token = secrets.token_hex(16)
    counters = cache._counters
    try:
        while True:
            event = anyio.Event()
            waiters = cache._waiters.setdefault(lease_key, set())
            waiters.add(event)
            try:
                value, remaining = await cache._get_with_pttl(redis_key)
                refreshing = (
                    value is not MISS
                    and refresh_ahead is not None
                    and remaining is not None
                    and remaining <= refresh_ahead
                )
                if value is not MISS and not refreshing:
                    return value, remaining, HIT
                acquired, holder_pttl = await cache._call(
                    cache._script("acquire", [lease_key], [token, cache._lease_ms])
                )
                if acquired:
                    # The previous holder may have stored the value and
                    # released its lease between our read and our
                    # acquire: read again before loading.
                    value, remaining = await cache._get_with_pttl(redis_key)
                    if value is not MISS and not refreshing:
                        await release(cache, lease_key, token)
                        return value, remaining, HIT
                    break
                if refreshing:
                    return value, remaining, HIT  # another process refreshes it
                counters.lease_waits += 1  # type: ignore[attr-defined]
                if holder_pttl == -2:
                    continue  # released between the two commands
                wait = (holder_pttl if holder_pttl >= 0 else cache._lease_ms) / 1000.0 + 0.01
                if cache._listener is None or not cache._listener.up:
                    wait = min(wait, 0.05)  # no notifications to wait for: poll
                with anyio.move_on_after(wait):
                    await event.wait()
            finally:
                waiters.discard(event)
                if not waiters and cache._waiters.get(lease_key) is waiters:
                    del cache._waiters[lease_key]
    except L2Error:
        if cache._on_l2_error == "raise":
            raise
        counters.loads += 1  # type: ignore[attr-defined]
        return unwrap(await loader()), None, UNSTORED
    return await _lead(cache, key, redis_key, lease_key, token, loader, seconds, tags)


async def _lead(
    cache: RedisCache[Any, Any],
    key: object,
    redis_key: bytes,
    lease_key: bytes,
    token: str,
    loader: Callable[[], Awaitable[Any]],
    seconds: float | None,
    tags: Any,
) -> tuple[Any, float | None, int]:
    stop = anyio.Event()
    task_group = cache._task_group
    if task_group is not None:
        try:
            task_group.start_soon(_renew, cache, lease_key, token, stop)
        except RuntimeError:  # the group is closing
            pass
    try:
        try:
            result = await loader()
        finally:
            stop.set()
        cache._counters.loads += 1  # type: ignore[attr-defined]
        if _DoNotStore is not None and result.__class__ is _DoNotStore:
            await release(cache, lease_key, token)
            return result.value, None, UNSTORED
        payload = cache._dumps(key, result)
        if callable(tags):
            tags = cache._tag_keys(tags(result))
    except BaseException:
        with anyio.CancelScope(shield=True):
            await release(cache, lease_key, token)
        raise
    px = 0 if seconds is None else px_of(seconds)
    try:
        stored = await _store_fenced(cache, lease_key, redis_key, token, payload, px)
        if stored and tags:

            def queue(pipe: Any) -> list[Any]:
                cache._queue_tags(pipe, tags, redis_key, px or -1)
                return []

            await cache._pipeline(queue)
    except L2Error:
        logger.warning("sweepcache.redis: could not store the loaded value of %r", key)
        with anyio.CancelScope(shield=True):
            await release(cache, lease_key, token)
        return result, None, UNSTORED
    return result, seconds, LOADED if stored else UNSTORED


async def _store_fenced(
    cache: RedisCache[Any, Any],
    lease_key: bytes,
    redis_key: bytes,
    token: str,
    payload: bytes,
    px: int,
) -> bool:
    if not cache._cluster:
        stored = await cache._call(
            cache._script("store_fenced", [lease_key, redis_key], [token, payload, px])
        )
        return bool(stored)
    # A lease and its key live in different slots of a cluster: the check
    # and the write are two steps (see the docs' cluster notes).
    holder = await cache._call(cache._client.get(lease_key))
    if holder != token.encode():
        return False
    await cache._call(cache._client.set(redis_key, payload, px=px or None))
    await release(cache, lease_key, token)
    return True


async def release(cache: RedisCache[Any, Any], lease_key: bytes, token: str) -> None:
    try:
        with anyio.move_on_after(cache._op_timeout):
            await cache._script("release", [lease_key], [token])
    except Exception as exc:  # the lease expires by itself
        cache._counters.error(exc)


async def _renew(
    cache: RedisCache[Any, Any], lease_key: bytes, token: str, stop: anyio.Event
) -> None:
    interval = cache._lease_ms / 3000.0
    while True:
        with anyio.move_on_after(interval):
            await stop.wait()
        if stop.is_set():
            return
        try:
            renewed = await cache._call(
                cache._script("renew", [lease_key], [token, cache._lease_ms])
            )
        except L2Error:
            continue
        if not renewed:
            return  # lost (expired, or the key was written): the store will be refused


def unwrap(result: Any) -> Any:
    """The value inside a ``DoNotStore`` marker, or ``result`` itself."""
    if _DoNotStore is not None and result.__class__ is _DoNotStore:
        return result.value
    return result
