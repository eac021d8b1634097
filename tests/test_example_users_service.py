"""The example service (``examples/users_service``) against the local PostgreSQL.

Correctness: after an update through the API no endpoint returns the old
user, even with readers running concurrently. Efficiency: the cache cuts the
database queries (counted with SQLAlchemy's ``before_cursor_execute`` event)
by far more than 5x, and a cold stampede costs one query per key.

With a Redis tier (``Settings.redis_url``): the same correctness test, and
two instances of the service (two processes, in effect) on one database and
one Redis: a user one of them loaded is read from Redis by the other, and an
update through one of them reaches every view of the other.

Each test works in a schema of its own in the ``test`` database (created and
dropped around it), and the Redis ones on a private ``redis-server``. Without
PostgreSQL (or the Redis binaries) the tests skip, or fail under
``CI=true``. asyncpg runs on asyncio only, so these run on asyncio and
asyncio+uvloop, not trio (the ASGI middleware and the FastAPI helpers are
tested on trio elsewhere).
"""

from __future__ import annotations

import itertools
import os
import random
import re
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import sqlalchemy.exc
from examples.users_service import Database, Settings, create_app

from redis_tier.servers import running_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

pytestmark = pytest.mark.anyio

DATABASE_URL = os.environ.get(
    "USERS_SERVICE_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
USERS = 200

_ASYNCIO: list[Any] = [pytest.param(("asyncio", {}), id="asyncio")]
try:
    import uvloop
except ImportError:  # pragma: no cover
    pass
else:
    _ASYNCIO.append(
        pytest.param(("asyncio", {"loop_factory": uvloop.new_event_loop}), id="asyncio+uvloop")
    )


@pytest.fixture(params=_ASYNCIO)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """asyncpg is asyncio-only: these tests run on asyncio and uvloop."""
    return request.param


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    """A fresh schema with ``USERS`` users; dropped afterwards."""
    database = Database(Settings(database_url=DATABASE_URL, pool_size=5))
    try:
        await database.create(users=USERS)
    except (OSError, sqlalchemy.exc.SQLAlchemyError) as exc:
        await database.engine.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI=true ({DATABASE_URL}): {exc}")
        pytest.skip(f"PostgreSQL is not reachable at {DATABASE_URL}: {exc}")
    try:
        yield database
    finally:
        with anyio.CancelScope(shield=True):
            await database.drop()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private ``redis-server`` for this module's tests (stopped, and its data gone, after)."""
    with running_server() as server:
        yield server.url


@pytest.fixture(params=["local", "redis"])
def tier(request: pytest.FixtureRequest) -> str | None:
    """Run a test with local caches only, and again with the Redis tier behind them."""
    if request.param == "local":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@asynccontextmanager
async def service(
    database: Database, *, cache: bool = True, redis_url: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on ``database``, its lifespan running, and a client talking to it."""
    settings = Settings(database_url=DATABASE_URL, cache=cache, redis_url=redis_url)
    app = create_app(settings, database)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://users") as client,
    ):
        yield client


async def every_view(client: httpx.AsyncClient, user_id: int, email: str) -> dict[str, Any]:
    """What each endpoint says about one user (``None`` for a 404 or absent from the list)."""
    views: dict[str, Any] = {}
    for name, path in (
        ("by id", f"/users/{user_id}"),
        ("by email", f"/users/by-email/{email}"),
        ("profile", f"/users/{user_id}/profile"),
    ):
        response = await client.get(path)
        assert response.status_code in (200, 404), response.text
        views[name] = response.json() if response.status_code == 200 else None
    listed = (await client.get("/users", params={"limit": 20})).json()
    views["list"] = next((user for user in listed if user["id"] == user_id), None)
    return views


async def test_after_an_update_no_endpoint_returns_the_old_user(
    database: Database, tier: str | None
) -> None:
    async with service(database, redis_url=tier) as client:
        for _ in range(2):  # the second round is served from the caches
            before = await every_view(client, 7, "user7@example.com")
        assert before["by id"] == {
            "id": 7,
            "email": "user7@example.com",
            "name": "User 7",
            "version": 1,
        }
        assert (await client.get("/users", params={"limit": 20})).headers["x-cache"] == "HIT"

        changes = {"name": "Seven", "email": "Seven@Example.com", "bio": "updated"}
        updated = await client.patch("/users/7", json=changes)
        assert updated.json() == {
            "id": 7,
            "email": "seven@example.com",
            "name": "Seven",
            "version": 2,
        }

        new = await every_view(client, 7, "seven@example.com")
        assert new["by id"] == new["by email"] == new["list"] == updated.json()
        assert new["profile"]["bio"] == "updated"
        assert new["profile"]["version"] == 2
        old_address = await client.get("/users/by-email/user7@example.com")
        assert old_address.status_code == 404  # the seed's bug: its entry stayed

        assert (await client.delete("/users/7")).status_code == 204
        gone = await every_view(client, 7, "seven@example.com")
        assert gone == {"by id": None, "by email": None, "profile": None, "list": None}
        assert (await client.delete("/users/7")).status_code == 404


async def test_concurrent_readers_never_see_an_older_version(database: Database) -> None:
    """Once an update has answered, every read that starts later shows it (or a newer one)."""
    committed = 1
    violations: list[str] = []
    reads = 0
    done = anyio.Event()
    paths = ["/users/9", "/users/by-email/user9@example.com", "/users/9/profile", "/users"]

    async with service(database) as client:

        async def reader(offset: int) -> None:
            nonlocal reads
            for path in itertools.islice(itertools.cycle(paths), offset, None):
                if done.is_set():
                    return
                floor = committed  # the newest version confirmed before this read starts
                response = await client.get(path, params={"limit": 20} if path == "/users" else {})
                body = response.json()
                found = next(u for u in body if u["id"] == 9) if path == "/users" else body
                reads += 1
                if found["version"] < floor:
                    violations.append(f"{path} gave v{found['version']} after v{floor}")

        async def writer() -> None:
            nonlocal committed
            for round_ in range(2, 27):
                response = await client.patch("/users/9", json={"name": f"Nine v{round_}"})
                committed = response.json()["version"]
                await anyio.lowlevel.checkpoint()  # let readers in between writes
            done.set()

        async with anyio.create_task_group() as tg:
            for offset in range(8):
                tg.start_soon(reader, offset % len(paths))
            tg.start_soon(writer)
    assert committed == 26
    assert reads > 30
    assert violations == []


async def test_two_instances_sharing_redis_see_each_others_loads_and_updates(
    database: Database, redis_url: str
) -> None:
    async with (
        service(database, redis_url=redis_url) as first,
        service(database, redis_url=redis_url) as second,
    ):
        before = database.queries
        for path in ("/users/7", "/users/by-email/user7@example.com", "/users/7/profile"):
            assert (await first.get(path)).status_code == 200
        loaded = database.queries - before
        assert loaded == 3
        # The second instance reads what the first loaded from Redis, not the database.
        seen = await every_view(second, 7, "user7@example.com")
        assert seen["by id"]["name"] == "User 7"
        assert database.queries - before == loaded + 1  # the list page only
        await every_view(second, 7, "user7@example.com")  # now from its own caches

        changes = {"name": "Seven", "email": "seven@example.com"}
        assert (await first.patch("/users/7", json=changes)).status_code == 200
        # Every view of the second instance shows the update as soon as Redis's
        # invalidation reaches it (about a millisecond on loopback; 5 s at most).
        views: dict[str, Any] = {}
        old_address: int | None = None
        with anyio.fail_after(5):
            while True:
                views = await every_view(second, 7, "seven@example.com")
                old_address = (await second.get("/users/by-email/user7@example.com")).status_code
                if (
                    views["by id"]["name"] == "Seven"
                    and views["by email"] is not None
                    and old_address == 404
                ):
                    break
                await anyio.sleep(0.01)
        assert views["by id"]["version"] == views["by email"]["version"] == 2
        assert views["profile"]["name"] == "Seven"


def workload(seed: int, count: int) -> list[str]:
    """``count`` reads over the four read endpoints, users drawn by Zipf's law (s = 1)."""
    rng = random.Random(seed)
    weights = [1 / rank for rank in range(1, 51)]
    paths = []
    for user_id in rng.choices(range(1, 51), weights=weights, k=count):
        kind = rng.randrange(4)
        paths.append(
            [
                f"/users/{user_id}",
                f"/users/by-email/user{user_id}@example.com",
                f"/users/{user_id}/profile",
                f"/users?limit=20&offset={(user_id % 3) * 20}",
            ][kind]
        )
    return paths


async def test_the_cache_cuts_database_queries(database: Database) -> None:
    # 1,000 reads over at most 153 distinct keys (50 users x 3 views, 3 list
    # pages): cold misses included, the cached run must query 5x less.
    paths = workload(seed=1, count=1000)
    spent = {}
    for cache in (False, True):
        async with service(database, cache=cache) as client:
            before = database.queries
            for path in paths:
                assert (await client.get(path)).status_code == 200
            spent[cache] = database.queries - before
    assert spent[False] == 1000  # one statement per read without the cache
    assert spent[True] * 5 <= spent[False], spent


async def test_a_cold_stampede_costs_one_query_per_key(database: Database) -> None:
    keys = range(20, 30)
    paths = [
        path
        for user_id in keys
        for path in (
            f"/users/{user_id}",
            f"/users/by-email/user{user_id}@example.com",
            f"/users/{user_id}/profile",
        )
    ]
    async with service(database) as client:
        before = database.queries
        async with anyio.create_task_group() as tg:
            for _ in range(20):  # 20 clients ask for every cold key at once
                for path in paths:
                    tg.start_soon(client.get, path)
        assert database.queries - before == len(paths)


async def test_list_endpoint_is_behind_the_response_cache(database: Database) -> None:
    async with service(database) as client:
        first = await client.get("/users", params={"limit": 3})
        second = await client.get("/users", params={"limit": 3})
        other_page = await client.get("/users", params={"limit": 3, "offset": 3})
        assert [first.headers["x-cache"], second.headers["x-cache"]] == ["MISS", "HIT"]
        assert other_page.headers["x-cache"] == "MISS"
        assert "cache-tag" not in second.headers
        created = await client.post(
            "/users", json={"email": "new@example.com", "name": "New", "bio": "hi"}
        )
        assert created.status_code == 201
        last_page = await client.get("/users", params={"limit": 3, "offset": USERS})
        assert last_page.json() == [created.json()]
        again = await client.get("/users", params={"limit": 3})
        assert again.headers["x-cache"] == "MISS"  # the write invalidated every page


async def test_a_missing_email_is_cached_until_someone_takes_it(database: Database) -> None:
    async with service(database) as client:
        before = database.queries
        for _ in range(3):
            assert (await client.get("/users/by-email/ada@example.com")).status_code == 404
        assert database.queries - before == 1
        await client.post("/users", json={"email": "ada@example.com", "name": "Ada"})
        found = await client.get("/users/by-email/ADA@example.com")
        assert found.json()["name"] == "Ada"
        taken = await client.patch("/users/1", json={"email": "ada@example.com"})
        assert taken.status_code == 409
        assert (await client.get("/users/1")).json()["email"] == "user1@example.com"
        assert (
            await client.post("/users", json={"email": "ada@example.com", "name": "x"})
        ).status_code == 409
        assert (await client.patch("/users/99999", json={"name": "x"})).status_code == 404


async def test_metrics(database: Database) -> None:
    async with service(database) as client:
        for _ in range(3):
            await client.get("/users/1")
        text = (await client.get("/metrics")).text
    for result, count in (("hit", 2), ("miss", 1)):
        line = f'cache_gets_total{{cache="users_by_id",result="{result}"}} {count}.0'
        assert line in text.splitlines()
    queries = re.search(r"^users_service_db_queries_total (\d+)", text, re.MULTILINE)
    assert queries is not None
    assert int(queries[1]) == database.queries


async def test_without_the_cache_the_service_answers_the_same(database: Database) -> None:
    async with service(database, cache=False) as client:
        views = await every_view(client, 3, "user3@example.com")
        listed = await client.get("/users", params={"limit": 3})
        metrics = (await client.get("/metrics")).text
    assert views["by id"] == views["by email"] == views["list"]
    assert "x-cache" not in listed.headers
    assert "cache-tag" not in listed.headers
    assert "cache_gets_total" not in metrics
