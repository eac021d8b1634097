"""The HTTP caching rules of ``sweepcache.asgi`` as pure functions (RFC 9111, RFC 9110).

Adversarial inputs: quoted commas, duplicate and upper-case directives,
huge, negative, fractional and non-ASCII numbers, broken dates, bytes that
are not ASCII. The middleware tests check the same rules end to end.
"""

from __future__ import annotations

import email.utils
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweepcache.asgi._rules import (
    DEFAULT_CACHEABLE_STATUSES,
    DELTA_SECONDS_CAP,
    Storability,
    delta_seconds,
    http_date,
    not_modified,
    parse_cache_control,
    request_directives,
    request_vary_values,
    response_storability,
    vary_names,
)

NOW = 1_700_000_000.0  # a wall-clock instant, for Expires without Date


def storability(
    headers: list[tuple[bytes, bytes]],
    status: int = 200,
    *,
    max_ttl: float = 300.0,
    default_ttl: float | None = None,
    private_partition: bool = False,
) -> Storability:
    return response_storability(
        status,
        headers,
        statuses=DEFAULT_CACHEABLE_STATUSES,
        max_ttl=max_ttl,
        default_ttl=default_ttl,
        private_partition=private_partition,
        now=NOW,
    )


def email_date(seconds: float) -> bytes:
    return email.utils.formatdate(seconds, usegmt=True).encode("ascii")


def cc(value: str) -> list[tuple[bytes, bytes]]:
    return [(b"cache-control", value.encode("latin-1"))]


# -- Cache-Control --------------------------------------------------------------


def test_cache_control_directives_are_case_insensitive_and_first_wins() -> None:
    parsed = parse_cache_control([b"Max-Age=60, NO-CACHE", b"max-age=5, public"])
    assert parsed == {"max-age": "60", "no-cache": None, "public": None}


def test_cache_control_quoted_values_keep_their_commas() -> None:
    parsed = parse_cache_control([b'no-cache="set-cookie, x-a", max-age=1, ext="a\\"b"'])
    assert parsed == {"no-cache": "set-cookie, x-a", "max-age": "1", "ext": 'a"b'}


def test_cache_control_junk_does_not_raise() -> None:
    parsed = parse_cache_control([b",,, =, =5, \xff\xfe=1, max-age = 7 ,", b""])
    assert parsed == {"max-age": "7"}


@given(st.binary(max_size=200))
def test_cache_control_never_raises(raw: bytes) -> None:
    parsed = parse_cache_control([raw])
    assert all(name == name.lower() for name in parsed)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0),
        ("60", 60),
        ("007", 7),
        ("2147483648", DELTA_SECONDS_CAP),
        ("99999999999999999999999999999", DELTA_SECONDS_CAP),
        ("-1", None),
        ("1.5", None),
        ("1e3", None),
        ("", None),
        (" 5", None),
        ("٣", None),  # an Arabic-Indic digit: str.isdigit() says yes, HTTP says no
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_delta_seconds(value: str | None, expected: int | None) -> None:
    assert delta_seconds(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0),
        (b"Sunday, 06-Nov-94 08:49:37 GMT", 784111777.0),
        (b"0", None),
        (b"-1", None),
        (b"", None),
        (b"yesterday", None),
        (b"\xff\xfe", None),
        (b"Sun, 06 Nov 99999 08:49:37 GMT", None),
        (None, None),
    ],
)
def test_http_date(value: bytes | None, expected: float | None) -> None:
    assert http_date(value) == expected


# -- requests -------------------------------------------------------------------


def test_request_directives() -> None:
    assert request_directives([]).no_cache is False
    assert request_directives([b"no-store"]).no_store
    assert request_directives([b"no-cache"]).no_cache
    assert request_directives([b"max-age=0"]).no_cache
    assert request_directives([b"max-age=soon"]).no_cache  # invalid: taken as 0
    fresh = request_directives([b"max-age=30, min-fresh=5, only-if-cached, max-stale=99"])
    assert (fresh.no_cache, fresh.max_age, fresh.min_fresh, fresh.only_if_cached) == (
        False,
        30,
        5,
        True,
    )


def test_vary_names_and_request_values() -> None:
    headers = [(b"vary", b"Accept-Language, accept-encoding"), (b"vary", b"X-Tenant")]
    names = vary_names(headers)
    assert names == ("accept-encoding", "accept-language", "x-tenant")
    assert vary_names([(b"vary", b"accept, *")]) is None
    assert vary_names([]) == ()
    request = [(b"accept-language", b" fr "), (b"x-tenant", b"a"), (b"x-tenant", b"b")]
    assert request_vary_values(request, names) == ("", "=fr", "=a, b")
    # A missing header and an empty one are different requests.
    assert request_vary_values([(b"x-tenant", b"")], ("x-tenant",)) != request_vary_values(
        [], ("x-tenant",)
    )


# -- responses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (cc("no-store, max-age=60"), "no-store"),
        (cc("max-age=60, no-cache"), "no-cache"),
        (cc('no-cache="set-cookie", max-age=60'), "no-cache"),
        (cc("private, max-age=60"), "private"),
        ([*cc("max-age=60"), (b"set-cookie", b"a=b")], "set-cookie"),
        ([*cc("max-age=60"), (b"vary", b"*")], "vary *"),
        (cc("max-age=-1"), "invalid max-age"),
        (cc("max-age=1.5"), "invalid max-age"),
        (cc("s-maxage=soon, max-age=60"), "invalid s-maxage"),
        (cc("max-age=0"), "stale"),
        ([(b"expires", b"0")], "invalid expires"),
        ([(b"expires", b"Sun, 06 Nov 1994 08:49:37 GMT")], "stale"),
        ([], "no freshness lifetime"),
        ([*cc("max-age=60"), (b"age", b"60")], "stale"),
    ],
)
def test_what_is_never_stored(headers: list[tuple[bytes, bytes]], reason: str) -> None:
    result = storability(headers)
    assert result.reason == reason
    assert result.ttl == 0.0
    assert not result.storable


@pytest.mark.parametrize("status", [201, 202, 206, 302, 303, 307, 400, 401, 403, 500, 502, 503])
def test_statuses_not_stored(status: int) -> None:
    assert storability(cc("max-age=60"), status).reason == f"status {status}"


@pytest.mark.parametrize("status", sorted(DEFAULT_CACHEABLE_STATUSES))
def test_statuses_stored(status: int) -> None:
    assert storability(cc("max-age=60"), status).ttl == 60.0


@pytest.mark.parametrize(
    ("headers", "ttl"),
    [
        (cc("max-age=60"), 60.0),
        (cc("s-maxage=10, max-age=60"), 10.0),  # a shared cache prefers s-maxage
        (cc("max-age=60, s-maxage=10"), 10.0),
        (cc("max-age=100000"), 300.0),  # capped by max_ttl
        (cc(f"max-age={10**30}"), 300.0),
        ([*cc("max-age=60"), (b"age", b"15")], 45.0),
        ([*cc("max-age=60"), (b"age", b"junk")], 60.0),  # an invalid Age counts as 0
        ([*cc("max-age=60"), (b"expires", b"0")], 60.0),  # max-age wins over Expires
        (
            [
                (b"date", b"Sun, 06 Nov 1994 08:49:37 GMT"),
                (b"expires", b"Sun, 06 Nov 1994 08:50:07 GMT"),
            ],
            30.0,
        ),
        ([(b"expires", email_date(NOW + 42))], 42.0),  # no Date: against now
        (cc("public"), 0.0),  # no lifetime, no default_ttl: refused (ttl 0)
    ],
)
def test_freshness_lifetime(headers: list[tuple[bytes, bytes]], ttl: float) -> None:
    assert storability(headers).ttl == ttl


def test_default_ttl_applies_only_without_a_stated_lifetime() -> None:
    assert storability([], default_ttl=20.0).ttl == 20.0
    assert storability([], default_ttl=2000.0).ttl == 300.0
    assert storability(cc("max-age=5"), default_ttl=20.0).ttl == 5.0


def test_a_users_partition_stores_private_and_ignores_s_maxage() -> None:
    partition = storability(cc("private, max-age=60, s-maxage=5"), private_partition=True)
    assert partition.ttl == 60.0
    assert storability(cc("private, max-age=60")).reason == "private"
    # Still never: no-store, Set-Cookie.
    assert storability(cc("no-store"), private_partition=True).reason == "no-store"


# -- conditional requests ---------------------------------------------------------


ETAG = [(b"etag", b'W/"v1"'), (b"last-modified", b"Sun, 06 Nov 1994 08:49:37 GMT")]


@pytest.mark.parametrize(
    ("request_headers", "expected"),
    [
        ([(b"if-none-match", b'"v1"')], True),  # weak comparison ignores W/
        ([(b"if-none-match", b'W/"v1"')], True),
        ([(b"if-none-match", b'"v0", "v1"')], True),
        ([(b"if-none-match", b'"v0"'), (b"if-none-match", b'"v1"')], True),
        ([(b"if-none-match", b"*")], True),
        ([(b"if-none-match", b'"v2"')], False),
        # If-None-Match wins: a matching date does not help a wrong tag.
        (
            [(b"if-none-match", b'"v2"'), (b"if-modified-since", b"Sun, 06 Nov 1994 08:49:37 GMT")],
            False,
        ),
        ([(b"if-modified-since", b"Sun, 06 Nov 1994 08:49:37 GMT")], True),
        ([(b"if-modified-since", b"Mon, 07 Nov 1994 08:49:37 GMT")], True),
        ([(b"if-modified-since", b"Sat, 05 Nov 1994 08:49:37 GMT")], False),
        ([(b"if-modified-since", b"garbage")], False),
        ([], False),
    ],
)
def test_not_modified(request_headers: list[tuple[bytes, bytes]], expected: bool) -> None:
    assert not_modified(request_headers, ETAG) is expected


def test_not_modified_needs_validators() -> None:
    assert not not_modified([(b"if-none-match", b'"v1"')], [])
    assert not not_modified([(b"if-modified-since", b"Sun, 06 Nov 1994 08:49:37 GMT")], [])
    assert not_modified([(b"if-none-match", b"*")], [])  # any current representation


def test_huge_numbers_never_overflow() -> None:
    huge = storability(cc("max-age=" + "9" * 5000), max_ttl=math.inf)
    assert huge.ttl == float(DELTA_SECONDS_CAP)
