"""The contenders, each behind a small adapter with one shape.

Peers ship no type information, so their decorators are untyped here.

Key-value contenders expose ``get(key)``, ``set(key, value)`` and
``delete(key)`` (awaitables for the async family, plain calls for the sync
family), all with a 60 s TTL. Where a peer's method already has that shape,
the bound method is used as is; otherwise the adapter adds one small Python
call, which the tables call out (``adapter`` column).

Loader contenders turn a ``load(key)`` coroutine function into a
``request(key)`` coroutine function that answers from the cache, loading on
a miss the way that contender would (the seed's get-miss-load-set pattern, a
lock held across the load, or a peer's single-flight decorator).

Peers are imported lazily; a missing one is reported as "n/a (not installed)".
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from time import monotonic
from typing import Any, Literal, cast

import sweepcache
from sweepcache.compat import AsyncInMemoryCache

from ._harness import na, optional_import

TTL = 60.0
Role = Literal["floor", "seed", "sweepcache", "peer"]
Kind = Literal["async", "sync"]
Load = Callable[[str], Awaitable[Any]]
Request = Callable[[str], Awaitable[Any]]

NOT_INSTALLED = "not installed"
ASYNCIO_ONLY = "asyncio only"


# -- the floor and the seed ---------------------------------------------------


class AsyncFloor:
    """The bare floor: a coroutine doing ``dict.get`` + a clock read (no lock, no index)."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[Any, tuple[Any, float]] = {}

    async def get(self, key: Any) -> Any:
        entry = self._data.get(key)
        if entry is not None and monotonic() < entry[1]:
            return entry[0]
        return None

    async def set(self, key: Any, value: Any) -> None:
        self._data[key] = (value, monotonic() + TTL)

    async def delete(self, key: Any) -> None:
        self._data.pop(key, None)


class SyncFloor:
    """The sync twin of :class:`AsyncFloor`."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[Any, tuple[Any, float]] = {}

    def get(self, key: Any) -> Any:
        entry = self._data.get(key)
        if entry is not None and monotonic() < entry[1]:
            return entry[0]
        return None

    def set(self, key: Any, value: Any) -> None:
        self._data[key] = (value, monotonic() + TTL)

    def delete(self, key: Any) -> None:
        self._data.pop(key, None)


class SeedCache:
    """The seed's ``AsyncInMemoryCache``, reproduced from ``shared/seed/`` line for line.

    One dict of ``(value, expires)``, one ``asyncio.Lock`` around every op,
    lazy expiry on ``get``, the event loop's clock, no ``delete`` (the seed
    invalidates with ``set(key, None, ttl=0.0)``).
    """

    def __init__(self) -> None:
        self._cache: dict[Any, tuple[Any, float]] = {}
        self._lock: asyncio.Lock = asyncio.Lock()

    async def get(self, key: Any) -> Any:
        async with self._lock:
            value, expires = self._cache.get(key, (None, 0.0))
            if expires and expires < asyncio.get_event_loop().time():
                self._cache.pop(key, None)
                return None
            return value

    async def set(self, key: Any, value: Any, ttl: float = 60.0) -> None:
        async with self._lock:
            expires = asyncio.get_event_loop().time() + ttl
            self._cache[key] = (value, expires)

    async def clear(self) -> None:
        async with self._lock:
            self._cache.clear()

    async def delete(self, key: Any) -> None:
        """The seed's invalidation idiom (it has no ``delete``)."""
        await self.set(key, None, ttl=0.0)


class GlobalLockCache(SeedCache):
    """The seed plus the naive stampede fix: one lock held across get-miss-load-set."""

    async def get_or_load(self, key: Any, load: Callable[[], Awaitable[Any]]) -> Any:
        async with self._lock:
            value, expires = self._cache.get(key, (None, 0.0))
            if value is not None and expires >= asyncio.get_event_loop().time():
                return value
            value = await load()
            self._cache[key] = (value, asyncio.get_event_loop().time() + TTL)
            return value


# -- key-value contenders -------------------------------------------------------


@dataclasses.dataclass
class Ops:
    """One live cache instance, seen through the common shape."""

    get: Callable[[Any], Any]
    set: Callable[[Any, Any], Any]
    delete: Callable[[Any], Any]
    #: The object itself (for memory probes and ``len``).
    raw: Any
    aclose: Callable[[], Awaitable[None]] | None = None


class _Availability:
    """Says where a contender cannot run; its dataclass provides the fields."""

    build: object
    missing: str | None
    asyncio_only: bool

    def unsupported(self, backend: str) -> str | None:
        """An "n/a (...)" text when this contender cannot run on ``backend``, else ``None``."""
        if self.build is None:
            return na(self.missing or NOT_INSTALLED)
        if self.asyncio_only and backend == "trio":
            return na(ASYNCIO_ONLY)
        return None


@dataclasses.dataclass(frozen=True)
class Contender(_Availability):
    """A cache under test: how to build it, and where it does not apply."""

    name: str
    role: Role
    kind: Kind
    #: Builds a fresh instance for a capacity (``None`` when unavailable).
    build: Callable[[int], Ops] | None
    #: Why it is unavailable, when ``build`` is ``None``.
    missing: str | None = None
    asyncio_only: bool = False
    #: Keeps its entries outside Python's allocator (measure memory by RSS).
    native: bool = False
    #: The adapter adds one Python call around the peer's own method.
    adapter: bool = False


def _async_wrap(
    get: Callable[[Any], Any], set_: Callable[[Any, Any], Any], delete: Callable[[Any], Any]
) -> tuple[Any, Any, Any]:
    """Coroutine wrappers around a sync cache ("cachetools TTLCache inside a coroutine")."""

    async def aget(key: Any) -> Any:
        return get(key)

    async def aset(key: Any, value: Any) -> None:
        set_(key, value)

    async def adelete(key: Any) -> None:
        delete(key)

    return aget, aset, adelete


def _sweepcache_async(capacity: int) -> Ops:
    cache: sweepcache.Cache[Any, Any] = sweepcache.Cache(default_ttl=TTL)
    return Ops(cache.get, cache.set, cache.delete, cache)


def _sweepcache_sync(capacity: int) -> Ops:
    cache: sweepcache.Cache[Any, Any] = sweepcache.Cache(default_ttl=TTL)
    return Ops(cache.get_nowait, cache.set_nowait, cache.delete_nowait, cache)


def _compat(capacity: int) -> Ops:
    cache: AsyncInMemoryCache[Any, Any] = AsyncInMemoryCache()
    return Ops(cache.get, cache.set, cache.delete, cache)


def _seed(capacity: int) -> Ops:
    cache = SeedCache()
    return Ops(cache.get, cache.set, cache.delete, cache)


def _aiocache(capacity: int) -> Ops:
    aiocache = optional_import("aiocache")
    cache = aiocache.SimpleMemoryCache()

    def set_(key: Any, value: Any) -> Awaitable[Any]:
        return cache.set(key, value, ttl=TTL)  # type: ignore[no-any-return]

    return Ops(cache.get, set_, cache.delete, cache, cache.close)


def _cashews(capacity: int) -> Ops:
    cashews = optional_import("cashews")
    cache = cashews.Cache()
    # The default mem:// holds 1,000 keys; size it like every other contender.
    cache.setup("mem://", size=max(capacity, 1000))

    def set_(key: Any, value: Any) -> Awaitable[Any]:
        return cache.set(key, value, expire=TTL)  # type: ignore[no-any-return]

    return Ops(cache.get, set_, cache.delete, cache, cache.close)


Parts = tuple[Any, Any, Any, Any]  # get, set, delete, the cache itself


def _sync_and_async(parts: Callable[[int], Parts]) -> tuple[Callable[[int], Ops], ...]:
    """Two builders over one sync peer: called as is, and wrapped in coroutines."""

    def sync(capacity: int) -> Ops:
        get, set_, delete, cache = parts(capacity)
        return Ops(get, set_, delete, cache)

    def in_coroutine(capacity: int) -> Ops:
        get, set_, delete, cache = parts(capacity)
        return Ops(*_async_wrap(get, set_, delete), cache)

    return sync, in_coroutine


def _cachetools_parts(capacity: int) -> Parts:
    cachetools = optional_import("cachetools")
    cache = cachetools.TTLCache(maxsize=sys.maxsize, ttl=TTL, timer=monotonic)
    return cache.get, cache.__setitem__, cache.__delitem__, cache


_THEINE_TTL = timedelta(seconds=TTL)


def _theine_parts(capacity: int) -> Parts:
    theine = optional_import("theine")
    cache = theine.Cache(max(capacity, 1024))

    def set_(key: Any, value: Any) -> None:
        cache.set(key, value, _THEINE_TTL)

    return cache.get, set_, cache.delete, cache


def _cachebox_parts(capacity: int) -> Parts:
    cachebox = optional_import("cachebox")
    cache = cachebox.TTLCache(0, TTL)  # maxsize 0: unbounded; one global TTL
    return cache.get, cache.__setitem__, cache.pop, cache


_cachetools_sync, _cachetools_async = _sync_and_async(_cachetools_parts)
_theine_sync, _theine_async = _sync_and_async(_theine_parts)
_cachebox_sync, _cachebox_async = _sync_and_async(_cachebox_parts)


def _peer(
    module: str,
    name: str,
    kind: Kind,
    build: Callable[[int], Ops],
    *,
    asyncio_only: bool = False,
    native: bool = False,
    adapter: bool = False,
) -> Contender:
    return Contender(
        name,
        "peer",
        kind,
        build if optional_import(module) is not None else None,
        NOT_INSTALLED if optional_import(module) is None else None,
        asyncio_only=asyncio_only,
        native=native,
        adapter=adapter,
    )


def async_contenders() -> list[Contender]:
    """The async family: everything measured with ``await``."""
    return [
        Contender("floor (async)", "floor", "async", lambda _: _ops(AsyncFloor())),
        Contender("seed design", "seed", "async", _seed, asyncio_only=True),
        Contender("sweepcache Cache", "sweepcache", "async", _sweepcache_async),
        Contender("sweepcache compat", "sweepcache", "async", _compat),
        _peer("aiocache", "aiocache", "async", _aiocache, asyncio_only=True, adapter=True),
        _peer("cashews", "cashews mem://", "async", _cashews, asyncio_only=True, adapter=True),
        _peer("cachetools", "cachetools (in coroutine)", "async", _cachetools_async, adapter=True),
        _peer("theine", "theine (in coroutine)", "async", _theine_async, native=True, adapter=True),
        _peer(
            "cachebox",
            "cachebox (in coroutine)",
            "async",
            _cachebox_async,
            native=True,
            adapter=True,
        ),
    ]


def sync_contenders() -> list[Contender]:
    """The sync family: plain calls (the ``*_nowait`` fast path and sync peers)."""
    return [
        Contender("floor (sync)", "floor", "sync", lambda _: _ops(SyncFloor())),
        Contender("sweepcache *_nowait", "sweepcache", "sync", _sweepcache_sync),
        _peer("cachetools", "cachetools TTLCache (sync)", "sync", _cachetools_sync),
        _peer("theine", "theine (sync)", "sync", _theine_sync, native=True, adapter=True),
        _peer("cachebox", "cachebox TTLCache (sync)", "sync", _cachebox_sync, native=True),
    ]


def _before(kind: Kind) -> Callable[[int], Ops] | str:
    from . import _before

    module = _before.load()
    if isinstance(module, str):
        return module

    def build(capacity: int) -> Ops:
        cache = module.Cache(default_ttl=TTL)
        if kind == "async":
            return Ops(cache.get, cache.set, cache.delete, cache)
        return Ops(cache.get_nowait, cache.set_nowait, cache.delete_nowait, cache)

    return build


def _variant(kind: Kind, bounded: float | None = None, **options: Any) -> Callable[[int], Ops]:
    """sweepcache with ``options``; ``bounded``: maxsize as a share of the capacity."""

    def build(capacity: int) -> Ops:
        if bounded is not None:
            options["maxsize"] = max(1, int(capacity * bounded))
        cache: sweepcache.Cache[Any, Any] = sweepcache.Cache(default_ttl=TTL, **options)
        if kind == "async":
            return Ops(cache.get, cache.set, cache.delete, cache)
        return Ops(cache.get_nowait, cache.set_nowait, cache.delete_nowait, cache)

    return build


def _tagged(capacity: int) -> Ops:
    cache: sweepcache.Cache[Any, Any] = sweepcache.Cache(default_ttl=TTL)
    tags = ("tag",)

    async def set_(key: Any, value: Any) -> None:
        await cache.set(key, value, tags=tags)

    return Ops(cache.get, set_, cache.delete, cache)


def _own_tag(capacity: int) -> Ops:
    cache: sweepcache.Cache[Any, Any] = sweepcache.Cache(default_ttl=TTL)

    async def set_(key: Any, value: Any) -> None:
        await cache.set(key, value, tags=(("tag", key),))

    return Ops(cache.get, set_, cache.delete, cache)


def _ignore(key: Any, value: Any, cause: Any) -> None:
    """A removal listener that does nothing (what the listener machinery itself costs)."""


def feature_contenders() -> list[Contender]:
    """sweepcache with each optional feature on, and before the features existed.

    The hotpath suite measures them beside ``sweepcache Cache``: a feature that
    is off must cost nothing, and one that is on must keep its own target.
    """
    found = []
    for kind, suffix in (("async", ""), ("sync", " *_nowait")):
        before = _before(kind)  # type: ignore[arg-type]
        found.append(
            Contender(
                f"sweepcache 0.1.0 (before){suffix}",
                "sweepcache",
                kind,  # type: ignore[arg-type]
                None if isinstance(before, str) else before,
                before if isinstance(before, str) else None,
            )
        )
        found.append(
            Contender(
                f"sweepcache record_stats=True{suffix}",
                "sweepcache",
                kind,  # type: ignore[arg-type]
                _variant(kind, record_stats=True),  # type: ignore[arg-type]
            )
        )
    found.append(
        Contender(
            "sweepcache on_removal", "sweepcache", "async", _variant("async", on_removal=_ignore)
        )
    )
    found.append(Contender("sweepcache set with a tag", "sweepcache", "async", _tagged))
    found.append(Contender("sweepcache set with a tag of its own", "sweepcache", "async", _own_tag))
    for kind, suffix in (("async", ""), ("sync", " *_nowait")):
        found.append(
            Contender(
                f"sweepcache maxsize{suffix}",
                "sweepcache",
                kind,  # type: ignore[arg-type]
                _variant(kind, bounded=1.0),  # type: ignore[arg-type]
            )
        )
    found.append(
        Contender(
            "sweepcache maxsize, evicting", "sweepcache", "async", _variant("async", bounded=0.1)
        )
    )
    return found


def _ops(cache: AsyncFloor | SyncFloor) -> Ops:
    return Ops(cache.get, cache.set, cache.delete, cache)


# -- loader contenders (stampede) ------------------------------------------------

_MISSING = object()


@dataclasses.dataclass(frozen=True)
class LoaderContender(_Availability):
    """A way to answer 1,000 concurrent requests through a cache and a slow loader."""

    name: str
    role: Role
    #: ``build(load)`` returns ``request(key)`` on a fresh cache.
    build: Callable[[Load], Request] | None
    missing: str | None = None
    asyncio_only: bool = False


def _seed_pattern(load: Load) -> Request:
    cache = SeedCache()

    async def request(key: str) -> Any:
        value = await cache.get(key)
        if value is None:
            value = await load(key)
            await cache.set(key, value)
        return value

    return request


def _global_lock(load: Load) -> Request:
    cache = GlobalLockCache()

    async def request(key: str) -> Any:
        return await cache.get_or_load(key, functools.partial(load, key))

    return request


def _sweepcache_pattern(load: Load) -> Request:
    cache: sweepcache.Cache[str, Any] = sweepcache.Cache(default_ttl=TTL)

    async def request(key: str) -> Any:
        value = await cache.get(key, _MISSING)
        if value is _MISSING:
            value = await load(key)
            await cache.set(key, value)
        return value

    return request


def _sweepcache_get_or_load(load: Load) -> Request:
    cache: Any = sweepcache.Cache(default_ttl=TTL)

    async def request(key: str) -> Any:
        return await cache.get_or_load(key, functools.partial(load, key), ttl=TTL)

    return request


def _sweepcache_cached(load: Load) -> Request:
    cached: Any = getattr(sweepcache, "cached")  # noqa: B009 - not built in every version
    cache: sweepcache.Cache[Any, Any] = sweepcache.Cache(default_ttl=TTL)

    async def fetch(key: str) -> Any:
        return await load(key)

    return cast("Request", cached(cache, ttl=TTL)(fetch))


def _aiocache_stampede(load: Load) -> Request:
    aiocache = optional_import("aiocache")

    async def fetch(key: str) -> Any:
        return await load(key)

    return cast(
        "Request",
        aiocache.cached_stampede(lease=2, ttl=TTL, cache=aiocache.SimpleMemoryCache)(fetch),
    )


def _cashews_lock(load: Load) -> Request:
    cashews = optional_import("cashews")
    cache = cashews.Cache()
    cache.setup("mem://", size=100_000)

    async def fetch(key: str) -> Any:
        return await load(key)

    return cast("Request", cache(ttl=TTL, lock=True)(fetch))


def _theine_memoize(load: Load) -> Request:
    theine = optional_import("theine")

    async def fetch(key: str) -> Any:
        return await load(key)

    memoized = theine.Memoize(100_000, timedelta(seconds=TTL))(fetch)
    memoized.key(lambda key: key)  # theine needs a key function per memoized function
    return cast("Request", memoized)


def _cachebox_cached(load: Load) -> Request:
    cachebox = optional_import("cachebox")

    async def fetch(key: str) -> Any:
        return await load(key)

    return cast("Request", cachebox.cached(cachebox.TTLCache(0, TTL))(fetch))


def _async_lru(load: Load) -> Request:
    async_lru = optional_import("async_lru")

    async def fetch(key: str) -> Any:
        return await load(key)

    return cast("Request", async_lru.alru_cache(maxsize=None, ttl=TTL)(fetch))


def _anyio_lru(load: Load) -> Request:
    anyio_functools = optional_import("anyio.functools")

    async def fetch(key: str) -> Any:
        return await load(key)

    return cast("Request", anyio_functools.lru_cache(maxsize=None, ttl=int(TTL))(fetch))


def _loader_peer(
    module: str, name: str, build: Callable[[Load], Request], *, asyncio_only: bool = False
) -> LoaderContender:
    if optional_import(module) is None:
        return LoaderContender(name, "peer", None, NOT_INSTALLED)
    return LoaderContender(name, "peer", build, asyncio_only=asyncio_only)


def loader_contenders() -> list[LoaderContender]:
    """Every stampede contender, available or not."""
    has_get_or_load = hasattr(sweepcache.Cache, "get_or_load")
    has_cached = hasattr(sweepcache, "cached")
    return [
        LoaderContender("seed get-miss-load-set", "seed", _seed_pattern, asyncio_only=True),
        LoaderContender("global lock across load", "seed", _global_lock, asyncio_only=True),
        LoaderContender("sweepcache get-miss-load-set", "sweepcache", _sweepcache_pattern),
        LoaderContender(
            "sweepcache get_or_load",
            "sweepcache",
            _sweepcache_get_or_load if has_get_or_load else None,
            None if has_get_or_load else "not built yet",
        ),
        LoaderContender(
            "sweepcache @cached",
            "sweepcache",
            _sweepcache_cached if has_cached else None,
            None if has_cached else "not built yet",
        ),
        _loader_peer("aiocache", "aiocache cached_stampede", _aiocache_stampede, asyncio_only=True),
        _loader_peer("cashews", "cashews lock=True", _cashews_lock, asyncio_only=True),
        _loader_peer("theine", "theine Memoize", _theine_memoize, asyncio_only=True),
        _loader_peer("cachebox", "cachebox cached", _cachebox_cached, asyncio_only=True),
        _loader_peer("async_lru", "async-lru alru_cache", _async_lru, asyncio_only=True),
        _loader_peer("anyio.functools", "anyio lru_cache", _anyio_lru),
    ]
