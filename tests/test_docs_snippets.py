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


async def test_testing_override() -> None:
    module = snippet("testing_override")
    await module.test_the_item_is_reloaded_after_its_ttl()


def test_snippets_import_without_side_effects() -> None:
    """Importing a snippet starts nothing: no server, no task (they are run explicitly)."""
    for name in ("fastapi_app", "starlette_app", "plain_asgi", "trio_hypercorn"):
        module = snippet(name)
        assert module.__doc__
