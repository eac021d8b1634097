"""A scriptable ASGI origin for the response-cache tests, and a client in front of it."""

from __future__ import annotations

import collections
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx

from sweepcache import Cache
from sweepcache.asgi import CachedResponse, CacheMiddleware, ResponseKey

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    import anyio

    from sweepcache.testing import FakeClock

Scope = Any  # the tests read and build scopes freely


class Reply:
    """What a route answers: status, headers and body chunks; the body names the call."""

    def __init__(
        self,
        status: int = 200,
        headers: Sequence[tuple[str, str]] = (("cache-control", "max-age=60"),),
        chunks: Sequence[bytes] | None = None,
        *,
        gate: anyio.Event | None = None,
        started: anyio.Event | None = None,
        per_user: bool = False,
    ) -> None:
        self.status = status
        self.headers = headers
        self.chunks = chunks
        #: If set, the body is held back until the event is set.
        self.gate = gate
        #: Set once the response has started (headers sent).
        self.started = started
        #: Put the request's Authorization in the body.
        self.per_user = per_user


class Origin:
    """An ASGI app whose routes answer scripted ``Reply``s and count their calls.

    The body of a reply without explicit chunks is ``"<path> #<n>"``, ``n``
    being the route's call count, so a test tells a stored response from a
    fresh one by its body.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.calls: collections.Counter[str] = collections.Counter()
        self.requests: list[Scope] = []
        self.fail: dict[str, Exception] = {}

    def route(self, path: str, reply: Reply | None = None, **options: Any) -> Reply:
        self.routes[path] = reply if reply is not None else Reply(**options)
        return self.routes[path]

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        self.calls[path] += 1
        self.requests.append(scope)
        if path in self.fail:
            raise self.fail[path]
        reply = self.routes.get(path, Reply())
        chunks = reply.chunks
        if chunks is None:
            body = f"{path} #{self.calls[path]}"
            if reply.per_user:
                sent = dict(scope["headers"])
                body += " for " + sent.get(b"authorization", b"nobody").decode()
            chunks = [body.encode()]
        headers = [(k.encode(), v.encode()) for k, v in reply.headers]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if reply.started is not None:
            reply.started.set()
        if reply.gate is not None:
            await reply.gate.wait()
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
        if not chunks:
            await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def cached_client(
    origin: Origin, clock: FakeClock, **options: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Cache[ResponseKey, CachedResponse]]]:
    """An httpx client talking to ``origin`` through a ``CacheMiddleware``."""
    responses = Cache[ResponseKey, CachedResponse](clock=clock, record_stats=True)
    app = CacheMiddleware(origin, cache=responses, clock=clock, **options)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, responses
