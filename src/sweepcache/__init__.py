"""sweepcache: an in-process async TTL cache for asyncio and trio.

Lock-free reads, striped locks for writes, lazy expiry plus a background
expiry sweeper that works in bounded slices.

Example::

    from sweepcache import Cache

    async with Cache[str, dict](default_ttl=300) as cache:
        await cache.set("user:1", {"name": "Ada"})
        user = await cache.get("user:1")
"""

from ._arguments import DEFAULT_TTL as DEFAULT_TTL
from ._arguments import TTLArg as TTLArg
from ._cache import Cache as Cache
from ._decorators import AsyncCacheLike as AsyncCacheLike
from ._decorators import CachedFunction as CachedFunction
from ._decorators import CachedMethod as CachedMethod
from ._decorators import CacheInfo as CacheInfo
from ._decorators import Invalidation as Invalidation
from ._decorators import cached as cached
from ._decorators import default_key_builder as default_key_builder
from ._decorators import namespace_of as namespace_of
from ._removal import RemovalCause as RemovalCause
from ._stats import CacheStats as CacheStats

__all__ = (
    "DEFAULT_TTL",
    "AsyncCacheLike",
    "Cache",
    "CacheInfo",
    "CacheStats",
    "CachedFunction",
    "CachedMethod",
    "Invalidation",
    "RemovalCause",
    "TTLArg",
    "cached",
    "default_key_builder",
    "namespace_of",
)
__version__ = "0.1.0"

# Reprs, tracebacks and the API docs name the public module, not the private
# one that defines each name (as trio and httpx do). TTLArg is a type alias and
# DEFAULT_TTL an enum member: they have no module of their own to rewrite.
for _exported in (
    AsyncCacheLike,
    Cache,
    CacheInfo,
    CacheStats,
    CachedFunction,
    CachedMethod,
    Invalidation,
    RemovalCause,
    cached,
    default_key_builder,
    namespace_of,
):
    _exported.__module__ = __name__
del _exported
