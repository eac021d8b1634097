"""The integration guide's snippets (``docs/snippets``) do what the guide says.

The guide shows each file whole, so a snippet that stops working fails here.
Real servers (uvicorn, Hypercorn on trio) run them in ``test_asgi_servers.py``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from snippets import SNIPPETS, snippet

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def client_of(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def test_every_snippet_is_tested_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    for path in SNIPPETS.glob("*.py"):
        assert f'snippet("{path.stem}")' in source, path.name


async def test_fastapi_app() -> None:
    module = snippet("fastapi_app")
    app = module.create_app()
    async with client_of(app) as client:
        first = await client.get("/items")
        second = await client.get("/items")
        assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
        assert "cache-tag" not in second.headers
        assert (await client.get("/items/1")).json() == {"id": 1, "name": "kettle"}
        assert 1 in app.state.items
        assert (await client.get("/items/9")).status_code == 404
        renamed = {"id": 1, "name": "whistling kettle"}
        assert (await client.put("/items/1", json=renamed)).status_code == 200
        assert (await client.get("/items/1")).json() == renamed
        listed = await client.get("/items")
        assert listed.headers["x-cache"] == "MISS"
        assert renamed in listed.json()
        alice = await client.get("/me", headers={"authorization": "alice"})
        bob = await client.get("/me", headers={"authorization": "bob"})
        again = await client.get("/me", headers={"authorization": "alice"})
        assert (alice.json(), bob.json()) == ({"user": "alice"}, {"user": "bob"})
        assert again.headers["x-cache"] == "HIT"
    module.DATABASE[1] = module.Item(id=1, name="kettle")


async def test_starlette_app() -> None:
    module = snippet("starlette_app")
    async with client_of(module.app) as client:
        french = [await client.get("/", headers={"accept-language": "fr"}) for _ in range(2)]
        conditional = await client.get("/", headers={"if-none-match": '"v1"'})
    assert [r.headers["x-cache"] for r in french] == ["MISS", "HIT"]
    assert conditional.status_code == 304


async def test_plain_asgi() -> None:
    module = snippet("plain_asgi")
    transport = httpx.ASGITransport(app=module.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        responses = [await client.get("/") for _ in range(2)]
    assert [r.text for r in responses] == ["hello", "hello"]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT"]
    assert callable(module.main)


def test_trio_hypercorn_app_through_asgi() -> None:
    module = snippet("trio_hypercorn")

    async def main() -> list[httpx.Response]:
        async with client_of(module.app) as client:
            return [await client.get("/hello/ada") for _ in range(2)]

    first, second = anyio.run(main, backend="trio")  # its loader calls trio.sleep
    assert first.json() == {"greeting": "Hello, ada!", "loop": "trio"}
    assert second.headers["x-cache"] == "HIT"


async def test_lifespan_compose() -> None:
    module = snippet("lifespan_compose")
    async with module.app.router.lifespan_context(module.app) as state:
        assert state == {"database": module.database}
        assert module.database.connected
        assert module.app.state.sessions is module.sessions
    assert not module.database.connected
    async with module.other_app.router.lifespan_context(module.other_app):
        assert module.database.connected
    assert not module.database.connected


async def test_fastapi_cache2_switch() -> None:
    from fastapi_cache import FastAPICache

    module = snippet("fastapi_cache2_switch")
    module.setup()
    try:
        async with client_of(module.app) as client:
            first = await client.get("/users/1")
            second = await client.get("/users/1")
            assert [first.headers["x-fastapi-cache"], second.headers["x-fastapi-cache"]] == [
                "MISS",
                "HIT",
            ]
            assert await module.forget_users() == 1
            assert (await client.get("/users/1")).headers["x-fastapi-cache"] == "MISS"
    finally:
        FastAPICache.reset()


async def test_user_key_signed(clock: Any) -> None:
    from sweepcache import Cache
    from sweepcache.asgi import CachedResponse, CacheMiddleware, ResponseKey

    module = snippet("user_key_signed")
    calls: list[str] = []

    async def page(scope: Any, receive: Any, send: Any) -> None:
        user = module.user_of(scope) or "nobody"
        calls.append(user)
        headers = [(b"cache-control", b"private, max-age=60")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": f"page of {user}".encode()})

    responses = Cache[ResponseKey, CachedResponse](clock=clock)
    app = CacheMiddleware(page, cache=responses, user_key=module.user_of, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def get(cookie: str) -> httpx.Response:
            return await client.get("/me", headers={"cookie": cookie})

        ada = [await get(f"session={module.sign('ada')}") for _ in range(2)]
        forged = await get("session=ada.0000")
        other_session = await get(f"theme=dark; session={module.sign('ada')}")
        bob = await get(f"session={module.sign('bob')}")
    assert [r.text for r in ada] == ["page of ada", "page of ada"]
    assert ada[1].headers["x-cache"] == "HIT"
    assert (forged.text, forged.headers["x-cache"]) == ("page of nobody", "MISS")
    assert other_session.headers["x-cache"] == "HIT"  # same user, other cookies
    assert bob.text == "page of bob"
    assert calls == ["ada", "nobody", "bob"]


async def test_testing_override() -> None:
    module = snippet("testing_override")
    await module.test_the_item_is_reloaded_after_its_ttl()


def test_snippets_import_without_side_effects() -> None:
    """Importing a snippet starts nothing: no server, no task (they are run explicitly)."""
    for name in ("fastapi_app", "starlette_app", "plain_asgi", "trio_hypercorn"):
        module = snippet(name)
        assert module.__doc__
