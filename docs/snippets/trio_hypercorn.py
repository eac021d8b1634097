"""FastAPI on trio, served by Hypercorn: nothing in sweepcache is asyncio-only.

Run it with ``python trio_hypercorn.py``.
"""

from __future__ import annotations

from typing import Annotated

import trio
from fastapi import Depends, FastAPI, Response
from hypercorn.config import Config
from hypercorn.trio import serve

from sweepcache import Cache
from sweepcache.asgi import CachedResponse, CacheMiddleware, ResponseKey
from sweepcache.fastapi import CacheDependency, lifespan

greetings = CacheDependency[str, str]("greetings")
app = FastAPI(
    lifespan=lifespan(
        greetings=Cache[str, str](default_ttl=60),
        responses=(responses := Cache[ResponseKey, CachedResponse]()),
    )
)
app.add_middleware(CacheMiddleware, cache=responses)


@app.get("/hello/{name}")
async def hello(
    name: str, response: Response, cache: Annotated[Cache[str, str], Depends(greetings)]
) -> dict[str, str]:
    async def load() -> str:
        await trio.sleep(0.01)  # trio's own sleep: this runs on trio
        return f"Hello, {name}!"

    response.headers["Cache-Control"] = "max-age=30"
    return {"greeting": await cache.get_or_load(name, load), "loop": "trio"}


async def main() -> None:
    config = Config()
    config.bind = ["127.0.0.1:8000"]
    await serve(app, config)  # type: ignore[arg-type]


if __name__ == "__main__":
    trio.run(main)
