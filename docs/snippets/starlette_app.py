"""Starlette: the response cache as middleware, the sweeper in the lifespan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from sweepcache import Cache
from sweepcache.asgi import CachedResponse, CacheMiddleware, ResponseKey
from sweepcache.fastapi import lifespan

if TYPE_CHECKING:
    from starlette.requests import Request

responses = Cache[ResponseKey, CachedResponse](name="responses")


async def homepage(request: Request) -> JSONResponse:
    return JSONResponse(
        {"hello": "world"},
        headers={"Cache-Control": "max-age=60", "ETag": '"v1"', "Vary": "Accept-Language"},
    )


app = Starlette(
    routes=[Route("/", homepage)],
    middleware=[Middleware(CacheMiddleware, cache=responses, max_ttl=300)],
    lifespan=lifespan(responses),
)
