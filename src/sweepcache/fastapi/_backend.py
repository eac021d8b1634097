"""``FastAPICacheBackend``: sweepcache behind fastapi-cache2's ``@cache`` decorator."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, final

import anyio
from fastapi_cache.backends import Backend

from sweepcache import Cache

if TYPE_CHECKING:
    from anyio.abc import TaskStatus


def _namespaces(key: str) -> tuple[str, ...]:
    """Every proper prefix of ``key`` that ends before a ``:``.

    ``"app:users:1f3a"`` is in the namespaces ``"app"`` and ``"app:users"``,
    which is what Redis' ``KEYS namespace:*`` (fastapi-cache2's Redis
    backend) would match when clearing.
    """
    prefixes: list[str] = []
    index = key.find(":")
    while index != -1:
        prefixes.append(key[:index])
        index = key.find(":", index + 1)
    return tuple(prefixes)


@final
class FastAPICacheBackend(Backend):
    """A fastapi-cache2 ``Backend`` storing in a :class:`sweepcache.Cache`.

    Switch with one line: ``FastAPICache.init(FastAPICacheBackend(),
    prefix=...)`` instead of ``InMemoryBackend()`` or ``RedisBackend(...)``.
    Unlike ``InMemoryBackend`` it takes no global lock, reclaims expired
    entries, shares nothing between instances, and ``clear(namespace)`` drops
    exactly the keys in that namespace (keys are tagged with their
    namespaces, as ``KEYS namespace:*`` would find them in Redis) without
    scanning the others.

    Args:
        cache: Where values are stored; a new ``Cache(default_ttl=60)`` when
            ``None``. Run its sweeper with the app (``lifespan(backend)``).

    Raises:
        TypeError: ``cache`` is not a :class:`sweepcache.Cache`.

    Example::

        backend = FastAPICacheBackend()
        FastAPICache.init(backend, prefix="api")
        app = FastAPI(lifespan=lifespan(backend))
    """

    __slots__ = ("_cache",)

    def __init__(self, cache: Cache[str, bytes] | None = None) -> None:
        if cache is None:
            cache = Cache(default_ttl=60.0, name="fastapi-cache")
        elif not isinstance(cache, Cache):
            raise TypeError(f"cache must be a sweepcache.Cache or None, got {cache!r}")
        self._cache = cache

    @property
    def cache(self) -> Cache[str, bytes]:
        """The cache the values are stored in."""
        return self._cache

    async def run_sweeper(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the cache's sweeper (so that ``lifespan(backend)`` works)."""
        await self._cache.run_sweeper(task_status=task_status)

    async def get_with_ttl(self, key: str) -> tuple[int, bytes | None]:
        """Return the seconds ``key`` has left (whole, rounded down) and its value.

        A miss is ``(0, None)``; an entry that never expires has ``-1`` left
        (as Redis' ``TTL`` says).
        """
        cache = self._cache
        value = cache.get_nowait(key)
        if value is None:
            return 0, None
        try:
            left = cache.ttl_nowait(key)
        except KeyError:  # expired between the two reads
            return 0, None
        return (-1 if left is None else math.floor(left)), value

    async def get(self, key: str) -> bytes | None:
        """Return the value under ``key``, or ``None``."""
        return self._cache.get_nowait(key)

    async def set(self, key: str, value: bytes, expire: int | None = None) -> None:
        """Store ``value`` for ``expire`` seconds (the cache's ``default_ttl`` if ``None``).

        Raises:
            ValueError: ``expire`` is negative.
        """
        namespaces = _namespaces(key)
        ttl = self._cache.default_ttl if expire is None else expire
        if namespaces:
            self._cache.set_nowait(key, value, ttl, tags=namespaces)
        else:
            self._cache.set_nowait(key, value, ttl)

    async def clear(self, namespace: str | None = None, key: str | None = None) -> int:
        """Remove the keys of ``namespace``, or else ``key``; return how many were live.

        As in fastapi-cache2's Redis backend, ``namespace`` wins over ``key``;
        with neither, nothing is removed.
        """
        if namespace:
            return await self._cache.invalidate_tags(namespace)
        if key is not None:
            return int(self._cache.delete_nowait(key))
        return 0

    def __repr__(self) -> str:
        return f"FastAPICacheBackend({self._cache!r})"
