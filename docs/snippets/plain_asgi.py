"""Any ASGI 3 app: wrap it, and run the cache's sweeper beside the server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweepcache import Cache
from sweepcache.asgi import CachedResponse, CacheMiddleware, ResponseKey

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    Scope = MutableMapping[str, object]
    Message = MutableMapping[str, object]


async def hello(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    assert scope["type"] == "http"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"cache-control", b"max-age=10")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


responses = Cache[ResponseKey, CachedResponse](name="responses")
app = CacheMiddleware(hello, cache=responses)


async def main() -> None:
    """Serve with Hypercorn (asyncio or trio) while the sweeper runs."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = ["127.0.0.1:8000"]
    async with responses:  # starts the sweeper; stops it when the server stops
        await serve(app, config)  # type: ignore[arg-type]
