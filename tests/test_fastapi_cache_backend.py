"""``FastAPICacheBackend`` behind fastapi-cache2's own ``@cache`` decorator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi_cache import FastAPICache
from fastapi_cache.backends.inmemory import InMemoryBackend
from fastapi_cache.decorator import cache

from sweepcache import Cache
from sweepcache.fastapi import FastAPICacheBackend, lifespan
from sweepcache.fastapi._backend import _namespaces

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def backend(clock: FakeClock) -> Iterator[FastAPICacheBackend]:
    """A backend on the fake clock, installed in fastapi-cache2 (and removed after)."""
    backend = FastAPICacheBackend(Cache[str, bytes](clock=clock, default_ttl=60))
    FastAPICache.init(backend, prefix="api")
    yield backend
    FastAPICache.reset()


calls: list[str] = []


def build_app(backend: FastAPICacheBackend) -> FastAPI:
    app = FastAPI(lifespan=lifespan(backend))

    @app.get("/users/{user_id}")
    @cache(expire=10, namespace="users")
    async def get_user(user_id: int) -> dict[str, int]:
        calls.append(f"user {user_id}")
        return {"id": user_id}

    @app.get("/posts/{post_id}")
    @cache(expire=10, namespace="posts")  # type: ignore[arg-type]  # typed async-only; runs sync
    def get_post(post_id: int) -> dict[str, int]:  # a sync endpoint: run in a thread
        calls.append(f"post {post_id}")
        return {"id": post_id}

    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_the_decorator_hits_and_expires(
    backend: FastAPICacheBackend, clock: FakeClock
) -> None:
    app = build_app(backend)
    calls.clear()
    async with app.router.lifespan_context(app):
        miss = await get(app, "/users/1")
        clock.advance(4.5)
        hit = await get(app, "/users/1")
        clock.advance(5.5)
        expired = await get(app, "/users/1")
    assert calls == ["user 1", "user 1"]
    assert (miss.headers["x-fastapi-cache"], hit.headers["x-fastapi-cache"]) == ("MISS", "HIT")
    assert hit.headers["cache-control"] == "max-age=5"  # whole seconds left, rounded down
    assert expired.headers["x-fastapi-cache"] == "MISS"


async def test_clearing_a_namespace_through_fastapi_cache(backend: FastAPICacheBackend) -> None:
    app = build_app(backend)
    calls.clear()
    for path in ("/users/1", "/users/2", "/posts/1"):
        await get(app, path)
    assert await FastAPICache.clear(namespace="users") == 2
    for path in ("/users/1", "/users/2", "/posts/1"):
        await get(app, path)
    assert calls == ["user 1", "user 2", "post 1", "user 1", "user 2"]


async def test_get_set_and_get_with_ttl(backend: FastAPICacheBackend, clock: FakeClock) -> None:
    assert await backend.get_with_ttl("k") == (0, None)
    await backend.set("k", b"v", expire=30)
    assert await backend.get("k") == b"v"
    clock.advance(0.5)
    assert await backend.get_with_ttl("k") == (29, b"v")
    await backend.set("default", b"d")  # no expire: the cache's default_ttl
    assert await backend.get_with_ttl("default") == (60, b"d")
    backend.cache.set_nowait("forever", b"f", ttl=None)
    assert await backend.get_with_ttl("forever") == (-1, b"f")  # as Redis' TTL says
    clock.advance(30)
    assert await backend.get("k") is None
    with pytest.raises(ValueError, match="ttl"):
        await backend.set("k", b"v", expire=-1)


async def test_clear_by_key_and_by_namespace(backend: FastAPICacheBackend) -> None:
    for key in ("api:users:1", "api:users:2", "api:users2:1", "api:posts:1", "plain"):
        await backend.set(key, key.encode())
    # Namespaces end at a colon, as KEYS "ns:*" in Redis: "api:users" is not "api:users2".
    assert await backend.clear(namespace="api:users") == 2
    assert await backend.get("api:users2:1") == b"api:users2:1"
    assert await backend.clear(key="plain") == 1
    assert await backend.clear(key="plain") == 0
    assert await backend.clear() == 0
    assert await backend.clear(namespace="api") == 2
    assert len(backend.cache) == 0


async def test_unlike_in_memory_backend_namespaces_do_not_leak_by_prefix() -> None:
    """fastapi-cache2's InMemoryBackend clears by ``startswith``: "users" takes "users2" too."""
    memory = InMemoryBackend()
    ours = FastAPICacheBackend()
    for store in (memory, ours):
        await store.set("users:1", b"a", expire=60)
        await store.set("users2:1", b"b", expire=60)
    assert await memory.clear(namespace="users") == 2
    assert await ours.clear(namespace="users") == 1
    await memory.clear(namespace="users2")  # InMemoryBackend's store is class-wide: clean up


@pytest.mark.parametrize(
    ("key", "namespaces"),
    [
        ("", ()),
        ("plain", ()),
        (":", ("",)),
        ("a:b:c", ("a", "a:b")),
        ("a::b", ("a", "a:")),
        ("trailing:", ("trailing",)),
        (":ns:md5", ("", ":ns")),  # fastapi-cache2 with prefix "" and a namespace
    ],
)
def test_namespaces_of_a_key(key: str, namespaces: tuple[str, ...]) -> None:
    assert _namespaces(key) == namespaces


def test_arguments_and_defaults() -> None:
    backend = FastAPICacheBackend()
    assert backend.cache.default_ttl == 60.0
    assert "FastAPICacheBackend(" in repr(backend)
    with pytest.raises(TypeError, match=r"cache must be a sweepcache\.Cache or None, got \{\}"):
        FastAPICacheBackend({})  # type: ignore[arg-type]


async def test_the_backend_runs_in_the_lifespan(clock: FakeClock) -> None:
    removed = anyio.Event()
    store = Cache[str, bytes](
        clock=clock, sweep_interval=0.001, on_removal=lambda *args: removed.set()
    )
    backend = FastAPICacheBackend(store)
    await backend.set("k", b"v", expire=1)
    app = FastAPI(lifespan=lifespan(backend))
    async with app.router.lifespan_context(app):
        clock.advance(2)
        with anyio.fail_after(10):  # the sweeper reclaims it: waits for the sweeper only
            await removed.wait()
    assert len(store) == 0


def test_it_is_a_fastapi_cache2_backend(backend: FastAPICacheBackend) -> None:
    from fastapi_cache.backends import Backend

    assert isinstance(backend, Backend)
    assert FastAPICache.get_backend() is backend
