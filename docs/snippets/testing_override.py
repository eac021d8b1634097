"""Testing an endpoint that caches: hand it a cache on a FakeClock, move time by hand."""

from __future__ import annotations

import httpx
import pytest
from fastapi_app import Item, create_app, items_cache

from sweepcache import Cache
from sweepcache.testing import FakeClock


@pytest.mark.anyio
async def test_the_item_is_reloaded_after_its_ttl() -> None:
    app = create_app()
    clock = FakeClock()
    cache = Cache[int, Item](clock=clock)
    app.dependency_overrides[items_cache] = lambda: cache  # instead of app.state.items

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/items/1")).json()["name"] == "kettle"
        assert 1 in cache
        clock.advance(300)  # the cache's default_ttl: expired, without sleeping
        assert 1 not in cache
