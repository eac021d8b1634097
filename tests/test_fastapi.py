"""``sweepcache.fastapi``: the lifespan helper, ``running`` and ``CacheDependency``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import anyio
import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from starlette.applications import Starlette

from sweepcache import Cache
from sweepcache.fastapi import CacheDependency, lifespan, running
from sweepcache.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, MutableMapping
    from types import TracebackType

    from anyio.abc import TaskStatus

pytestmark = pytest.mark.anyio


class Tier:
    """A stand-in for a cache tier: a ``run(task_status=...)`` method, recorded."""

    def __init__(self, log: list[str], name: str) -> None:
        self.log = log
        self.name = name

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> NoReturn:
        self.log.append(f"{self.name} started")
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            self.log.append(f"{self.name} stopped")
        raise AssertionError("unreachable")


class Resource:
    """An async context manager, recorded."""

    def __init__(self, log: list[str], name: str, *, fail: bool = False) -> None:
        self.log = log
        self.name = name
        self.fail = fail

    async def __aenter__(self) -> Resource:
        if self.fail:
            raise OSError(f"{self.name} cannot start")
        self.log.append(f"{self.name} entered")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.log.append(f"{self.name} exited")


async def test_running_sweeps_until_the_block_ends() -> None:
    clock = FakeClock()
    removed = anyio.Event()
    cache = Cache[str, int](
        clock=clock, sweep_interval=0.001, on_removal=lambda key, value, cause: removed.set()
    )
    cache.set_nowait("k", 1, ttl=1)
    async with running(cache):
        clock.advance(2)
        with anyio.fail_after(10):  # waits for the sweeper, not for expiry
            await removed.wait()
        assert len(cache) == 0
    # Stopped: nothing sweeps any more (the entry stays until read or swept).
    cache.set_nowait("j", 1, ttl=1)
    clock.advance(2)
    await anyio.sleep(0.02)
    assert len(cache) == 1


async def test_running_starts_in_order_and_stops_in_reverse() -> None:
    log: list[str] = []
    async with running(Resource(log, "a"), Tier(log, "tier"), Resource(log, "b")):
        log.append("body")
    assert log[:4] == ["a entered", "tier started", "b entered", "body"]
    assert log[4] == "b exited"
    assert set(log[5:]) == {"tier stopped", "a exited"}


async def test_running_stops_what_started_when_one_fails_to_start() -> None:
    log: list[str] = []
    with pytest.raises(OSError, match="b cannot start"):
        async with running(Resource(log, "a"), Tier(log, "tier"), Resource(log, "b", fail=True)):
            pytest.fail("the body must not run")  # pragma: no cover
    assert set(log) == {"a entered", "tier started", "tier stopped", "a exited"}


async def test_running_lets_the_body_exception_through_unwrapped() -> None:
    cache = Cache[str, int]()
    with pytest.raises(KeyError, match="boom"):
        async with running(cache, Tier([], "tier")):
            raise KeyError("boom")


async def test_running_is_cancellable() -> None:
    log: list[str] = []
    with anyio.move_on_after(0.01):
        async with running(Tier(log, "tier")):
            await anyio.sleep_forever()
    assert log == ["tier started", "tier stopped"]


async def test_running_cannot_be_entered_twice() -> None:
    both = running(Cache[str, int]())
    async with both:
        with pytest.raises(RuntimeError, match="already entered"):
            await both.__aenter__()
    async with running() as nothing:  # nothing to run is fine
        assert nothing is None


@pytest.mark.parametrize("bad", [42, "cache", Cache, object()])
def test_running_and_lifespan_reject_what_cannot_run(bad: object) -> None:
    with pytest.raises(TypeError, match=r"caches\[1\] must be a cache"):
        running(Cache[str, int](), bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"caches\[0\] must be a cache"):
        lifespan(bad)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="users must be a cache"):
        lifespan(users=bad)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="wraps must be a lifespan"):
        lifespan(wraps=42)  # type: ignore[call-overload]


async def test_lifespan_runs_caches_and_sets_the_named_ones_on_app_state() -> None:
    log: list[str] = []
    users = Cache[int, str](name="users")
    anonymous = Tier(log, "tier")
    app = FastAPI(lifespan=lifespan(anonymous, users=users))
    async with app.router.lifespan_context(app) as state:
        assert state is None
        assert app.state.users is users
        assert log == ["tier started"]
    assert log == ["tier started", "tier stopped"]
    assert not hasattr(app.state, "users")


async def test_lifespan_wraps_an_existing_lifespan_inside_the_running_caches() -> None:
    log: list[str] = []

    @asynccontextmanager
    async def own(app: Starlette) -> AsyncIterator[Mapping[str, object]]:
        log.append(f"own startup sees {app.state.users.name}")
        yield {"db": "connection"}
        log.append("own shutdown")

    named = Cache[int, str](name="u")
    app = Starlette(lifespan=lifespan(Tier(log, "tier"), users=named, wraps=own))
    async with app.router.lifespan_context(app) as state:
        assert state == {"db": "connection"}
        log.append("serving")
    assert log == ["tier started", "own startup sees u", "serving", "own shutdown", "tier stopped"]


async def test_lifespan_through_the_asgi_protocol() -> None:
    """The server side: ``lifespan.startup`` / ``lifespan.shutdown`` messages."""
    log: list[str] = []
    app = FastAPI(lifespan=lifespan(Tier(log, "tier")))
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []
    stepped = anyio.Event()

    async def receive() -> dict[str, Any]:
        if len(sent) == 1:
            await stepped.wait()
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))
        if message["type"] == "lifespan.startup.complete":
            assert log == ["tier started"]
            stepped.set()

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log == ["tier started", "tier stopped"]


# -- CacheDependency ------------------------------------------------------------

users = Cache[int, dict[str, Any]](default_ttl=300, name="users")
users_cache = CacheDependency[int, dict[str, Any]]("users")
UsersCache = Annotated[Cache[int, dict[str, Any]], Depends(users_cache)]
loads: list[int] = []


async def load_user(user_id: int) -> dict[str, Any]:
    loads.append(user_id)
    return {"id": user_id, "name": f"user {user_id}"}


def build_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan(users=users))

    @app.get("/users/{user_id}")
    async def get_user(user_id: int, cache: UsersCache) -> dict[str, Any]:
        return await cache.get_or_load(user_id, lambda: load_user(user_id), ttl=60)

    @app.websocket("/ws")
    async def socket(websocket: WebSocket, cache: UsersCache) -> None:
        await websocket.accept()
        await websocket.send_json({"name": cache.name})
        await websocket.close()

    return app


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


async def test_dependency_hands_the_endpoint_the_app_state_cache() -> None:
    app = build_app()
    loads.clear()
    users.clear_nowait()
    async with client_of(app) as client:
        for _ in range(3):
            response = await client.get("/users/7")
            assert response.json() == {"id": 7, "name": "user 7"}
    assert loads == [7]
    assert 7 in users


async def test_test_override_recipe_with_a_fake_clock() -> None:
    """The recipe from the FastAPI guide: a cache on a FakeClock for one test."""
    app = build_app()
    clock = FakeClock()
    test_cache = Cache[int, dict[str, Any]](clock=clock)
    app.dependency_overrides[users_cache] = lambda: test_cache
    loads.clear()
    try:
        async with client_of(app) as client:
            await client.get("/users/1")
            await client.get("/users/1")
            assert loads == [1]
            clock.advance(60)  # the endpoint's ttl: expired without sleeping
            await client.get("/users/1")
            assert loads == [1, 1]
    finally:
        app.dependency_overrides.clear()
    assert 1 not in users  # the real cache was never touched


async def test_dependency_works_for_websockets() -> None:
    app = build_app()
    incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "server": ("test", 80),
        "client": ("client", 1234),
        "subprotocols": [],
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert json.loads(sent[1]["text"]) == {"name": "users"}


async def test_dependency_without_the_cache_on_app_state_names_it() -> None:
    app = FastAPI()  # no lifespan: nothing on app.state

    @app.get("/users/{user_id}")
    async def get_user(user_id: int, cache: UsersCache) -> None:
        pytest.fail("must not run")  # pragma: no cover

    app.state.users = {"not": "a cache"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match=r"app.state.users holds a dict, not a sweepcache"):
            await client.get("/users/1")
        del app.state.users
        with pytest.raises(RuntimeError, match=r"holds nothing.*lifespan\(users=\.\.\.\)"):
            await client.get("/users/1")


@pytest.mark.parametrize("name", ["", "has space", "1st", 3, None])
def test_dependency_name_must_be_an_identifier(name: object) -> None:
    with pytest.raises(ValueError, match="name must be an identifier"):
        CacheDependency(name)  # type: ignore[arg-type]
    assert repr(CacheDependency("users")) == "CacheDependency('users')"
    assert CacheDependency("users").name == "users"


# -- optional dependencies --------------------------------------------------------


def run_without(modules: list[str], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where importing ``modules`` fails."""
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in modules)
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_starlette_the_import_error_names_the_extra() -> None:
    done = run_without(["starlette"], "import sweepcache.fastapi")
    assert done.returncode != 0
    assert "pip install 'sweepcache[fastapi]'" in done.stderr


def test_without_fastapi_cache2_only_the_backend_is_missing() -> None:
    done = run_without(
        ["fastapi_cache", "fastapi_cache.backends"],
        """
        import sweepcache.fastapi as web
        assert web.lifespan and web.CacheDependency
        try:
            web.FastAPICacheBackend
        except ImportError as exc:
            print(exc)
        """,
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'sweepcache[fastapi-cache2]'" in done.stdout


def test_sweepcache_alone_imports_no_integration() -> None:
    done = run_without(
        [],
        """
        import sys
        import sweepcache, sweepcache.compat, sweepcache.testing
        loaded = [m for m in ("starlette", "fastapi", "sweepcache.asgi", "sweepcache.fastapi")
                  if m in sys.modules]
        assert not loaded, loaded
        """,
    )
    assert done.returncode == 0, done.stderr
