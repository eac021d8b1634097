"""End to end over real sockets: uvicorn (asyncio, uvloop) and Hypercorn (trio) on 127.0.0.1.

The apps are the integration guide's snippets; a real HTTP client (httpx)
talks to a real server, so what the guide shows works in a real process:
the lifespan runs the sweepers, the response cache answers with ``X-Cache``
and ``Age`` next to the server's own headers, concurrent misses over
separate connections run the endpoint once, and writes invalidate.
"""

from __future__ import annotations

import socket
from typing import Any

import anyio
import httpx
import pytest

from snippets import snippet

ASYNCIO_BACKENDS = [pytest.param({}, id="asyncio")]
try:
    import uvloop  # noqa: F401 - only its presence matters
except ImportError:  # pragma: no cover
    pass
else:
    ASYNCIO_BACKENDS.append(pytest.param({"use_uvloop": True}, id="asyncio+uvloop"))


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


async def exercise_fastapi_app(client: httpx.AsyncClient) -> None:
    """What the guide's FastAPI app promises, checked over the network."""
    first = await client.get("/items")
    second = await client.get("/items")
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.json() == first.json()
    assert "age" in second.headers
    assert "date" in second.headers  # the server's own headers still come

    # Concurrent misses, each on its own connection: the endpoint runs once.
    results: list[httpx.Response] = []

    async def fetch() -> None:
        results.append(await client.get("/items?page=2"))

    async with anyio.create_task_group() as tg:
        for _ in range(16):
            tg.start_soon(fetch)
    assert sorted(r.headers["x-cache"] for r in results) == ["HIT"] * 15 + ["MISS"]

    renamed = {"id": 2, "name": "brown betty"}
    assert (await client.put("/items/2", json=renamed)).status_code == 200
    assert (await client.get("/items/2")).json() == renamed
    listed = await client.get("/items")
    assert listed.headers["x-cache"] == "MISS"
    assert renamed in listed.json()

    alice = await client.get("/me", headers={"authorization": "alice"})
    bob = await client.get("/me", headers={"authorization": "bob"})
    assert (alice.json(), bob.json()) == ({"user": "alice"}, {"user": "bob"})


@pytest.mark.parametrize("options", ASYNCIO_BACKENDS)
def test_uvicorn(options: dict[str, Any]) -> None:
    import uvicorn

    module = snippet("fastapi_app")
    app = module.create_app()

    async def main() -> None:
        sock = listening_socket()
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, lifespan="on", log_level="warning", http="h11", ws="none")
        server = uvicorn.Server(config)
        with sock:
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve, [sock])
                with anyio.fail_after(20):
                    while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
                        await anyio.sleep(0.01)
                assert app.state.items.name == "items"  # the lifespan ran
                limits = httpx.Limits(max_connections=32)
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", limits=limits
                ) as client:
                    await exercise_fastapi_app(client)
                server.should_exit = True
        assert not hasattr(app.state, "items")  # and stopped the caches at shutdown

    anyio.run(main, backend="asyncio", backend_options=options)


def test_hypercorn_on_trio() -> None:
    from hypercorn.config import Config
    from hypercorn.trio import serve

    module = snippet("trio_hypercorn")

    async def main() -> None:
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            binds = await tg.start(
                lambda task_status: serve(
                    module.app, config, shutdown_trigger=stop.wait, task_status=task_status
                )
            )
            async with httpx.AsyncClient(base_url=binds[0]) as client:
                responses = [await client.get("/hello/ada") for _ in range(2)]
                concurrent: list[httpx.Response] = []

                async def fetch() -> None:
                    concurrent.append(await client.get("/hello/grace"))

                async with anyio.create_task_group() as clients:
                    for _ in range(8):
                        clients.start_soon(fetch)
            stop.set()
        assert responses[0].json() == {"greeting": "Hello, ada!", "loop": "trio"}
        assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT"]
        assert sorted(r.headers["x-cache"] for r in concurrent) == ["HIT"] * 7 + ["MISS"]

    anyio.run(main, backend="trio")
