"""``sweepcache.asgi.CacheMiddleware``: one test per HTTP caching rule.

Every test runs through httpx's ASGI transport on asyncio, asyncio+uvloop
and trio; time moves with a ``FakeClock`` shared by the cache and the
middleware. The origin (``asgi_origin.Origin``) counts its calls and names
each call in the body, so "served from the cache" means "the origin was not
called and the body is the earlier one".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from asgi_origin import Origin, cached_client
from sweepcache import Cache
from sweepcache.asgi import CachedResponse, CacheMiddleware, ResponseKey, credentials_key, url_tag

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio

MAX_AGE_60 = (("cache-control", "max-age=60"),)


@pytest.fixture
def origin() -> Origin:
    return Origin()


async def get_twice(client: httpx.AsyncClient, path: str, **kwargs: Any) -> list[httpx.Response]:
    return [await client.get(path, **kwargs), await client.get(path, **kwargs)]


# -- what is cacheable ----------------------------------------------------------


async def test_get_is_stored_and_served_with_hit(origin: Origin, clock: FakeClock) -> None:
    async with cached_client(origin, clock) as (client, _):
        first, second = await get_twice(client, "/a")
    assert first.text == second.text == "/a #1"
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert origin.calls["/a"] == 1


async def test_head_is_served_from_the_stored_get_without_a_body(
    origin: Origin, clock: FakeClock
) -> None:
    async with cached_client(origin, clock) as (client, _):
        miss = await client.head("/a")  # nothing stored: to the app, not stored
        await client.get("/a")
        hit = await client.head("/a")
    assert miss.headers["x-cache"] == "MISS"
    assert (hit.headers["x-cache"], hit.content) == ("HIT", b"")
    assert hit.headers["content-length"] == str(len("/a #2"))
    assert origin.calls["/a"] == 2  # the HEAD miss and the GET


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_other_methods_are_never_served_nor_stored(
    origin: Origin, clock: FakeClock, method: str
) -> None:
    async with cached_client(origin, clock) as (client, responses):
        first = await client.request(method, "/a")
        second = await client.request(method, "/a")
        assert len(responses) == 0
    assert (first.text, second.text) == ("/a #1", "/a #2")
    assert "x-cache" not in second.headers


@pytest.mark.parametrize("status", [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501])
async def test_cacheable_statuses_are_stored(origin: Origin, clock: FakeClock, status: int) -> None:
    origin.route("/s", status=status, chunks=[] if status == 204 else None)
    async with cached_client(origin, clock) as (client, _):
        responses = await get_twice(client, "/s")
    assert [r.status_code for r in responses] == [status, status]
    assert responses[1].headers["x-cache"] == "HIT"
    assert origin.calls["/s"] == 1


@pytest.mark.parametrize("status", [201, 202, 206, 302, 303, 307, 400, 401, 403, 429, 500, 503])
async def test_other_statuses_are_not_stored(origin: Origin, clock: FakeClock, status: int) -> None:
    origin.route("/s", status=status)
    async with cached_client(origin, clock) as (client, _):
        responses = await get_twice(client, "/s")
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "MISS"]
    assert origin.calls["/s"] == 2


@pytest.mark.parametrize(
    "headers",
    [
        (("cache-control", "no-store, max-age=60"),),
        (("cache-control", "private, max-age=60"),),
        (("cache-control", "max-age=60"), ("set-cookie", "session=abc")),
        (("cache-control", "no-cache, max-age=60"),),
    ],
    ids=["no-store", "private", "set-cookie", "no-cache"],
)
async def test_responses_that_must_not_be_stored(
    origin: Origin, clock: FakeClock, headers: tuple[tuple[str, str], ...]
) -> None:
    """The starlette-caches 0.4.1 bug: it stored ``no-store`` and ``private`` responses."""
    origin.route("/r", headers=headers)
    async with cached_client(origin, clock, pass_ttl=0) as (client, responses):
        first, second = await get_twice(client, "/r")
        assert len(responses) == 0
    assert (first.text, second.text) == ("/r #1", "/r #2")
    assert second.headers["x-cache"] == "MISS"
    if any(name == "set-cookie" for name, _ in headers):
        assert second.headers["set-cookie"] == "session=abc"  # still reaches its own client


@pytest.mark.parametrize("credential", ["authorization", "cookie"])
async def test_a_request_with_credentials_is_never_served_anothers_response(
    origin: Origin, clock: FakeClock, credential: str
) -> None:
    """The starlette-caches 0.4.1 bug: user B got user A's Authorization-dependent page."""
    origin.route("/me", per_user=True)
    async with cached_client(origin, clock) as (client, responses):
        alice = await client.get("/me", headers={credential: "alice"})
        bob = await client.get("/me", headers={credential: "bob"})
        anonymous = await client.get("/me")
        again = await client.get("/me", headers={credential: "alice"})
        stored = [key for key in [("GET", "http://test/me", "")] if key in responses]
    assert origin.calls["/me"] == 4  # the credentialed requests all went to the app
    assert bob.text != alice.text
    assert again.headers["x-cache"] == "MISS"
    assert anonymous.headers["x-cache"] == "MISS"
    assert stored == [("GET", "http://test/me", "")]  # only the anonymous one


async def test_keying_by_user_partitions_the_cache(origin: Origin, clock: FakeClock) -> None:
    origin.route("/me", per_user=True, headers=(("cache-control", "private, max-age=60"),))
    async with cached_client(origin, clock, user_key=credentials_key) as (client, _):
        alice = await get_twice(client, "/me", headers={"authorization": "Bearer alice"})
        bob = await get_twice(client, "/me", headers={"authorization": "Bearer bob"})
        anonymous = await get_twice(client, "/me")
    assert [r.text for r in alice] == ["/me #1 for Bearer alice"] * 2
    assert [r.text for r in bob] == ["/me #2 for Bearer bob"] * 2
    assert alice[1].headers["x-cache"] == bob[1].headers["x-cache"] == "HIT"
    # A private response is stored only in a user's partition, never shared.
    assert [r.text for r in anonymous] == ["/me #3 for nobody", "/me #4 for nobody"]


async def test_user_key_that_says_none_bypasses_and_must_return_a_string(
    origin: Origin, clock: FakeClock
) -> None:
    async with cached_client(origin, clock, user_key=lambda scope: None) as (client, _):
        responses = await get_twice(client, "/a", headers={"authorization": "x"})
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "MISS"]
    async with cached_client(origin, clock, user_key=lambda scope: 42) as (client, _):
        with pytest.raises(TypeError, match="user_key must return a str or None, got int"):
            await client.get("/a", headers={"authorization": "x"})


async def test_request_no_store_bypasses_the_cache(origin: Origin, clock: FakeClock) -> None:
    async with cached_client(origin, clock) as (client, responses):
        await client.get("/a")
        bypass = await get_twice(client, "/a", headers={"cache-control": "no-store"})
        await client.get("/b", headers={"cache-control": "no-store"})
        assert ("GET", "http://test/b", "") not in responses
        stored = await client.get("/a")
    assert [r.text for r in bypass] == ["/a #2", "/a #3"]
    assert stored.text == "/a #1"  # the bypass neither used nor replaced it


@pytest.mark.parametrize("directive", ["no-cache", "max-age=0"])
async def test_request_no_cache_goes_to_the_app_and_refreshes_the_entry(
    origin: Origin, clock: FakeClock, directive: str
) -> None:
    async with cached_client(origin, clock) as (client, _):
        await client.get("/a")
        fresh = await client.get("/a", headers={"cache-control": directive})
        after = await client.get("/a")
    assert (fresh.text, fresh.headers["x-cache"]) == ("/a #2", "MISS")
    assert (after.text, after.headers["x-cache"]) == ("/a #2", "HIT")


async def test_request_max_age_and_min_fresh(origin: Origin, clock: FakeClock) -> None:
    async with cached_client(origin, clock) as (client, _):
        await client.get("/a")
        clock.advance(20)
        young_enough = await client.get("/a", headers={"cache-control": "max-age=30"})
        too_old = await client.get("/a", headers={"cache-control": "max-age=10"})
        clock.advance(50)
        not_fresh_enough = await client.get("/a", headers={"cache-control": "min-fresh=30"})
    assert (young_enough.text, young_enough.headers["x-cache"]) == ("/a #1", "HIT")
    assert (too_old.text, too_old.headers["x-cache"]) == ("/a #2", "MISS")
    assert not_fresh_enough.text == "/a #3"  # #2 had 10 s of its 60 left


async def test_request_only_if_cached(origin: Origin, clock: FakeClock) -> None:
    async with cached_client(origin, clock) as (client, _):
        miss = await client.get("/a", headers={"cache-control": "only-if-cached"})
        await client.get("/a")
        hit = await client.get("/a", headers={"cache-control": "only-if-cached"})
    assert miss.status_code == 504
    assert (hit.status_code, hit.text) == (200, "/a #1")
    assert origin.calls["/a"] == 1


async def test_request_directives_can_be_ignored(origin: Origin, clock: FakeClock) -> None:
    async with cached_client(origin, clock, honor_request_directives=False) as (client, _):
        await client.get("/a")
        reload = await client.get("/a", headers={"cache-control": "no-cache"})
    assert reload.headers["x-cache"] == "HIT"


async def test_ranges_are_passed_through(origin: Origin, clock: FakeClock) -> None:
    async with cached_client(origin, clock) as (client, _):
        await client.get("/a")
        ranged = await client.get("/a", headers={"range": "bytes=0-1"})
    assert ranged.headers["x-cache"] == "MISS"


# -- keys and freshness ---------------------------------------------------------------


async def test_the_key_is_method_full_url_and_query(origin: Origin, clock: FakeClock) -> None:
    async with cached_client(origin, clock) as (client, responses):
        await client.get("/a?page=1")
        page2 = await client.get("/a?page=2")
        other_host = await client.get("/a?page=1", headers={"host": "other.example"})
        https = await client.get("https://test/a?page=1")
        same = await client.get("/a?page=1")
        keys = {
            key
            for key in [
                ("GET", "http://test/a?page=1", ""),
                ("GET", "http://test/a?page=2", ""),
                ("GET", "http://other.example/a?page=1", ""),
                ("GET", "https://test/a?page=1", ""),
            ]
            if key in responses
        }
    assert [page2.text, other_host.text, https.text, same.text] == [
        "/a #2",
        "/a #3",
        "/a #4",
        "/a #1",
    ]
    assert len(keys) == 4


async def test_vary_keys_on_the_named_request_headers(origin: Origin, clock: FakeClock) -> None:
    origin.route("/v", headers=(("cache-control", "max-age=60"), ("vary", "Accept-Language")))
    async with cached_client(origin, clock) as (client, _):
        french = await get_twice(client, "/v", headers={"accept-language": "fr"})
        german = await get_twice(client, "/v", headers={"accept-language": "de"})
        none = await get_twice(client, "/v")
        empty = await client.get("/v", headers={"accept-language": ""})
        french_again = await client.get("/v", headers={"accept-language": "fr"})
        other_header = await client.get("/v", headers={"accept-language": "de", "x-other": "1"})
    assert [r.text for r in french] == ["/v #1", "/v #1"]
    assert [r.text for r in german] == ["/v #2", "/v #2"]
    assert [r.text for r in none] == ["/v #3", "/v #3"]
    assert empty.text == "/v #4"  # an empty header is not a missing one
    assert french_again.text == "/v #1"
    assert other_header.text == "/v #2"  # only the named headers count


async def test_vary_star_is_never_stored(origin: Origin, clock: FakeClock) -> None:
    origin.route("/v", headers=(("cache-control", "max-age=60"), ("vary", "*")))
    async with cached_client(origin, clock) as (client, _):
        responses = await get_twice(client, "/v")
    assert [r.text for r in responses] == ["/v #1", "/v #2"]


@pytest.mark.parametrize(
    ("cache_control", "lifetime"),
    [("max-age=60", 60), ("s-maxage=10, max-age=60", 10), ("max-age=9999", 100)],
)
async def test_ttl_from_s_maxage_or_max_age_capped_by_max_ttl(
    origin: Origin, clock: FakeClock, cache_control: str, lifetime: int
) -> None:
    origin.route("/t", headers=(("cache-control", cache_control),))
    async with cached_client(origin, clock, max_ttl=100) as (client, _):
        await client.get("/t")
        clock.advance(lifetime - 0.001)
        last_hit = await client.get("/t")
        clock.advance(0.001)
        expired = await client.get("/t")
    assert (last_hit.text, last_hit.headers["age"]) == ("/t #1", str(lifetime - 1))
    assert expired.text == "/t #2"


async def test_default_ttl_for_responses_without_freshness(
    origin: Origin, clock: FakeClock
) -> None:
    origin.route("/plain", headers=())
    async with cached_client(origin, clock) as (client, _):
        refused = await get_twice(client, "/plain")
    async with cached_client(origin, clock, default_ttl=5) as (client, _):
        stored = await get_twice(client, "/plain")
        clock.advance(5)
        expired = await client.get("/plain")
    assert [r.text for r in refused] == ["/plain #1", "/plain #2"]
    assert [r.text for r in stored] == ["/plain #3", "/plain #3"]
    assert expired.text == "/plain #4"


async def test_an_age_from_the_app_shortens_the_stay(origin: Origin, clock: FakeClock) -> None:
    origin.route("/aged", headers=(("cache-control", "max-age=60"), ("age", "50")))
    async with cached_client(origin, clock) as (client, _):
        await client.get("/aged")
        clock.advance(5)
        hit = await client.get("/aged")
        clock.advance(5)
        expired = await client.get("/aged")
    assert hit.headers["age"] == "55"
    assert expired.text == "/aged #2"


# -- responses ----------------------------------------------------------------------


ETAGGED = (
    ("cache-control", "max-age=60"),
    ("etag", '"v1"'),
    ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
)


@pytest.mark.parametrize(
    "condition",
    [
        {"if-none-match": '"v1"'},
        {"if-none-match": 'W/"v1"'},
        {"if-none-match": '"v0", "v1"'},
        {"if-none-match": "*"},
        {"if-modified-since": "Sun, 06 Nov 1994 08:49:37 GMT"},
    ],
)
async def test_conditional_requests_get_304(
    origin: Origin, clock: FakeClock, condition: dict[str, str]
) -> None:
    origin.route("/e", headers=ETAGGED)
    async with cached_client(origin, clock) as (client, _):
        on_miss = await client.get("/e", headers=condition)  # answered from the app's 200
        on_hit = await client.get("/e", headers=condition)
        full = await client.get("/e")
    for response in (on_miss, on_hit):
        assert (response.status_code, response.content) == (304, b"")
        assert response.headers["etag"] == '"v1"'
        assert "content-length" not in response.headers or response.headers["content-length"] == "0"
    assert (on_miss.headers["x-cache"], on_hit.headers["x-cache"]) == ("MISS", "HIT")
    assert (full.status_code, full.text) == (200, "/e #1")
    # The app got an unconditional request, so that a full response was stored.
    assert not any(
        name in (b"if-none-match", b"if-modified-since")
        for name, _ in origin.requests[0]["headers"]
    )


@pytest.mark.parametrize(
    "condition",
    [
        {"if-none-match": '"v2"'},
        {"if-modified-since": "Sat, 05 Nov 1994 08:49:37 GMT"},
        {"if-none-match": '"v2"', "if-modified-since": "Sun, 06 Nov 1994 08:49:37 GMT"},
    ],
)
async def test_failed_conditions_get_the_full_response(
    origin: Origin, clock: FakeClock, condition: dict[str, str]
) -> None:
    origin.route("/e", headers=ETAGGED)
    async with cached_client(origin, clock) as (client, _):
        responses = await get_twice(client, "/e", headers=condition)
    assert [(r.status_code, r.text) for r in responses] == [(200, "/e #1"), (200, "/e #1")]


async def test_streaming_body_is_stored_up_to_the_size_cap(
    origin: Origin, clock: FakeClock
) -> None:
    origin.route("/small", chunks=[b"a" * 40, b"b" * 40, b"c" * 20])
    origin.route("/large", chunks=[b"a" * 60, b"b" * 60])
    origin.route(
        "/announced",
        headers=(("cache-control", "max-age=60"), ("content-length", "120")),
        chunks=[b"x" * 120],
    )
    async with cached_client(origin, clock, max_body_size=100) as (client, responses):
        small = await get_twice(client, "/small")
        large = await get_twice(client, "/large")
        announced = await get_twice(client, "/announced")
        stored = responses.get_nowait(("GET", "http://test/small", ""))
    assert [r.content for r in small] == [b"a" * 40 + b"b" * 40 + b"c" * 20] * 2
    assert small[1].headers["x-cache"] == "HIT"
    assert [r.content for r in large] == [b"a" * 60 + b"b" * 60] * 2  # streamed in full
    assert [r.headers["x-cache"] for r in large + announced] == ["MISS"] * 4
    assert origin.calls["/large"] == origin.calls["/announced"] == 2
    assert stored is not None
    assert len(stored.body) == 100


async def test_age_and_x_cache_headers(origin: Origin, clock: FakeClock) -> None:
    origin.route("/a", headers=(("cache-control", "max-age=60"), ("age", "3"), ("x-cache", "x")))
    async with cached_client(origin, clock) as (client, _):
        miss = await client.get("/a")
        clock.advance(2.5)
        hit = await client.get("/a")
        clock.advance(10)
        later = await client.get("/a")
    assert miss.headers.get_list("x-cache") == ["MISS"]  # the app's own is replaced
    assert "age" not in miss.headers  # only what the cache adds
    assert hit.headers.get_list("age") == ["5"]
    assert hit.headers.get_list("x-cache") == ["HIT"]
    assert later.headers["age"] == "15"


# -- concurrency and invalidation ------------------------------------------------------


async def test_concurrent_misses_run_the_endpoint_once(origin: Origin, clock: FakeClock) -> None:
    gate = anyio.Event()
    started = anyio.Event()
    origin.route("/slow", gate=gate, started=started)
    results: list[httpx.Response] = []
    async with cached_client(origin, clock) as (client, _):

        async def fetch() -> None:
            results.append(await client.get("/slow"))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(fetch)
            await started.wait()
            await anyio.wait_all_tasks_blocked()
            gate.set()
    assert origin.calls["/slow"] == 1
    assert {r.text for r in results} == {"/slow #1"}
    assert sorted(r.headers["x-cache"] for r in results) == ["HIT"] * 19 + ["MISS"]


async def test_waiters_do_not_wait_for_a_body_that_cannot_be_stored(
    origin: Origin, clock: FakeClock
) -> None:
    """An endless stream (server-sent events) must not hold up concurrent requests."""
    gate = anyio.Event()
    started = anyio.Event()
    origin.route("/events", headers=(("cache-control", "no-store"),), gate=gate, started=started)
    done: list[str] = []
    async with cached_client(origin, clock, pass_ttl=0) as (client, _):

        async def leader() -> None:
            done.append((await client.get("/events")).text)

        async with anyio.create_task_group() as tg:
            tg.start_soon(leader)
            await started.wait()  # the leader's headers are out, its body held back
            origin.routes["/events"].gate = None
            with anyio.fail_after(5):
                done.extend([(await client.get("/events")).text for _ in range(3)])
            gate.set()
    assert done == ["/events #2", "/events #3", "/events #4", "/events #1"]


async def test_pass_marker_sends_later_requests_straight_to_the_app(
    origin: Origin, clock: FakeClock
) -> None:
    origin.route("/nope", headers=(("cache-control", "no-store"),))
    async with cached_client(origin, clock, pass_ttl=10) as (client, responses):
        await client.get("/nope")
        key = ("GET", "http://test/nope", "")
        marker = responses.get_nowait(key)
        assert marker is not None
        assert marker.passes
        assert marker.body == b""
        assert "pass marker" in repr(marker)
        gate = anyio.Event()
        started = anyio.Event()
        origin.route("/nope", headers=(("cache-control", "no-store"),), gate=gate, started=started)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get, "/nope")
            await started.wait()
            origin.routes["/nope"].gate = None
            with anyio.fail_after(5):  # no waiting on the held-back request
                assert (await client.get("/nope")).text == "/nope #3"
            gate.set()
        clock.advance(10)
        assert key not in responses


async def test_successful_unsafe_requests_invalidate_the_url(
    origin: Origin, clock: FakeClock
) -> None:
    async with cached_client(origin, clock) as (client, _):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            await client.get("/item")
            await client.get("/item?page=1")
            assert (await client.get("/item")).headers["x-cache"] == "HIT"
            await client.request(method, "/item")
            assert (await client.get("/item")).headers["x-cache"] == "MISS", method
            assert (await client.get("/item?page=1")).headers["x-cache"] == "HIT", method


@pytest.mark.parametrize("status", [400, 404, 409, 500])
async def test_failed_unsafe_requests_invalidate_nothing(
    origin: Origin, clock: FakeClock, status: int
) -> None:
    async with cached_client(origin, clock) as (client, _):
        await client.get("/item")
        origin.route("/item", status=status)
        await client.put("/item")
        assert (await client.get("/item")).text == "/item #1"


@pytest.mark.parametrize(
    ("location", "invalidated"),
    [
        ("/other", True),
        ("http://test/other", True),
        ("http://TEST/other", True),
        ("http://elsewhere.example/other", False),
        ("relative/other", False),
        ("http://[broken/other", False),
    ],
)
async def test_unsafe_requests_invalidate_same_origin_location(
    origin: Origin, clock: FakeClock, location: str, invalidated: bool
) -> None:
    async with cached_client(origin, clock) as (client, _):
        await client.get("/other")
        origin.route("/create", status=201, headers=(("location", location),))
        await client.post("/create")
        again = await client.get("/other")
    assert (again.headers["x-cache"] == "MISS") is invalidated


async def test_an_unsafe_request_during_a_load_keeps_its_result_out(
    origin: Origin, clock: FakeClock
) -> None:
    """A GET that started before a PUT and ends after it must not store what it read."""
    gate = anyio.Event()
    started = anyio.Event()
    origin.route("/item", gate=gate, started=started)
    async with cached_client(origin, clock) as (client, responses):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get, "/item")
            await started.wait()
            origin.route("/item")  # the PUT itself is not held back
            await client.put("/item")
            gate.set()
        assert len(responses) == 0
        assert (await client.get("/item")).text == "/item #3"


async def test_tags_from_the_endpoint(origin: Origin, clock: FakeClock) -> None:
    tagged = (("cache-control", "max-age=60"), ("cache-tag", "users, user:1 ,,"))
    origin.route("/users", headers=tagged)
    origin.route("/users/1", headers=tagged)
    origin.route("/users/2", headers=(("cache-control", "max-age=60"), ("cache-tag", "user:2")))
    async with cached_client(origin, clock) as (client, responses):
        first = await client.get("/users")
        for path in ("/users/1", "/users/2"):
            await client.get(path)
        stored = responses.get_nowait(("GET", "http://test/users", ""))
        assert stored is not None
        assert stored.tags == {"users", "user:1", url_tag("/users")}
        assert await responses.invalidate_tags("user:1") == 2
        after = [(await client.get(p)).headers["x-cache"] for p in ("/users", "/users/2")]
        assert await responses.invalidate_tags(url_tag("/users/2")) == 1
    assert "cache-tag" not in first.headers  # an internal header never leaves
    assert after == ["MISS", "HIT"]


async def test_tag_invalidation_during_a_load_keeps_its_result_out(
    origin: Origin, clock: FakeClock
) -> None:
    gate = anyio.Event()
    started = anyio.Event()
    tagged = (("cache-control", "max-age=60"), ("cache-tag", "users"))
    origin.route("/users", headers=tagged, gate=gate, started=started)
    async with cached_client(origin, clock) as (client, responses):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get, "/users")
            await started.wait()
            await responses.invalidate_tags("users")  # an endpoint updated a user meanwhile
            gate.set()
        assert len(responses) == 0


async def test_tags_can_be_turned_off(origin: Origin, clock: FakeClock) -> None:
    origin.route("/t", headers=(("cache-control", "max-age=60"), ("cache-tag", "users")))
    async with cached_client(origin, clock, tag_header=None) as (client, responses):
        response = await client.get("/t")
        stored = responses.get_nowait(("GET", "http://test/t", ""))
    assert response.headers["cache-tag"] == "users"
    assert stored is not None
    assert stored.tags == {url_tag("/t")}


async def test_an_app_error_reaches_the_leader_and_nothing_is_stored(
    origin: Origin, clock: FakeClock
) -> None:
    origin.fail["/boom"] = LookupError("database down")
    async with cached_client(origin, clock, pass_ttl=0) as (client, responses):
        with pytest.raises(LookupError, match="database down"):
            await client.get("/boom")
        assert len(responses) == 0
        del origin.fail["/boom"]
        assert (await client.get("/boom")).text == "/boom #2"


async def test_a_cancelled_leader_hands_over_to_a_waiter(origin: Origin, clock: FakeClock) -> None:
    gate = anyio.Event()
    started = anyio.Event()
    origin.route("/slow", gate=gate, started=started)
    async with cached_client(origin, clock) as (client, _):
        async with anyio.create_task_group() as tg:
            leader_scope = anyio.CancelScope()

            async def leader() -> None:
                with leader_scope:
                    await client.get("/slow")

            results: list[str] = []

            async def waiter() -> None:
                results.append((await client.get("/slow")).text)

            tg.start_soon(leader)
            await started.wait()
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            origin.route("/slow")  # the next call answers at once
            leader_scope.cancel()
        gate.set()
    assert results == ["/slow #2"]


async def test_other_scope_types_pass_through(clock: FakeClock) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = CacheMiddleware(app, cache=Cache[ResponseKey, CachedResponse](), clock=clock)

    async def nothing() -> Any:
        raise AssertionError  # pragma: no cover

    async def ignore(message: Any) -> None:
        raise AssertionError  # pragma: no cover

    for kind in ("websocket", "lifespan"):
        await middleware({"type": kind}, nothing, ignore)
    assert seen == ["websocket", "lifespan"]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"max_ttl": 0}, ValueError, "max_ttl must be finite and > 0, got 0"),
        ({"max_ttl": float("nan")}, ValueError, "max_ttl must be finite"),
        ({"max_ttl": float("inf")}, ValueError, "max_ttl must be finite"),
        ({"max_ttl": "60"}, TypeError, "max_ttl must be a number of seconds, got str"),
        ({"default_ttl": -1}, ValueError, "default_ttl must be finite and > 0, got -1"),
        ({"pass_ttl": -1}, ValueError, "pass_ttl must be finite and >= 0, got -1"),
        ({"max_body_size": -1}, ValueError, "max_body_size must be an int >= 0, got -1"),
        ({"max_body_size": True}, ValueError, "max_body_size must be an int"),
        ({"cacheable_statuses": [200, 99]}, ValueError, "status codes 100-599, got 99"),
        ({"cacheable_statuses": ["200"]}, ValueError, "status codes 100-599, got '200'"),
        ({"user_key": "alice"}, TypeError, "user_key must be a callable or None, got 'alice'"),
        ({"tag_header": ""}, ValueError, "tag_header must be a header name or None, got ''"),
        ({"tag_header": "tägs"}, ValueError, "tag_header must be a header name"),
        ({"clock": 1.0}, TypeError, "clock must be a callable returning seconds, got 1.0"),
        ({"cache": {}}, TypeError, "cache must be a sweepcache.Cache, got dict"),
        ({"app": None}, TypeError, "app must be an ASGI app"),
    ],
)
def test_arguments_are_checked(options: dict[str, Any], error: type[Exception], match: str) -> None:
    arguments: dict[str, Any] = {"app": Origin(), "cache": Cache[ResponseKey, CachedResponse]()}
    arguments.update(options)
    with pytest.raises(error, match=match):
        CacheMiddleware(**arguments)


def test_url_tag_and_credentials_key() -> None:
    assert url_tag("/a?b=c") == ("sweepcache.asgi:url", "/a?b=c")
    with pytest.raises(TypeError, match="target must be a str"):
        url_tag(b"/a")  # type: ignore[arg-type]
    alice = credentials_key({"headers": [(b"authorization", b"Bearer alice")]})
    bob = credentials_key({"headers": [(b"authorization", b"Bearer bob")]})
    assert alice is not None
    assert bob is not None
    assert alice != bob
    assert len(alice) == 64
    assert credentials_key({"headers": [(b"cookie", b"Bearer alice")]}) != alice
    assert credentials_key({"headers": [(b"accept", b"*/*")]}) is None
    middleware = CacheMiddleware(Origin(), cache=Cache[ResponseKey, CachedResponse]())
    assert isinstance(middleware.cache, Cache)


async def test_adversarial_headers_do_not_break_the_middleware(
    origin: Origin, clock: FakeClock
) -> None:
    origin.route(
        "/odd",
        headers=(
            ("cache-control", "max-age=" + "9" * 400),
            ("cache-control", 'no-transform, ext="a,b"'),
            ("vary", " , Accept ,"),
            ("age", "-5"),
            ("expires", "soon"),
            ("content-length", "not a number"),
        ),
    )
    async with cached_client(origin, clock, max_ttl=30) as (client, responses):
        first, second = await get_twice(
            client, "/odd?" + "q" * 5000, headers={"accept": "\u00e9".encode()}
        )
        stored = responses.get_nowait(("GET", "http://test/odd?" + "q" * 5000, ""))
        assert stored is not None
    assert second.headers["x-cache"] == "HIT"
    assert first.text == second.text
    assert stored.ttl == 30.0
    assert stored.vary == ("accept",)


async def test_an_entry_gone_between_the_check_and_the_load_is_loaded_inline(
    origin: Origin, clock: FakeClock
) -> None:
    """The hit path skips the task group; if the entry vanishes in that instant, it still works.

    Only another thread can remove the entry between ``key in cache`` and
    ``get_or_load``; here the cache's clock jumps past its expiry between them.
    """

    class Jumping:
        def __init__(self) -> None:
            self.now = 0.0
            self.script: list[float] = []

        def __call__(self) -> float:
            return self.script.pop(0) if self.script else self.now

    cache_clock = Jumping()
    responses = Cache[ResponseKey, CachedResponse](clock=cache_clock)
    app = CacheMiddleware(origin, cache=responses, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = await client.get("/a")
        cache_clock.now = 61.0  # expired for the cache...
        cache_clock.script = [59.0]  # ...but not for the `in` check just before
        clock.advance(61)
        second = await client.get("/a")
        third = await client.get("/a")
    assert (first.text, second.text, third.text) == ("/a #1", "/a #2", "/a #2")
    assert (second.headers["x-cache"], third.headers["x-cache"]) == ("MISS", "HIT")


async def test_a_request_joining_a_load_after_an_invalidation_gets_fresh_data(
    origin: Origin, clock: FakeClock
) -> None:
    """A load that read before a write must not answer a request that came after the write."""
    gate = anyio.Event()
    started = anyio.Event()
    tagged = (("cache-control", "max-age=60"), ("cache-tag", "users"))
    origin.route("/users", headers=tagged, gate=gate, started=started)
    async with cached_client(origin, clock) as (client, responses):
        results: dict[str, httpx.Response] = {}

        async def fetch(name: str) -> None:
            results[name] = await client.get("/users")

        async with anyio.create_task_group() as tg:
            tg.start_soon(fetch, "before")
            await started.wait()  # it read the old data and is held back
            await responses.invalidate_tags("users")  # a write committed, then invalidated
            origin.route("/users", headers=tagged)  # later calls answer at once
            tg.start_soon(fetch, "after")  # arrives after the write: joins the open load
            await anyio.wait_all_tasks_blocked()
            gate.set()
    assert results["before"].text == "/users #1"
    assert results["after"].text == "/users #2"
