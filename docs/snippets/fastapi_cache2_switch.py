"""fastapi-cache2's ``@cache`` decorator, with sweepcache as its backend."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_cache import FastAPICache
from fastapi_cache.decorator import cache

from sweepcache.fastapi import FastAPICacheBackend, lifespan

backend = FastAPICacheBackend()  # was: InMemoryBackend() or RedisBackend(redis)
app = FastAPI(lifespan=lifespan(backend))  # runs its sweeper


@app.get("/users/{user_id}")
@cache(expire=60, namespace="users")  # unchanged
async def get_user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


def setup() -> None:
    FastAPICache.init(backend, prefix="api")  # at startup, as before


async def forget_users() -> int:
    return await FastAPICache.clear(namespace="users")  # exactly the "users" keys
