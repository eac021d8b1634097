"""``RedisCache``: the :class:`sweepcache.Cache` API over a shared Redis namespace."""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    Literal,
    NoReturn,
    TypeVar,
    cast,
    final,
    overload,
)

import anyio
import coredis
from anyio.lowlevel import checkpoint
from coredis.exceptions import NoScriptError

from sweepcache import DEFAULT_TTL

from . import _lease
from ._common import (
    Counters,
    L2Error,
    RedisStats,
    ValueTooLarge,
    positive_seconds,
    px_of,
    ttl_seconds,
)
from ._keys import KeyCodec
from ._lease import MISS
from ._listener import Listener, disposing_class
from ._serializers import JSONSerializer, Serializer

if TYPE_CHECKING:
    from types import TracebackType

    from anyio.abc import TaskGroup, TaskStatus

    from sweepcache._arguments import TTLArg

__all__ = ("RedisCache",)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")
_RedisCacheT = TypeVar("_RedisCacheT", bound="RedisCache[Any, Any]")

logger = logging.getLogger("sweepcache.redis")

_SCAN_BATCH: Final = 500

_GET_PTTL = b"return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}"
_ACQUIRE = b"""
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0} end
return {0, redis.call('PTTL', KEYS[1])}
"""
_RENEW = b"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = b"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Fenced write: only the lease holder stores its result, and a set/delete of
# the key during the load (which deletes the lease) makes the result unstored.
_STORE_FENCED = b"""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '0' then redis.call('SET', KEYS[2], ARGV[2])
else redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
redis.call('DEL', KEYS[1])
return 1
"""
_TAG_ADD = b"""
local current = redis.call('PTTL', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
local ms = tonumber(ARGV[2])
if ms < 0 then redis.call('PERSIST', KEYS[1])
elseif current == -2 or (current >= 0 and current < ms) then redis.call('PEXPIRE', KEYS[1], ms) end
return 1
"""
_TAG_TAKE = b"""
local members = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return members
"""


class _Subscriber:
    """What a :class:`TieredCache` hooks into its L2's invalidation link."""

    __slots__ = ()

    def on_keys(self, keys: list[bytes] | None) -> None:
        raise NotImplementedError

    def on_down(self) -> None:
        raise NotImplementedError

    async def on_up(self) -> None:
        raise NotImplementedError


@final
class RedisCache(Generic[K, V]):
    """A cache in a Redis namespace, shared by every process that uses the same ``prefix``.

    The async API of :class:`sweepcache.Cache`: ``get``, ``set`` (``ttl``
    becomes ``PX``), ``delete``, pipelined ``get_many``/``set_many``/
    ``delete_many``, ``ttl``, ``expire``, ``clear`` (of this namespace only,
    with ``SCAN`` in batches, never ``FLUSHDB``), ``invalidate_tags`` and
    ``get_or_load``, which loads each key once across every process (a lease
    in Redis, see the "Many processes" guide). ``@cached`` works over it.

    Keys are encoded by :class:`KeyCodec` under ``prefix``; values by
    ``serializer`` (JSON unless told otherwise). A stored payload that cannot
    be read is a miss, logged on the ``sweepcache.redis`` logger and counted
    in :meth:`stats`.

    Background work (the invalidation link that wakes the processes waiting
    for a load, and lease renewal) runs in ``async with cache:`` or
    ``await task_group.start(cache.run)``; with ``url=`` that also opens
    the client.

    Args:
        url: A Redis URL (``redis://host:port/db``); the cache makes and owns
            the client. Give ``url`` or ``client``.
        client: A coredis ``Redis`` or ``RedisCluster`` client, built with
            ``decode_responses=False`` and entered (``async with client``) by you.
        prefix: The namespace: every key of this cache starts with it; two
            caches with the same prefix are one cache.
        cluster: With ``url``: connect to a Redis Cluster.
        default_ttl: Seconds an entry lives when ``set`` gets no ``ttl``
            (``None``: never).
        serializer: The value codec; :class:`JSONSerializer` by default.
        max_value_size: Largest payload in bytes; a bigger value raises
            :class:`ValueTooLarge` on ``set``, and a bigger stored payload
            reads as a miss.
        op_timeout: Seconds one Redis operation may take before it fails
            with :class:`L2Error` (default 0.25).
        on_l2_error: What a failed read does: ``"raise"`` :class:`L2Error`
            (the default) or ``"fallback"`` (a miss; ``get_or_load`` calls
            the loader and returns its value unstored). Failed writes always raise.
        lease_ttl: Seconds a ``get_or_load`` lease lives without renewal
            (renewed every third of it while the loader runs).
        ping_interval: Seconds between the invalidation link's ``PING``.
        max_connections: With ``url``: connections in the client's pool
            (requests are multiplexed over them).
        name: A name shown in the ``repr``.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of range, or neither or both of
            ``url`` and ``client`` are given.

    Example::

        async with RedisCache[str, dict](url="redis://127.0.0.1:6379/0", prefix="app:") as cache:
            await cache.set("user:1", {"name": "Ada"}, ttl=300)
            assert await cache.get("user:1") == {"name": "Ada"}
    """

    __slots__ = (
        "_client",
        "_cluster",
        "_codec",
        "_counters",
        "_default_ttl",
        "_flights",
        "_lease_ms",
        "_lifecycle_lock",
        "_listener",
        "_max_value_size",
        "_name",
        "_on_l2_error",
        "_op_timeout",
        "_outer_group",
        "_owns_client",
        "_ping_interval",
        "_running",
        "_scripts",
        "_serializer",
        "_subscriber",
        "_task_group",
        "_waiters",
    )

    def __init__(
        self,
        url: str | None = None,
        *,
        client: coredis.Redis[bytes] | coredis.RedisCluster[bytes] | None = None,
        prefix: str | bytes,
        cluster: bool = False,
        default_ttl: float | None = 60.0,
        serializer: Serializer | None = None,
        max_value_size: int = 1 << 20,
        op_timeout: float = 0.25,
        on_l2_error: Literal["raise", "fallback"] = "raise",
        lease_ttl: float = 10.0,
        ping_interval: float = 0.5,
        max_connections: int = 4,
        name: str | None = None,
    ) -> None:
        if (url is None) == (client is None):
            raise ValueError("give exactly one of url= and client=")
        self._op_timeout = cast("float", positive_seconds(op_timeout, "op_timeout"))
        if url is not None:
            if not isinstance(url, str):
                raise TypeError(f"url must be a str, got {type(url).__name__}")
            options: dict[str, Any] = {
                "decode_responses": False,
                "stream_timeout": self._op_timeout,
                "connect_timeout": self._op_timeout,
                # coredis multiplexes requests on a connection: a few are
                # enough, and a burst of misses then does not open (and
                # handshake) dozens of connections at once.
                "max_connections": max_connections,
            }
            if cluster:
                client = _cluster_client(url, options)
            else:
                client = coredis.Redis.from_url(url, **options)
        elif not isinstance(client, (coredis.Redis, coredis.RedisCluster)):
            raise TypeError(
                f"client must be a coredis Redis or RedisCluster, got {type(client).__name__}"
            )
        self._client: Any = client
        self._owns_client = url is not None
        if self._owns_client:
            pool = self._client.connection_pool
            pool.connection_class = disposing_class(pool.connection_class)
        self._cluster = isinstance(client, coredis.RedisCluster)
        self._codec = KeyCodec(prefix)
        seconds = ttl_seconds(default_ttl, "default_ttl")
        if seconds == 0.0:
            raise ValueError("default_ttl must be > 0 or None, got 0 (ttl=0 deletes a key)")
        self._default_ttl = seconds
        if serializer is None:
            serializer = JSONSerializer()
        elif not isinstance(serializer, Serializer):
            raise TypeError(
                f"serializer must have dumps() and loads(), got {type(serializer).__name__}"
            )
        self._serializer = serializer
        if isinstance(max_value_size, bool) or not isinstance(max_value_size, int):
            raise TypeError(f"max_value_size must be an int, got {type(max_value_size).__name__}")
        if max_value_size < 1:
            raise ValueError(f"max_value_size must be >= 1, got {max_value_size!r}")
        self._max_value_size = max_value_size
        if on_l2_error not in ("raise", "fallback"):
            raise ValueError(f"on_l2_error must be 'raise' or 'fallback', got {on_l2_error!r}")
        self._on_l2_error = on_l2_error
        self._lease_ms = px_of(cast("float", positive_seconds(lease_ttl, "lease_ttl")))
        self._ping_interval = cast("float", positive_seconds(ping_interval, "ping_interval"))
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {type(name).__name__}")
        self._name = name
        self._counters = Counters()
        self._flights: dict[bytes, _lease.Flight] = {}
        self._waiters: dict[bytes, set[anyio.Event]] = {}
        self._subscriber: _Subscriber | None = None
        self._listener: Listener | None = None
        self._task_group: TaskGroup | None = None
        self._lifecycle_lock = threading.Lock()
        self._running = False
        self._outer_group: TaskGroup | None = None
        self._scripts = {
            name: client.register_script(source)
            for name, source in (
                ("get_pttl", _GET_PTTL),
                ("acquire", _ACQUIRE),
                ("renew", _RENEW),
                ("release", _RELEASE),
                ("store_fenced", _STORE_FENCED),
                ("tag_add", _TAG_ADD),
                ("tag_take", _TAG_TAKE),
            )
        }

    # -- plumbing ------------------------------------------------------------

    async def _call(self, request: Awaitable[Any], commands: int = 1) -> Any:
        """Await one Redis request within its deadline; any failure is an :class:`L2Error`.

        The deadline is ``op_timeout``, plus a millisecond per command after
        the first for pipelines.
        """
        try:
            with anyio.fail_after(self._op_timeout + 0.001 * (commands - 1)):
                return await request
        except Exception as exc:
            self._counters.error(exc)
            raise L2Error(f"Redis operation failed: {exc!r}") from exc

    async def _script(
        self, name: str, keys: list[bytes], args: list[bytes | str | int] | None = None
    ) -> Any:
        """``EVALSHA`` one of the scripts, loading it on ``NOSCRIPT``.

        Straight ``evalsha`` rather than coredis' ``Script`` object, which
        wraps each call in a retry policy and a transform (a visible share of
        an L2 hit).
        """
        script = self._scripts[name]
        try:
            return await self._client.evalsha(script.sha, keys=keys, args=args)
        except NoScriptError:
            await self._client.script_load(script.script)
            return await self._client.evalsha(script.sha, keys=keys, args=args)

    def _encode(self, key: object) -> bytes:
        return self._codec.encode(key)

    def _dumps(self, key: object, value: object) -> bytes:
        payload = self._serializer.dumps(value)
        if len(payload) > self._max_value_size:
            raise ValueTooLarge(
                f"the value of key {key!r} serializes to {len(payload):,} bytes, over "
                f"max_value_size={self._max_value_size:,}"
            )
        return payload

    def _loads(self, redis_key: bytes, payload: object) -> Any:
        """The value of a stored payload, or :data:`MISS` (logged and counted)."""
        counters = self._counters
        if not isinstance(payload, bytes) or len(payload) > self._max_value_size:
            counters.decode_errors += 1  # type: ignore[attr-defined]
            logger.warning(
                "sweepcache.redis: ignoring the payload of %r: not bytes or over max_value_size",
                redis_key[:200],
            )
            return MISS
        try:
            return self._serializer.loads(payload)
        except Exception as exc:  # RecursionError and MemoryError-free codecs included
            counters.decode_errors += 1  # type: ignore[attr-defined]
            logger.warning(
                "sweepcache.redis: ignoring an unreadable payload under %r (%s)",
                redis_key[:200],
                type(exc).__name__,
            )
            return MISS

    def _seconds(self, ttl: TTLArg) -> float | None:
        return self._default_ttl if ttl is DEFAULT_TTL else ttl_seconds(ttl)

    def _lease_key(self, redis_key: bytes) -> bytes:
        prefix = self._codec.prefix
        return prefix + b"\x00#lease:" + redis_key[len(prefix) :]

    def _tag_key(self, tag: Hashable) -> bytes:
        parts: list[bytes] = [self._codec.prefix, b"\x00#tag:"]
        namespace = getattr(tag, "namespace", None)
        if type(tag).__name__ == "FunctionTag" and isinstance(namespace, str):
            parts.append(b"@" + namespace.encode("utf-8", "surrogatepass"))  # @cached's own tag
        else:
            self._codec._element(tag, parts, tag)
        return b"".join(parts)

    def _tag_keys(self, tags: Iterable[Hashable] | None) -> list[bytes]:
        if tags is None:
            return []
        if isinstance(tags, (str, bytes)):
            raise TypeError(
                f"tags must be an iterable of tags, got the string {tags!r}; "
                f"write tags=({tags!r},) for one tag"
            )
        return [self._tag_key(tag) for tag in tags]

    def _queue_tags(self, pipe: Any, tag_keys: list[bytes], redis_key: bytes, px: int) -> None:
        script = self._scripts["tag_add"]
        for tag_key in tag_keys:
            script(keys=[tag_key], args=[redis_key, px], client=pipe)

    # -- reading -------------------------------------------------------------

    @overload
    async def get(self, key: K) -> V | None: ...
    @overload
    async def get(self, key: K, default: D) -> V | D: ...
    async def get(self, key: K, default: object = None) -> object:
        """Return the value under ``key``, or ``default`` on a miss.

        Raises:
            TypeError: ``key`` has no Redis encoding (see :class:`KeyCodec`).
            L2Error: Redis failed and ``on_l2_error="raise"``.

        Example::

            user = await cache.get("user:1", default=None)
        """
        redis_key = self._encode(key)
        try:
            payload = await self._call(self._client.get(redis_key))
        except L2Error:
            if self._on_l2_error == "raise":
                raise
            return default
        counters = self._counters
        if payload is None:
            counters.l2_misses += 1  # type: ignore[attr-defined]
            return default
        value = self._loads(redis_key, payload)
        if value is MISS:
            counters.l2_misses += 1  # type: ignore[attr-defined]
            return default
        counters.l2_hits += 1  # type: ignore[attr-defined]
        return value

    async def _get_with_pttl(self, redis_key: bytes) -> tuple[Any, float | None]:
        """``(value or MISS, seconds left or None)`` in one round trip; raises L2Error."""
        reply = await self._call(self._script("get_pttl", [redis_key]))
        payload, pttl = reply[0], reply[1]
        counters = self._counters
        if payload is None:
            counters.l2_misses += 1  # type: ignore[attr-defined]
            return MISS, None
        value = self._loads(redis_key, payload)
        if value is MISS:
            counters.l2_misses += 1  # type: ignore[attr-defined]
            return MISS, None
        counters.l2_hits += 1  # type: ignore[attr-defined]
        if not isinstance(pttl, int) or pttl == -2:
            return MISS, None  # expired between the two commands: cannot happen in a script
        return value, None if pttl == -1 else pttl / 1000.0

    @overload
    async def get_many(self, keys: Iterable[K]) -> list[V | None]: ...
    @overload
    async def get_many(self, keys: Iterable[K], default: D) -> list[V | D]: ...
    async def get_many(self, keys: Iterable[K], default: object = None) -> list[Any]:
        """Return the values of ``keys`` in order, ``default`` for each miss (one pipeline).

        Raises:
            TypeError: A key has no Redis encoding.
            L2Error: Redis failed and ``on_l2_error="raise"``.

        Example::

            await cache.get_many(["a", "missing"])  # -> [1, None]
        """
        redis_keys = [self._encode(key) for key in keys]
        if not redis_keys:
            return []
        try:
            payloads = await self._pipeline(lambda pipe: [pipe.get(k) for k in redis_keys])
        except L2Error:
            if self._on_l2_error == "raise":
                raise
            return [default] * len(redis_keys)
        values: list[Any] = []
        counters = self._counters
        for redis_key, payload in zip(redis_keys, payloads, strict=True):
            value = MISS if payload is None else self._loads(redis_key, payload)
            if value is MISS:
                counters.l2_misses += 1  # type: ignore[attr-defined]
                values.append(default)
            else:
                counters.l2_hits += 1  # type: ignore[attr-defined]
                values.append(value)
        return values

    async def _pipeline(self, queue: Callable[[Any], list[Any]]) -> list[Any]:
        """Run the commands ``queue(pipe)`` adds in one non-transactional pipeline."""

        async def run() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                requests = queue(pipe)
            return [await request for request in requests]

        return cast("list[Any]", await self._call(run()))

    async def ttl(self, key: K) -> float | None:
        """Return the seconds ``key`` has left to live (``PTTL``), ``None`` if it never expires.

        Raises:
            KeyError: ``key`` is missing.
            TypeError: ``key`` has no Redis encoding.
            L2Error: Redis failed.

        Example::

            await cache.ttl("session:1")  # -> 1799.998
        """
        pttl = await self._call(self._client.pttl(self._encode(key)))
        if pttl == -2:
            raise KeyError(key)
        return None if pttl == -1 else pttl / 1000.0

    # -- writing -------------------------------------------------------------

    async def set(
        self,
        key: K,
        value: V,
        ttl: TTLArg = DEFAULT_TTL,
        *,
        tags: Iterable[Hashable] | None = None,
    ) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (``SET ... PX``).

        A load of ``key`` running in any process (``get_or_load``) will not
        store its older result over this one.

        Args:
            key: The key (see :class:`KeyCodec` for the types it takes).
            value: A value the serializer can store.
            ttl: Seconds (or a timedelta) to live; ``None`` never expires;
                ``0`` deletes the key. Defaults to ``default_ttl``. Sub-millisecond
                ttls round up to 1 ms.
            tags: Tags for :meth:`invalidate_tags`.

        Raises:
            TypeError: The key or a tag has no encoding, ``ttl`` is not a
                number, or the serializer cannot store ``value``.
            ValueError: ``ttl`` is negative or NaN, or the serializer refused
                ``value`` (NaN in JSON...).
            ValueTooLarge: The payload is over ``max_value_size``.
            L2Error: Redis failed; the key may or may not have been written.

        Example::

            await cache.set("user:1", {"name": "Ada"}, ttl=300, tags=("org:7",))
        """
        seconds = self._seconds(ttl)
        redis_key = self._encode(key)
        tag_keys = self._tag_keys(tags)
        if seconds == 0.0:
            await self._delete_encoded([redis_key])
            return
        payload = self._dumps(key, value)
        await self._store([(redis_key, payload)], seconds, tag_keys)

    async def _store(
        self, items: list[tuple[bytes, bytes]], seconds: float | None, tag_keys: list[bytes]
    ) -> None:
        px = None if seconds is None else px_of(seconds)

        def queue(pipe: Any) -> list[Any]:
            requests = []
            for redis_key, payload in items:
                requests.append(pipe.set(redis_key, payload, px=px))
                requests.append(pipe.delete([self._lease_key(redis_key)]))
                self._queue_tags(pipe, tag_keys, redis_key, -1 if px is None else px)
            return requests

        await self._pipeline(queue)

    async def set_many(
        self,
        mapping: Mapping[K, V],
        ttl: TTLArg = DEFAULT_TTL,
        *,
        tags: Iterable[Hashable] | None = None,
    ) -> None:
        """Store every item of ``mapping`` with the same ``ttl``, in one pipeline.

        Raises:
            TypeError: A key, a tag or a value cannot be encoded. Nothing is written.
            ValueError: ``ttl`` is out of range. Nothing is written.
            ValueTooLarge: A payload is over ``max_value_size``. Nothing is written.
            L2Error: Redis failed; some items may have been written.

        Example::

            await cache.set_many({"a": 1, "b": 2}, ttl=60)
        """
        seconds = self._seconds(ttl)
        tag_keys = self._tag_keys(tags)
        if seconds == 0.0:
            await self._delete_encoded([self._encode(key) for key in mapping])
            return
        items = [(self._encode(key), self._dumps(key, value)) for key, value in mapping.items()]
        if items:
            await self._store(items, seconds, tag_keys)

    # -- deleting ------------------------------------------------------------

    async def delete(self, key: K) -> bool:
        """Remove ``key``; return whether it existed.

        A load of ``key`` running in any process will not store its result.

        Raises:
            TypeError: ``key`` has no Redis encoding.
            L2Error: Redis failed; the key may or may not have been deleted.

        Example::

            await cache.delete("user:1")
        """
        return await self._delete_encoded([self._encode(key)]) > 0

    async def delete_many(self, keys: Iterable[K]) -> int:
        """Remove every key in ``keys`` (one pipeline); return how many existed.

        Raises:
            TypeError: A key has no Redis encoding. Nothing is deleted.
            L2Error: Redis failed; some keys may have been deleted.

        Example::

            await cache.delete_many(["a", "b"])
        """
        return await self._delete_encoded([self._encode(key) for key in keys])

    async def _delete_encoded(self, redis_keys: list[bytes]) -> int:
        if not redis_keys:
            return 0

        def queue(pipe: Any) -> list[Any]:
            requests = []
            for redis_key in redis_keys:
                requests.append(pipe.delete([redis_key]))
                pipe.delete([self._lease_key(redis_key)])
            return requests

        return sum(await self._pipeline(queue))

    async def expire(self, key: K, ttl: TTLArg) -> bool:
        """Give ``key`` a new ``ttl`` from now (``PEXPIRE``, ``PERSIST`` for ``None``).

        Returns:
            Whether ``key`` existed (and so was changed).

        Raises:
            TypeError: ``key`` has no encoding or ``ttl`` is not a number.
            ValueError: ``ttl`` is negative or NaN.
            L2Error: Redis failed.

        Example::

            await cache.expire("session:1", 3600)
        """
        seconds = self._seconds(ttl)
        redis_key = self._encode(key)
        if seconds == 0.0:
            return await self._delete_encoded([redis_key]) > 0
        if seconds is None:
            exists, _ = await self._pipeline(
                lambda pipe: [pipe.exists([redis_key]), pipe.persist(redis_key)]
            )
            return bool(exists)
        return bool(await self._call(self._client.pexpire(redis_key, px_of(seconds))))

    async def clear(self) -> None:
        """Remove every key of this namespace (``SCAN`` + ``UNLINK`` in batches).

        Other namespaces in the same database are untouched; ``FLUSHDB`` is
        never used. On a cluster every primary is scanned.

        Raises:
            L2Error: Redis failed; some keys may remain.

        Example::

            await cache.clear()
        """
        pattern = _glob_escape(self._codec.prefix) + b"*"
        batch: list[bytes] = []
        try:
            with anyio.fail_after(max(self._op_timeout * 40, 10.0)):
                async for redis_key in self._client.scan_iter(match=pattern, count=_SCAN_BATCH):
                    batch.append(redis_key)
                    if len(batch) >= _SCAN_BATCH:
                        await self._unlink(batch)
                        batch = []
                        await checkpoint()
        except Exception as exc:
            self._counters.error(exc)
            raise L2Error(f"Redis SCAN failed: {exc!r}") from exc
        if batch:
            await self._unlink(batch)

    async def _unlink(self, redis_keys: list[bytes]) -> None:
        if self._cluster:  # keys of a batch live in many slots
            await self._pipeline(lambda pipe: [pipe.unlink([key]) for key in redis_keys])
        else:
            await self._call(self._client.unlink(redis_keys))

    async def invalidate_tags(self, *tags: Hashable) -> int:
        """Remove every key stored with any of ``tags``; return how many existed.

        Every process sees the removals (a :class:`TieredCache` drops them
        from its L1). A key rewritten without the tag after it was tagged may
        be removed too (never too few).

        Raises:
            TypeError: A tag has no Redis encoding.
            L2Error: Redis failed; some keys may remain.

        Example::

            await cache.invalidate_tags("org:7")
        """
        tag_keys = self._tag_keys(tags)
        members: set[bytes] = set()
        for tag_key in tag_keys:
            found = await self._call(self._script("tag_take", [tag_key]))
            members.update(member for member in found if isinstance(member, bytes))
        return await self._delete_encoded(sorted(members))

    # -- loading -------------------------------------------------------------

    async def get_or_load(
        self,
        key: K,
        loader: Callable[[], Awaitable[V]],
        *,
        ttl: TTLArg = DEFAULT_TTL,
        timeout: float | None = None,  # noqa: ASYNC109 - bounds a load shared by many callers
        refresh_ahead: float | None = None,
        tags: Iterable[Hashable] | Callable[[V], Iterable[Hashable]] | None = None,
    ) -> V:
        """Return the value under ``key``, loading it once across every process on a miss.

        One caller in the whole fleet runs ``await loader()`` per missing key:
        within a process, callers share one load; across processes, the
        first takes a lease (``SET NX PX`` with a random fencing token,
        renewed while the loader runs), the others wait for its result, woken
        by the invalidation link. If the holder dies its lease expires and one
        waiter takes over. Only the lease holder's result is stored, and not
        if the key was set or deleted meanwhile.

        Args:
            key: The key.
            loader: An async callable without arguments returning the value.
            ttl: Seconds the loaded value lives, as in :meth:`set`.
            timeout: Seconds the whole call may take (waiting for another
                process's load included); ``None`` waits forever.
            refresh_ahead: A hit with less than this many seconds left
                reloads, if no other process is loading the key (the caller
                waits for it); ``None`` never refreshes early.
            tags: Tags of the stored value, or a function of the value returning them.

        Returns:
            The cached or loaded value.

        Raises:
            TypeError: The key has no encoding, or an argument has the wrong type.
            ValueError: ``ttl``, ``timeout`` or ``refresh_ahead`` is out of range.
            TimeoutError: ``timeout`` elapsed.
            L2Error: Redis failed before the load and ``on_l2_error="raise"``.
            Exception: Whatever the loader raised (in this process).

        Example::

            user = await cache.get_or_load("user:7", lambda: db.fetch_user(7), ttl=300)
        """
        value, _, _ = await self.load_with_ttl(
            key, self._encode(key), loader, ttl, timeout, refresh_ahead, tags
        )
        return cast("V", value)

    async def load_with_ttl(
        self,
        key: object,
        redis_key: bytes,
        loader: Callable[[], Awaitable[Any]],
        ttl: TTLArg,
        timeout: float | None,  # noqa: ASYNC109 - bounds a load shared by many callers
        refresh_ahead: float | None,
        tags: Any,
    ) -> tuple[Any, float | None, int]:
        """``get_or_load`` returning ``(value, seconds left, HIT/LOADED/UNSTORED)``."""
        return await _lease.load_with_ttl(
            self, key, redis_key, loader, ttl, timeout, refresh_ahead, tags
        )

    # -- the invalidation link and background tasks ------------------------------

    def _attach(self, subscriber: _Subscriber) -> None:
        if self._subscriber is not None and self._subscriber is not subscriber:
            raise ValueError("this RedisCache already belongs to another TieredCache")
        self._subscriber = subscriber

    def _on_keys(self, redis_keys: list[bytes] | None) -> None:
        counters = self._counters
        waiters = self._waiters
        if redis_keys is None:
            counters.invalidations += 1  # type: ignore[attr-defined]
            for events in list(waiters.values()):
                for event in events:
                    event.set()
        else:
            counters.invalidations += len(redis_keys)  # type: ignore[attr-defined]
            if waiters:
                for redis_key in redis_keys:
                    for event in waiters.get(redis_key, ()):
                        event.set()
        if self._subscriber is not None:
            self._subscriber.on_keys(redis_keys)

    def _on_down(self) -> None:
        self._counters.link_losses += 1  # type: ignore[attr-defined]
        if self._subscriber is not None:
            self._subscriber.on_down()

    async def _on_up(self) -> None:
        self._counters.link_ups += 1  # type: ignore[attr-defined]
        if self._subscriber is not None:
            await self._subscriber.on_up()

    def _nodes(self) -> list[tuple[str, int]]:
        client = self._client
        if self._cluster:
            return [
                (node.host, node.port) for node in client.connection_pool.cluster_layout.primaries
            ]
        location = client.connection_pool.location
        return [(location.host, location.port)]

    def _listener_kwargs(self) -> dict[str, Any]:
        source = self._client.connection_pool.connection_kwargs
        kwargs: dict[str, Any] = {
            name: source[name]
            for name in ("username", "password", "credential_provider", "ssl_context")
            if source.get(name) is not None
        }
        if not self._cluster and source.get("db"):
            kwargs["db"] = source["db"]
        kwargs.update(
            stream_timeout=self._op_timeout,
            connect_timeout=self._op_timeout,
            decode_responses=False,
        )
        return kwargs

    @property
    def link_up(self) -> bool:
        """Whether the invalidation link is up (every node tracked) right now."""
        return self._listener is not None and self._listener.up

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> NoReturn:
        """Run the background tasks until cancelled: the one entry point for a task group.

        Opens the client when the cache made it (``url=``), keeps the
        invalidation link (reconnecting with backoff, ``PING`` every
        ``ping_interval``), and hosts lease renewals. ``task_status.started()``
        comes after the first connection attempt, successful or not.

        Raises:
            RuntimeError: It is already running.

        Example::

            async with anyio.create_task_group() as tg:
                await tg.start(cache.run)
        """
        with self._lifecycle_lock:
            if self._running:
                raise RuntimeError("this RedisCache is already running")
            self._running = True
        try:
            async with AsyncExitStack() as stack:
                if self._owns_client:
                    await stack.enter_async_context(self._client)
                task_group = await stack.enter_async_context(anyio.create_task_group())
                self._task_group = task_group
                listener = self._listener = Listener(
                    self._nodes,
                    self._listener_kwargs(),
                    self._codec.prefix,
                    on_keys=self._on_keys,
                    on_down=self._on_down,
                    on_up=self._on_up,
                    ping_interval=self._ping_interval,
                    ping_timeout=max(self._op_timeout, 0.1),
                    connect_timeout=max(self._op_timeout, 0.1),
                )
                await task_group.start(listener.run)
                task_status.started()
                await anyio.sleep_forever()
        finally:
            if self._listener is not None and self._listener.up:
                self._listener.up = False
                self._on_down()
            self._listener = None
            self._task_group = None
            self._running = False
        raise AssertionError("unreachable")  # pragma: no cover

    async def __aenter__(self: _RedisCacheT) -> _RedisCacheT:
        """Start :meth:`run` in a task group owned by the cache."""
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(self.run)
        except BaseException as exc:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._outer_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        """Stop the background tasks and close the client the cache made.

        An exception raised in the ``async with`` body propagates unchanged.
        """
        task_group, self._outer_group = self._outer_group, None
        assert task_group is not None, "__aexit__ without __aenter__"
        task_group.cancel_scope.cancel()
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            return await task_group.__aexit__(exc_type, exc, traceback)
        await task_group.__aexit__(None, None, None)
        return None

    # -- introspection -------------------------------------------------------

    def stats(self) -> RedisStats:
        """Return a snapshot of the counters.

        Example::

            assert cache.stats().decode_errors == 0
        """
        return self._counters.snapshot()

    @property
    def default_ttl(self) -> float | None:
        """Seconds an entry lives when ``set`` gets no ``ttl``; ``None`` means never."""
        return self._default_ttl

    @property
    def prefix(self) -> bytes:
        """The namespace every key of this cache starts with."""
        return self._codec.prefix

    @property
    def key_codec(self) -> KeyCodec:
        """The codec turning keys into Redis keys."""
        return self._codec

    @property
    def on_l2_error(self) -> Literal["raise", "fallback"]:
        """What a failed read does, ``"raise"`` or ``"fallback"``."""
        return self._on_l2_error

    @property
    def client(self) -> coredis.Redis[bytes] | coredis.RedisCluster[bytes]:
        """The coredis client."""
        return cast("coredis.Redis[bytes] | coredis.RedisCluster[bytes]", self._client)

    def __repr__(self) -> str:
        name = f" name={self._name!r}" if self._name else ""
        return f"<sweepcache.redis.RedisCache{name} prefix={self._codec.prefix!r}>"


def _cluster_client(url: str, options: dict[str, Any]) -> Any:
    """A ``RedisCluster`` for ``url`` (``redis://[user:password@]host:port``).

    Built from the URL's parts: coredis 6.9's ``RedisCluster.from_url`` passes
    its startup node in a deprecated form and warns.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"url must be redis://host:port for a cluster, got {url!r}")
    return coredis.RedisCluster(
        host=parts.hostname,
        port=parts.port or 6379,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
        ssl=parts.scheme == "rediss",
        **options,
    )


def _glob_escape(prefix: bytes) -> bytes:
    """Escape ``SCAN MATCH`` metacharacters so the prefix matches only itself."""
    out = bytearray()
    for byte in prefix:
        if byte in b"*?[]\\":
            out += b"\\"
        out.append(byte)
    return bytes(out)


RedisCache.__module__ = "sweepcache.redis"
