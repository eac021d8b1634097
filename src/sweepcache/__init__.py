"""sweepcache: an in-process async TTL cache for asyncio and trio.

Lock-free reads, striped locks for writes, lazy expiry plus a background
expiry sweeper that works in bounded slices.

Example::

    from sweepcache import Cache

    async with Cache[str, dict](default_ttl=300) as cache:
        await cache.set("user:1", {"name": "Ada"})
        user = await cache.get("user:1")
"""

from ._cache import DEFAULT_TTL as DEFAULT_TTL
from ._cache import Cache as Cache
from ._decorators import cached as cached
from ._removal import RemovalCause as RemovalCause
from ._stats import CacheStats as CacheStats

__all__ = ("DEFAULT_TTL", "Cache", "CacheStats", "RemovalCause", "cached")
__version__ = "0.1.0"

Cache.__module__ = __name__
cached.__module__ = __name__
RemovalCause.__module__ = __name__
