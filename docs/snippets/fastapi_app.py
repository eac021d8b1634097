"""A FastAPI service with sweepcache: an object cache, the response cache, invalidation.

Run it with ``uvicorn fastapi_app:app`` (from this folder).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from pydantic import BaseModel

from sweepcache import Cache
from sweepcache.asgi import CachedResponse, CacheMiddleware, ResponseKey, credentials_key
from sweepcache.fastapi import CacheDependency, lifespan


class Item(BaseModel):
    id: int
    name: str


#: A stand-in for the database.
DATABASE: dict[int, Item] = {1: Item(id=1, name="kettle"), 2: Item(id=2, name="teapot")}

# Typed dependencies: each reads the cache that lifespan() put on app.state.
items_cache = CacheDependency[int, Item]("items")
responses_cache = CacheDependency[ResponseKey, CachedResponse]("responses")
Items = Annotated[Cache[int, Item], Depends(items_cache)]
Responses = Annotated[Cache[ResponseKey, CachedResponse], Depends(responses_cache)]


def create_app() -> FastAPI:
    items = Cache[int, Item](default_ttl=300, name="items")
    responses = Cache[ResponseKey, CachedResponse](name="responses")
    # lifespan() runs both caches' sweepers and sets them on app.state.
    app = FastAPI(lifespan=lifespan(items=items, responses=responses))
    # Responses with Cache-Control: max-age are stored (60 s at most); requests
    # with credentials get a partition of their own.
    app.add_middleware(CacheMiddleware, cache=responses, max_ttl=60, user_key=credentials_key)

    @app.get("/items")
    async def list_items(response: Response) -> list[Item]:
        response.headers["Cache-Control"] = "max-age=30"
        response.headers["Cache-Tag"] = "items"  # stored with the response, not sent
        return list(DATABASE.values())

    @app.get("/items/{item_id}")
    async def get_item(item_id: int, cache: Items) -> Item:
        async def load() -> Item:  # runs once for any number of concurrent misses
            item = DATABASE.get(item_id)
            if item is None:
                raise HTTPException(404, "no such item")
            return item

        return await cache.get_or_load(item_id, load, tags=[f"item:{item_id}"])

    @app.put("/items/{item_id}")
    async def put_item(item_id: int, item: Item, cache: Items, responses: Responses) -> Item:
        DATABASE[item_id] = item
        await cache.invalidate_tags(f"item:{item_id}")
        await responses.invalidate_tags("items")  # the list; PUT /items/{id} drops its own URL
        return item

    @app.get("/me")
    async def me(request: Request, response: Response) -> dict[str, str]:
        # Per user: stored in the partition of the caller's credentials only.
        response.headers["Cache-Control"] = "private, max-age=60"
        return {"user": request.headers.get("authorization", "anonymous")}

    return app


app = create_app()
