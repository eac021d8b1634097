"""A FastAPI app that caches users and serves the cache statistics at ``/metrics``.

Run it with ``uvicorn fastapi_metrics:app`` and scrape ``http://127.0.0.1:8000/metrics``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from sweepcache import Cache
from sweepcache.metrics.prometheus import CacheCollector

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# Caches are module singletons, built with statistics on and a name each.
users: Cache[int, dict[str, str]] = Cache(default_ttl=300.0, record_stats=True, name="users")
sessions: Cache[str, int] = Cache(default_ttl=1800.0, record_stats=True, name="sessions")

# One collector for all the caches. A registry of our own keeps this example
# self-contained; an app that already exposes prometheus_client's default
# registry registers the collector there instead: REGISTRY.register(...).
registry = CollectorRegistry()
registry.register(CacheCollector(users, sessions))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with users, sessions:  # their sweepers run while the app does
        yield


app = FastAPI(lifespan=lifespan)


async def load_user(user_id: int) -> dict[str, str]:
    return {"id": str(user_id), "name": f"user {user_id}"}  # a database query, in real life


@app.get("/users/{user_id}")
async def get_user(user_id: int) -> dict[str, str]:
    return await users.get_or_load(user_id, partial(load_user, user_id))


@app.get("/metrics")
def metrics(request: Request) -> Response:
    # Prometheus' text format, or OpenMetrics when the scraper asks for it.
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), media_type=content_type)
