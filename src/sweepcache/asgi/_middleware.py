"""``CacheMiddleware``: a shared HTTP response cache for any ASGI app, by RFC 9111.

How a request flows (the rules themselves are in ``_rules.py``):

* Not HTTP, or a safe method other than GET/HEAD: straight to the app.
* An unsafe method (POST, PUT, PATCH, DELETE...): to the app; when the
  response starts with a non-error status, the entries of the target URL
  (and of same-origin ``Location``/``Content-Location``) are invalidated
  *before* the client sees it (RFC 9111 §4.4).
* GET/HEAD that must not use the cache (``no-store``, a ``Range``,
  credentials without a ``user_key``): to the app, marked ``X-Cache: MISS``.
* GET: ``Cache.get_or_load`` on the key (method, URL, user partition). A hit
  is served with ``Age`` and ``X-Cache: HIT`` (about 5 us in the middleware:
  no task group is entered for it). On a miss the first request
  leads: the app runs in a task of the leader's own task group, streaming
  to the leader's client as usual while the body is captured; the loader
  returns as soon as the outcome is known (the complete body if storable, or
  "not storable" as soon as the headers or the size cap say so), so requests
  waiting on the same key never wait for a body they cannot use. Storable
  responses are stored with the tags of their URL and their tag header;
  others leave a short-lived pass marker so that later requests go straight
  to the app instead of queueing behind one another.
* HEAD: served from the stored GET response, or passed to the app.

Invalidation during a load (an unsafe request, ``invalidate_tags`` from an
endpoint) is the core's business: the load's tags are known when its value
is, and a load whose tags were invalidated while it ran is not stored.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from typing import TYPE_CHECKING, Final, cast, final
from urllib.parse import urlsplit

import anyio

from sweepcache import Cache

from ._response import CachedResponse
from ._rules import (
    DEFAULT_CACHEABLE_STATUSES,
    NO_DIRECTIVES,
    NOT_MODIFIED_HEADERS,
    SAFE_METHODS,
    RequestDirectives,
    Storability,
    request_directives,
    request_vary_values,
    response_storability,
    vary_names,
)
from ._rules import not_modified as _not_modified

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Hashable

    from anyio.abc import TaskGroup

    from ._types import ASGIApp, Headers, Message, Receive, Scope, Send

#: Keys of the response cache: ``("GET", url, partition)`` and, for a
#: response with ``Vary``, that plus one ``"name:=value"`` string per header.
ResponseKey = tuple[str, ...]

_URL_TAG: Final = "sweepcache.asgi:url"
_CONDITIONAL: Final = frozenset({b"if-none-match", b"if-modified-since"})
#: Headers never stored: the cache writes its own ``Age`` and ``X-Cache``.
_NOT_STORED: Final = frozenset({b"age", b"x-cache", b"set-cookie"})
_MISS: Final = (b"x-cache", b"MISS")
_HIT: Final = (b"x-cache", b"HIT")


def url_tag(target: str) -> tuple[str, str]:
    """The tag every stored response of ``target`` carries (path and query).

    Invalidate it to drop every stored variant of one URL, for every host
    and user: ``await responses.invalidate_tags(url_tag("/users?page=2"))``.
    The middleware does this by itself after a successful unsafe request
    (POST, PUT, PATCH, DELETE...) to that URL.

    Args:
        target: The path, with its query string if any (``/a/b?c=d``).

    Raises:
        TypeError: ``target`` is not a string.

    Example::

        await responses.invalidate_tags(url_tag("/users"))
    """
    if not isinstance(target, str):
        raise TypeError(f"target must be a str (path and query), got {type(target).__name__}")
    return (_URL_TAG, target)


def credentials_key(scope: Scope) -> str | None:
    """A ``user_key`` that partitions the cache by the request's exact credentials.

    Returns a SHA-256 digest of the ``Authorization`` and ``Cookie`` header
    values, so a stored response is only ever served to a request presenting
    the very credentials the app accepted when it made that response. It
    needs no knowledge of the auth scheme; the price is one partition per
    session or token rather than per user. A revoked token keeps getting the
    entries stored for it until they expire.

    Args:
        scope: The request's ASGI scope.

    Returns:
        The partition name, or ``None`` without credentials.

    Example::

        app.add_middleware(CacheMiddleware, cache=responses, user_key=credentials_key)
    """
    digest = hashlib.sha256()
    found = False
    for name, value in _headers_of(scope):
        if name == b"authorization" or name == b"cookie":
            digest.update(name + b"\x00" + value + b"\x00")
            found = True
    return digest.hexdigest() if found else None


def _headers_of(scope: Scope) -> Headers:
    return cast("Headers", scope.get("headers") or ())


def _tags_of(stored: CachedResponse) -> frozenset[Hashable]:
    return stored.tags


def _check_seconds(value: object, name: str, *, zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return seconds


class _Request:
    """What the middleware reads from a GET/HEAD request, in one pass over its headers."""

    __slots__ = ("cache_control", "credentials", "headers", "path", "ranged", "url")

    def __init__(self, scope: Scope) -> None:
        headers = _headers_of(scope)
        self.headers = headers
        cache_control: list[bytes] = []
        credentials = ranged = False
        host = b""
        for name, value in headers:
            if name == b"cache-control":
                cache_control.append(value)
            elif name == b"authorization" or name == b"cookie":
                credentials = True
            elif name == b"range":
                ranged = True
            elif name == b"host":
                host = value
        self.cache_control = cache_control
        self.credentials = credentials
        self.ranged = ranged
        self.path = _target(scope)
        if not host:
            server = scope.get("server")
            if isinstance(server, (tuple, list)) and len(server) == 2:
                host = f"{server[0]}:{server[1]}".encode("latin-1")
        self.url = f"{scope.get('scheme', 'http')}://{host.decode('latin-1').lower()}{self.path}"


def _target(scope: Scope) -> str:
    """Path and query of the request, as sent (``raw_path`` when the server gives it)."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) and raw else str(scope.get("path", "/"))
    query = scope.get("query_string")
    if isinstance(query, bytes) and query:
        return f"{path}?{query.decode('latin-1')}"
    return path


class _Capture:
    """The leader's view of the app's response: forwards it to the client, keeps a copy.

    ``decided`` is set as soon as ``result`` is known: the stored response
    once the body is complete, or a pass marker as soon as the response
    cannot be stored.
    """

    __slots__ = (
        "capturing",
        "chunks",
        "decided",
        "error",
        "headers",
        "middleware",
        "partition",
        "request",
        "result",
        "send_to_client",
        "size",
        "status",
        "storability",
        "suppress_body",
    )

    def __init__(
        self, middleware: CacheMiddleware, request: _Request, partition: str, send: Send
    ) -> None:
        self.middleware = middleware
        self.request = request
        self.partition = partition
        self.send_to_client = send
        self.decided = anyio.Event()
        self.result: CachedResponse | None = None
        self.error: Exception | None = None
        self.capturing = False
        self.suppress_body = False
        self.chunks: list[bytes] = []
        self.size = 0
        self.status = 0
        self.headers: tuple[tuple[bytes, bytes], ...] = ()
        self.storability: tuple[Storability, list[str], tuple[str, ...]] | None = None

    def decide(self, result: CachedResponse) -> None:
        if self.result is None:
            self.result = result
            self.decided.set()

    def pass_marker(self) -> None:
        self.capturing = False
        self.chunks.clear()
        self.decide(self.middleware._pass_marker(self.request))

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        middleware = self.middleware
        if kind == "http.response.start":
            status = cast("int", message.get("status", 200))
            headers = list(cast("Headers", message.get("headers") or ()))
            tags, client_headers, stored_headers = middleware._split_headers(headers)
            storability = response_storability(
                status,
                headers,
                statuses=middleware._statuses,
                max_ttl=middleware._max_ttl,
                default_ttl=middleware._default_ttl,
                private_partition=bool(self.partition),
                now=time.time(),
            )
            names = vary_names(headers) or ()
            length = _content_length(headers)
            if storability.storable and (length is None or length <= middleware._max_body_size):
                self.capturing = True
                self.status = status
                self.headers = tuple(stored_headers)
                self.storability = (storability, tags, names)
            else:
                self.pass_marker()
            client_headers.append(_MISS)
            if status == 200 and _not_modified(self.request.headers, headers):
                self.suppress_body = True
                await self.send_to_client(
                    {
                        "type": "http.response.start",
                        "status": 304,
                        "headers": [h for h in client_headers if h[0] in NOT_MODIFIED_HEADERS]
                        + [_MISS],
                    }
                )
            else:
                await self.send_to_client({**message, "headers": client_headers})
        elif kind == "http.response.body":
            body = cast("bytes", message.get("body", b""))
            more = bool(message.get("more_body", False))
            if self.capturing:
                self.size += len(body)
                if self.size > middleware._max_body_size:
                    self.pass_marker()
                else:
                    if body:
                        self.chunks.append(body)
                    if not more:
                        self.decide(self._stored())
            if not self.suppress_body:
                await self.send_to_client(message)
            elif not more:
                await self.send_to_client({"type": "http.response.body", "body": b""})
        else:  # pathsend, trailers, debug...: forwarded, never stored
            if self.capturing:
                self.pass_marker()
            await self.send_to_client(message)

    def _stored(self) -> CachedResponse:
        assert self.storability is not None
        storability, tags, names = self.storability
        middleware = self.middleware
        body = b"".join(self.chunks)
        headers = self.headers
        if _content_length(headers) is None:
            # Known now: a hit needs no chunked encoding, a HEAD hit says the size.
            headers = (*headers, (b"content-length", b"%d" % len(body)))
        return CachedResponse(
            status=self.status,
            headers=headers,
            body=body,
            tags=frozenset((url_tag(self.request.path), *tags)),
            ttl=storability.ttl,
            initial_age=storability.initial_age,
            stored_at=middleware._clock(),
            vary=names,
            vary_values=request_vary_values(self.request.headers, names),
        )


def _content_length(headers: Headers) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _Flight:
    """One ``get_or_load`` call: the leader's task group, and its capture if it led."""

    __slots__ = ("capture", "task_group")

    def __init__(self) -> None:
        self.capture: _Capture | None = None
        self.task_group: TaskGroup | None = None


@final
class CacheMiddleware:
    """A shared HTTP response cache for ASGI apps, following RFC 9111.

    Stores complete GET responses in a :class:`sweepcache.Cache` and serves
    them to GET and HEAD requests while they are fresh. What it does, in short
    (the integration guide has every rule and its test):

    * Stores only responses to GET with a cacheable status, a freshness
      lifetime (``s-maxage``, ``max-age``, ``Expires``, or ``default_ttl``)
      capped by ``max_ttl``, and a body of at most ``max_body_size`` bytes;
      never ``no-store``, ``no-cache``, ``private``, ``Set-Cookie`` or
      ``Vary: *``.
    * Never serves nor stores for requests with ``Authorization`` or
      ``Cookie`` unless ``user_key`` puts each user in a partition of their
      own (where ``private`` responses may then be stored). A request's
      ``no-store`` bypasses the cache; ``no-cache`` or ``max-age=0`` goes to
      the app and stores the new response; ``max-age``, ``min-fresh`` and
      ``only-if-cached`` are honoured.
    * Keys on the method, the full URL, the partition and the request
      headers the response's ``Vary`` names.
    * Answers ``If-None-Match``/``If-Modified-Since`` with 304, adds ``Age``
      and ``X-Cache: HIT`` (or ``MISS``).
    * Runs the app once for concurrent misses of one key (single-flight);
      invalidates a URL after a successful unsafe request to it; stores the
      tags the app lists in ``tag_header`` so that endpoints can invalidate
      them with :meth:`sweepcache.Cache.invalidate_tags`.

    Args:
        app: The ASGI app to wrap.
        cache: Where responses are stored; run its sweeper with the app
            (``sweepcache.fastapi.lifespan``). Its own ``default_ttl`` is not
            used.
        max_ttl: Cap on the time a response is stored, in seconds.
        default_ttl: Seconds to store a response that states no freshness
            lifetime; ``None`` (the default) stores only responses that
            state one.
        max_body_size: Largest body stored, in bytes; a longer one streams
            to its client and is not stored.
        cacheable_statuses: Status codes that may be stored.
        user_key: Called with the scope of a request that carries
            credentials (``Authorization`` or ``Cookie``); returns the name of
            that user's partition, or ``None`` to bypass the cache. It must
            *authenticate* (see :func:`credentials_key`): what it returns is
            all that decides who gets a stored response.
        tag_header: Response header listing the response's tags, comma
            separated; removed before the response leaves. ``None``: no tags.
        pass_ttl: Seconds a pass marker lives (0: none).
        honor_request_directives: Obey the request's ``Cache-Control``
            (``False`` ignores it, as many reverse proxies do by default).
        clock: Seconds, never going backwards; decides freshness and ``Age``.
            Pass the cache's :class:`~sweepcache.testing.FakeClock` in tests.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of range.

    Example::

        responses = Cache[ResponseKey, CachedResponse](name="responses")
        app.add_middleware(CacheMiddleware, cache=responses, max_ttl=60)
    """

    __slots__ = (
        "_app",
        "_cache",
        "_clock",
        "_default_ttl",
        "_directives",
        "_max_body_size",
        "_max_ttl",
        "_pass_ttl",
        "_statuses",
        "_tag_header",
        "_user_key",
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: Cache[ResponseKey, CachedResponse],
        max_ttl: float = 300.0,
        default_ttl: float | None = None,
        max_body_size: int = 1 << 20,
        cacheable_statuses: Collection[int] = DEFAULT_CACHEABLE_STATUSES,
        user_key: Callable[[Scope], str | None] | None = None,
        tag_header: str | None = "cache-tag",
        pass_ttl: float = 10.0,
        honor_request_directives: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callable(app):
            raise TypeError(f"app must be an ASGI app (a callable), got {app!r}")
        if not isinstance(cache, Cache):
            raise TypeError(f"cache must be a sweepcache.Cache, got {type(cache).__name__}")
        self._max_ttl = _check_seconds(max_ttl, "max_ttl", zero=False)
        self._default_ttl = (
            None if default_ttl is None else _check_seconds(default_ttl, "default_ttl", zero=False)
        )
        if (
            isinstance(max_body_size, bool)
            or not isinstance(max_body_size, int)
            or max_body_size < 0
        ):
            raise ValueError(f"max_body_size must be an int >= 0, got {max_body_size!r}")
        statuses = frozenset(cacheable_statuses)
        for status in statuses:
            if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
                raise ValueError(
                    f"cacheable_statuses must hold status codes 100-599, got {status!r}"
                )
        if user_key is not None and not callable(user_key):
            raise TypeError(f"user_key must be a callable or None, got {user_key!r}")
        if tag_header is not None and (
            not isinstance(tag_header, str) or not tag_header.isascii() or not tag_header
        ):
            raise ValueError(f"tag_header must be a header name or None, got {tag_header!r}")
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
        self._app = app
        self._cache = cache
        self._max_body_size = max_body_size
        self._statuses = statuses
        self._user_key = user_key
        self._tag_header = None if tag_header is None else tag_header.lower().encode("ascii")
        self._pass_ttl = _check_seconds(pass_ttl, "pass_ttl", zero=True)
        self._directives = bool(honor_request_directives)
        self._clock = clock

    @property
    def cache(self) -> Cache[ResponseKey, CachedResponse]:
        """The cache the responses are stored in."""
        return self._cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope.get("type") != "http":
            await self._app(scope, receive, send)
            return
        method = scope.get("method")
        if method == "GET" or method == "HEAD":
            await self._safe(scope, receive, send, head=method == "HEAD")
        elif method in SAFE_METHODS:
            await self._app(scope, receive, send)
        else:
            await self._unsafe(scope, receive, send)

    # -- GET and HEAD -----------------------------------------------------------

    async def _safe(self, scope: Scope, receive: Receive, send: Send, *, head: bool) -> None:
        request = _Request(scope)
        directives = (
            request_directives(request.cache_control)
            if self._directives and request.cache_control
            else NO_DIRECTIVES
        )
        if directives.no_store or request.ranged:
            await self._pass(scope, receive, send)
            return
        partition = ""
        if request.credentials:
            if self._user_key is None:
                await self._pass(scope, receive, send)
                return
            user = self._user_key(scope)
            if user is None:
                await self._pass(scope, receive, send)
                return
            if not isinstance(user, str):
                raise TypeError(f"user_key must return a str or None, got {type(user).__name__}")
            partition = "user:" + user
        key = ("GET", request.url, partition)
        if head or directives.only_if_cached:
            found = self._lookup_nowait(key, request, directives)
            if found is not None:
                await self._serve(found, request, send, head=head)
            elif directives.only_if_cached:
                await _send_simple(send, 504, b"not in cache (only-if-cached)")
            else:
                await self._pass(scope, receive, send)
            return
        if directives.no_cache:
            self._cache.delete_nowait(key)
        await self._get(scope, receive, send, request, directives, key, partition)

    def _lookup_nowait(
        self, key: ResponseKey, request: _Request, directives: RequestDirectives
    ) -> CachedResponse | None:
        """A usable stored response for ``request``, without loading (HEAD, only-if-cached)."""
        stored = self._cache.get_nowait(key)
        if stored is not None and not self._matches(stored, request):
            stored = self._cache.get_nowait(self._variant_key(key, stored, request))
            if stored is not None and not self._matches(stored, request):
                return None
        if stored is None or stored.passes or not self._acceptable(stored, directives):
            return None
        return stored

    async def _get(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: _Request,
        directives: RequestDirectives,
        key: ResponseKey,
        partition: str,
    ) -> None:
        # At most three rounds: the URL's key, then its Vary variant's key,
        # then once more after dropping an entry too old for this request.
        cache = self._cache
        for _ in range(3):
            flight = _Flight()
            loader = functools.partial(
                self._lead, flight, key, scope, receive, send, request, partition
            )
            if key in cache:
                # The usual hit: get_or_load returns it without awaiting anything
                # (only another thread could remove it in between), so no task
                # group is needed: entering one costs more than the rest of a hit.
                stored = await cache.get_or_load(key, loader, ttl=self._max_ttl, tags=_tags_of)
                if flight.capture is not None:
                    self._retime(key, stored)
            else:
                async with anyio.create_task_group() as task_group:
                    flight.task_group = task_group
                    stored = await cache.get_or_load(key, loader, ttl=self._max_ttl, tags=_tags_of)
                    if flight.capture is not None:
                        # We ran the app; it streams on to our client in the group.
                        self._retime(key, stored)
                    elif not stored.passes and cache.get_nowait(key) is not stored:
                        # We waited on another request's load whose result was not
                        # stored: its URL or one of its tags was invalidated while it
                        # ran. A request that joined that load after the invalidation
                        # must not get what it read before, and which ones did is not
                        # known (the core keeps a load whose tags come from its value
                        # open to new callers after such an invalidation): go alone.
                        # (This extra read is counted in the cache's statistics.)
                        stored = self._pass_marker(request)
            if flight.capture is not None:
                if flight.capture.error is not None:
                    raise flight.capture.error
                return
            if stored.passes:
                break
            if not self._matches(stored, request):
                if len(key) == 3 and stored.vary:
                    key = self._variant_key(key, stored, request)
                    continue
                break  # a collapsed request whose Vary headers differ: go alone
            if not self._acceptable(stored, directives):
                cache.delete_nowait(key)
                continue
            await self._serve(stored, request, send, head=False)
            return
        await self._pass(scope, receive, send)

    def _retime(self, key: ResponseKey, stored: CachedResponse) -> None:
        """Give the entry just stored (for ``max_ttl``) its own ttl (the cache's is best effort)."""
        self._cache.expire_nowait(key, self._pass_ttl if stored.passes else stored.ttl)

    async def _lead(
        self,
        flight: _Flight,
        key: ResponseKey,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: _Request,
        partition: str,
    ) -> CachedResponse:
        """The loader: start the app in the leader's group; return once the outcome is known."""
        capture = flight.capture = _Capture(self, request, partition, send)
        app_scope = dict(scope)
        # The app gets an unconditional request so that a full response can
        # be stored; the client's own conditions are answered from it.
        app_scope["headers"] = [h for h in request.headers if h[0] not in _CONDITIONAL]
        if flight.task_group is None:
            # Only when another thread removed the entry between our check and
            # get_or_load: run the app here; waiters wait for all of it.
            await self._run_app(app_scope, receive, capture)
        else:
            flight.task_group.start_soon(self._run_app, app_scope, receive, capture)
            await capture.decided.wait()
        result = capture.result
        assert result is not None
        if result.passes and self._pass_ttl == 0:
            # Detach this load: the waiters get the marker, nothing is stored.
            self._cache.delete_nowait(key)
        return result

    async def _run_app(self, scope: Scope, receive: Receive, capture: _Capture) -> None:
        try:
            await self._app(scope, receive, capture.send)
        except Exception as exc:
            # Re-raised by the leader once its group is done, not by the group
            # (which would wrap it in an ExceptionGroup).
            capture.error = exc
        finally:
            if capture.result is None:  # the app ended without a complete response
                capture.pass_marker()

    def _pass_marker(self, request: _Request) -> CachedResponse:
        return CachedResponse(
            status=0,
            headers=(),
            body=b"",
            tags=frozenset((url_tag(request.path),)),
            ttl=self._pass_ttl,
            stored_at=self._clock(),
            passes=True,
        )

    @staticmethod
    def _matches(stored: CachedResponse, request: _Request) -> bool:
        """Whether the request's Vary headers equal those that produced ``stored``."""
        return not stored.vary or (
            request_vary_values(request.headers, stored.vary) == stored.vary_values
        )

    @staticmethod
    def _variant_key(key: ResponseKey, stored: CachedResponse, request: _Request) -> ResponseKey:
        values = request_vary_values(request.headers, stored.vary)
        return key[:3] + tuple(
            f"{name}:{value}" for name, value in zip(stored.vary, values, strict=True)
        )

    def _age(self, stored: CachedResponse) -> float:
        return stored.initial_age + max(0.0, self._clock() - stored.stored_at)

    def _acceptable(self, stored: CachedResponse, directives: RequestDirectives) -> bool:
        """Fresh, and as fresh as the request asks (``max-age``, ``min-fresh``)."""
        resident = self._clock() - stored.stored_at
        if resident >= stored.ttl:
            return False  # the entry outlived its freshness (the cache's ttl is best effort)
        if directives.max_age is not None and stored.initial_age + resident > directives.max_age:
            return False
        return directives.min_fresh is None or stored.ttl - resident >= directives.min_fresh

    async def _serve(
        self, stored: CachedResponse, request: _Request, send: Send, *, head: bool
    ) -> None:
        age = (b"age", b"%d" % int(self._age(stored)))
        if stored.status == 200 and _not_modified(request.headers, stored.headers):
            headers = [h for h in stored.headers if h[0] in NOT_MODIFIED_HEADERS]
            await send(
                {"type": "http.response.start", "status": 304, "headers": [*headers, age, _HIT]}
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {
                "type": "http.response.start",
                "status": stored.status,
                "headers": [*stored.headers, age, _HIT],
            }
        )
        await send({"type": "http.response.body", "body": b"" if head else stored.body})

    async def _pass(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app for this request alone: nothing looked up, nothing stored."""

        async def send_marked(message: Message) -> None:
            if message.get("type") == "http.response.start":
                headers = list(cast("Headers", message.get("headers") or ()))
                _, client_headers, _ = self._split_headers(headers)
                client_headers.append(_MISS)
                message = {**message, "headers": client_headers}
            await send(message)

        await self._app(scope, receive, send_marked)

    def _split_headers(
        self, headers: list[tuple[bytes, bytes]]
    ) -> tuple[list[str], list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
        """The tags, the headers for the client and the headers to store."""
        tags: list[str] = []
        client: list[tuple[bytes, bytes]] = []
        stored: list[tuple[bytes, bytes]] = []
        tag_header = self._tag_header
        for header in headers:
            name = header[0]
            if name == tag_header:
                listed = header[1].decode("latin-1").split(",")
                tags.extend(tag for tag in map(str.strip, listed) if tag)
                continue
            if name == b"x-cache" or name == b"age":
                continue
            client.append(header)
            if name not in _NOT_STORED:
                stored.append(header)
        return tags, client, stored

    # -- unsafe methods ---------------------------------------------------------

    async def _unsafe(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Invalidate the target (RFC 9111 §4.4) once the app answers without an error."""
        target = _target(scope)

        async def send_invalidating(message: Message) -> None:
            if message.get("type") == "http.response.start":
                headers = list(cast("Headers", message.get("headers") or ()))
                status = message.get("status", 200)
                if isinstance(status, int) and 200 <= status < 400:
                    tags = {url_tag(target)}
                    for name, value in headers:
                        if name == b"location" or name == b"content-location":
                            other = _same_origin_target(value, scope)
                            if other is not None:
                                tags.add(url_tag(other))
                    await self._cache.invalidate_tags(*tags)
                _, client_headers, _ = self._split_headers(headers)
                message = {**message, "headers": client_headers}
            await send(message)

        await self._app(scope, receive, send_invalidating)


def _same_origin_target(value: bytes, scope: Scope) -> str | None:
    """Path and query of a ``Location`` value on the request's own host, else ``None``."""
    try:
        parts = urlsplit(value.decode("latin-1").strip())
    except ValueError:
        return None
    if parts.netloc:
        host = b""
        for name, header in _headers_of(scope):
            if name == b"host":
                host = header
                break
        if parts.netloc.lower() != host.decode("latin-1").lower():
            return None
    if not parts.path.startswith("/"):
        return None
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def _send_simple(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"%d" % len(body)),
                _MISS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
