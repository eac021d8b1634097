"""A drop-in replacement for the seed's ``AsyncInMemoryCache``.

Change one import line and existing code keeps working::

    # from src.utils.cache import AsyncInMemoryCache, user_cache
    from sweepcache.compat import AsyncInMemoryCache, user_cache

It keeps the seed's API (``get`` returning ``None`` on a miss,
``set(key, value, ttl=60.0)``, ``clear``, the ``user_cache`` singleton,
``AsyncInMemoryCache[str, dict]()``), runs on :class:`sweepcache.Cache`, and
differs from the seed only where the seed was wrong (see the migration guide):

* ``ttl <= 0`` deletes the key at once instead of leaving an expired
  tombstone; ``set(key, None, ttl=0.0)`` is still the way to invalidate.
* A NaN or non-number ``ttl`` raises instead of silently never expiring.
* ``ttl=None`` (or ``math.inf``) means "never expires" instead of a ``TypeError``.
* An expiry instant that happened to equal ``0.0`` no longer means "never".
* Time comes from :func:`time.monotonic` (what asyncio's loop uses) rather
  than ``asyncio.get_event_loop()``, so the cache works under trio, from
  threads, and across event loops.
* Expired entries are also reclaimed by later writes (no unbounded growth
  from write-once keys), and :meth:`AsyncInMemoryCache.delete` exists.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Final, Generic, final

from ._arguments import check_ttl
from ._cache import Cache
from ._clock import Clock, default_clock
from ._expiry import K, V

__all__ = ("AsyncInMemoryCache", "user_cache")


@final
class AsyncInMemoryCache(Generic[K, V]):
    """An asynchronous in-memory cache with per-key TTL (the seed's API).

    Example::

        cache = AsyncInMemoryCache[str, dict]()
        await cache.set("user:123", {"id": 123}, ttl=300.0)
        assert await cache.get("user:123") == {"id": 123}
    """

    __slots__ = ("cache",)

    def __init__(
        self,
        *,
        clock: Clock = default_clock,
        record_stats: bool = False,
        name: str | None = None,
        maxsize: int | None = None,
    ) -> None:
        """Create an empty cache.

        Args:
            clock: Not in the seed: the clock that decides expiry, for tests
                (:class:`sweepcache.testing.FakeClock`).
            record_stats: Not in the seed: keep hit/miss statistics, read
                with ``compat_cache.cache.stats()`` (replaces the seed's
                hand-rolled hit-rate decorator).
            name: Not in the seed: the name shown in ``repr`` and metrics.
            maxsize: Not in the seed: the most entries kept (see
                :class:`sweepcache.Cache`); ``None`` (the seed's way) is unbounded.
        """
        #: The :class:`sweepcache.Cache` underneath, for code that migrates
        #: piece by piece (``delete_many``, ``ttl``, ``stats``, the sweeper...).
        self.cache: Cache[K, V] = Cache(
            default_ttl=60.0, clock=clock, record_stats=record_stats, name=name, maxsize=maxsize
        )

    async def get(self, key: K) -> V | None:
        """Return the value under ``key``, or ``None`` if it is missing or expired.

        Raises:
            TypeError: ``key`` is not hashable.
        """
        return self.cache.get_nowait(key)

    async def set(self, key: K, value: V, ttl: float | None = 60.0) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (default 60).

        ``ttl <= 0`` removes the key (the seed's invalidation idiom);
        ``None`` never expires.

        Raises:
            TypeError: ``key`` is not hashable or ``ttl`` is not a number.
            ValueError: ``ttl`` is NaN.
        """
        raw: object = ttl  # callers of untyped code pass anything
        if raw.__class__ is float and 0.0 < ttl < math.inf:  # type: ignore[operator]
            self.cache.set_nowait(key, value, ttl)  # the common case, checked cheaply
            return
        if raw is not True and raw is not False and isinstance(raw, Real):
            seconds = float(raw)
            if math.isnan(seconds):
                raise ValueError(f"ttl must be a number of seconds or None, got {ttl!r}")
            if seconds <= 0:  # the seed's "immediate expiration", minus the tombstone
                self.cache.delete_nowait(key)
                return
        self.cache.set_nowait(key, value, check_ttl(ttl))

    async def delete(self, key: K) -> bool:
        """Remove ``key``; return whether it held a live entry (not in the seed)."""
        return self.cache.delete_nowait(key)

    async def clear(self) -> None:
        """Clear all items from the cache."""
        self.cache.clear_nowait()

    def __repr__(self) -> str:
        name = "" if self.cache.name is None else f" name={self.cache.name!r}"
        return f"<sweepcache.compat.AsyncInMemoryCache{name} entries={len(self.cache)}>"


AsyncInMemoryCache.__module__ = __name__

#: Singleton cache instance for repository use, as in the seed.
user_cache: Final[AsyncInMemoryCache[str, object]] = AsyncInMemoryCache[str, object]()
