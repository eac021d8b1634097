"""HTTP caching rules (RFC 9111, RFC 9110) as pure functions: no I/O, no clock reads.

The middleware (``_middleware.py``) asks these functions what a request may
get from the cache and whether a response may be stored, and for how long.
Every decision here is synchronous and testable on its own; where the RFC
leaves a choice, the comment says which one is taken and why.

Headers arrive as ASGI gives them: a list of ``(name, value)`` byte pairs with
lower-case names.
"""

from __future__ import annotations

import dataclasses
import email.utils
import math
import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._types import Headers

#: RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2**31.
DELTA_SECONDS_CAP: Final = 2**31

#: Status codes a response may be stored with (RFC 9110 §15.1, "heuristically
#: cacheable"), without 206: partial content is never stored (ranges pass through).
DEFAULT_CACHEABLE_STATUSES: Final = frozenset(
    {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}
)

#: Methods that never change state (RFC 9110 §9.2.1); any other one is unsafe
#: and, when it succeeds, invalidates its target (RFC 9111 §4.4).
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_DELTA_SECONDS = re.compile(r"[0-9]+\Z")


def parse_cache_control(values: Iterable[bytes]) -> dict[str, str | None]:
    """Directives of one or more ``Cache-Control`` field values, lower-cased names.

    A directive given twice keeps its first value (RFC 9111 §4.2.1 allows
    using the first occurrence). Quoted values are unquoted; commas inside
    quotes do not split. Bytes that are not ASCII are dropped with the
    directive they belong to (they cannot be a valid directive anyway).

    Example::

        parse_cache_control([b'max-age=60, no-cache="set-cookie"'])
        # -> {"max-age": "60", "no-cache": "set-cookie"}
    """
    directives: dict[str, str | None] = {}
    for raw in values:
        text = raw.decode("latin-1")
        for part in _split_commas(text):
            name, sep, value = part.partition("=")
            name = name.strip().lower()
            if not name or not name.isascii() or name in directives:
                continue
            if not sep:
                directives[name] = None
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"')
            directives[name] = value
    return directives


def _split_commas(text: str) -> list[str]:
    """Split on commas outside double quotes."""
    if '"' not in text:
        return text.split(",")
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def delta_seconds(value: str | None) -> int | None:
    """A ``delta-seconds`` value (RFC 9111 §1.2.2), or ``None`` if it is not one.

    Only digits are valid: ``-1``, ``1.5``, ``1e3``, ``""`` and a missing
    value are not. A value too large to represent counts as 2**31 seconds.
    """
    if value is None or not _DELTA_SECONDS.match(value):
        return None
    if len(value) > 10:  # more digits than 2**31 has: no need to convert
        return DELTA_SECONDS_CAP
    return min(int(value), DELTA_SECONDS_CAP)


def http_date(value: bytes | str | None) -> float | None:
    """Seconds since the epoch of an HTTP date (RFC 9110 §5.6.7), or ``None``.

    Accepts the IMF-fixdate form and the obsolete forms :mod:`email.utils`
    parses; anything else (``0``, ``-1``, garbage) is ``None``.
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        seconds = parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    return seconds if math.isfinite(seconds) else None


def header_values(headers: Headers, name: bytes) -> list[bytes]:
    """Every value of header ``name`` (lower-case), in order."""
    return [value for key, value in headers if key == name]


def vary_names(headers: Headers) -> tuple[str, ...] | None:
    """Sorted lower-case names of the response's ``Vary``; ``None`` for ``Vary: *``."""
    names: set[str] = set()
    for value in header_values(headers, b"vary"):
        for part in value.decode("latin-1").split(","):
            name = part.strip().lower()
            if name == "*":
                return None
            if name:
                names.add(name)
    return tuple(sorted(names))


def request_vary_values(headers: Headers, names: Sequence[str]) -> tuple[str, ...]:
    """The request's values of the ``Vary`` header ``names``, one string each.

    Several lines of one header are joined with ``", "`` (RFC 9110 §5.3);
    whitespace around each value is removed (RFC 9111 §4.1 allows
    normalising). A missing header gives ``""`` and a present one its value
    after ``=``, so that a missing header only matches a missing one.
    """
    values: list[str] = []
    for name in names:
        lines = header_values(headers, name.encode("latin-1"))
        if lines:
            values.append("=" + ", ".join(line.decode("latin-1").strip() for line in lines))
        else:
            values.append("")
    return tuple(values)


# -- requests -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RequestDirectives:
    """What a request's ``Cache-Control`` asks of a cache (RFC 9111 §5.2.1)."""

    #: ``no-store``: neither use nor store a response for this request.
    no_store: bool = False
    #: ``no-cache``, or ``max-age=0``: do not use a stored response without
    #: going to the origin (the app) first.
    no_cache: bool = False
    #: ``max-age=N``: a stored response must be at most N seconds old.
    max_age: int | None = None
    #: ``min-fresh=N``: a stored response must stay fresh N more seconds.
    min_fresh: int | None = None
    #: ``only-if-cached``: answer from the cache or with 504.
    only_if_cached: bool = False


NO_DIRECTIVES: Final = RequestDirectives()


def request_directives(values: Sequence[bytes]) -> RequestDirectives:
    """Parse the request's ``Cache-Control`` values.

    An invalid ``max-age`` (``max-age=soon``) is treated as ``max-age=0``,
    the cautious reading: the client wanted something fresh.
    ``max-stale`` is ignored: this cache never serves a stale response.
    """
    if not values:
        return NO_DIRECTIVES
    directives = parse_cache_control(values)
    max_age: int | None = None
    if "max-age" in directives:
        max_age = delta_seconds(directives["max-age"])
        if max_age is None:
            max_age = 0
    min_fresh = delta_seconds(directives.get("min-fresh")) if "min-fresh" in directives else None
    return RequestDirectives(
        no_store="no-store" in directives,
        no_cache="no-cache" in directives or max_age == 0,
        max_age=max_age,
        min_fresh=min_fresh,
        only_if_cached="only-if-cached" in directives,
    )


# -- responses ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Storability:
    """Whether a response may be stored, and for how long.

    ``ttl`` is the time the stored copy stays fresh from now: its freshness
    lifetime, capped, minus the age it already had (an ``Age`` header sent
    by the app). ``reason`` says why it may not be stored (``ttl`` is 0 then).
    """

    ttl: float
    reason: str | None = None
    #: Freshness lifetime (capped) and the age the response arrived with.
    lifetime: float = 0.0
    initial_age: float = 0.0

    @property
    def storable(self) -> bool:
        """Whether the response may be stored."""
        return self.reason is None


def _refuse(reason: str) -> Storability:
    return Storability(0.0, reason)


def response_storability(
    status: int,
    headers: Headers,
    *,
    statuses: frozenset[int],
    max_ttl: float,
    default_ttl: float | None,
    private_partition: bool,
    now: float,
) -> Storability:
    """Decide whether a response to a GET may be stored (RFC 9111 §3, §4.2.1).

    Args:
        status: The response's status code.
        headers: Its headers.
        statuses: Status codes that may be stored.
        max_ttl: Cap on the freshness lifetime, in seconds.
        default_ttl: Lifetime of a response that states none (no
            ``s-maxage``, ``max-age`` or ``Expires``); ``None`` refuses it.
        private_partition: The request was keyed by user, so this store
            acts as that user's private cache: ``private`` responses may be
            stored and ``s-maxage`` (meant for shared caches) is not used.
        now: The wall-clock time (:func:`time.time`), for ``Expires``
            without a ``Date``.

    Never stored: ``no-store``; ``no-cache`` (it would need revalidating on
    every use: going to the app each time is the same thing); ``private``
    outside a user's partition; ``Set-Cookie``; ``Vary: *``; a status not in
    ``statuses``; a lifetime of 0, an invalid ``max-age`` or ``Expires``
    (RFC 9111 §4.2.1: treat as stale).
    """
    if status not in statuses:
        return _refuse(f"status {status}")
    directives = parse_cache_control(header_values(headers, b"cache-control"))
    if "no-store" in directives:
        return _refuse("no-store")
    if "no-cache" in directives:
        return _refuse("no-cache")
    if "private" in directives and not private_partition:
        return _refuse("private")
    if header_values(headers, b"set-cookie"):
        return _refuse("set-cookie")
    if vary_names(headers) is None:
        return _refuse("vary *")

    lifetime: float | None = None
    for name in ("max-age",) if private_partition else ("s-maxage", "max-age"):
        if name in directives:
            seconds = delta_seconds(directives[name])
            if seconds is None:
                return _refuse(f"invalid {name}")
            lifetime = float(seconds)
            break
    if lifetime is None:
        expires_lines = header_values(headers, b"expires")
        if expires_lines:
            expires = http_date(expires_lines[0])
            if expires is None:
                return _refuse("invalid expires")
            date_lines = header_values(headers, b"date")
            date = http_date(date_lines[0]) if date_lines else None
            lifetime = expires - (now if date is None else date)
    if lifetime is None:
        if default_ttl is None:
            return _refuse("no freshness lifetime")
        lifetime = default_ttl
    lifetime = min(lifetime, max_ttl)
    age_lines = header_values(headers, b"age")
    initial_age = float(delta_seconds(age_lines[0].decode("latin-1")) or 0) if age_lines else 0.0
    ttl = lifetime - initial_age
    if not ttl > 0.0:
        return _refuse("stale")
    return Storability(ttl, None, lifetime, initial_age)


# -- conditional requests (RFC 9110 §13) ----------------------------------------


def _opaque_tags(value: str) -> list[str]:
    """Entity tags of an ``If-None-Match`` or ``ETag`` value, without ``W/``."""
    tags: list[str] = []
    for part in _split_commas(value):
        tag = part.strip()
        tag = tag.removeprefix("W/")
        if tag:
            tags.append(tag)
    return tags


def not_modified(
    request_headers: Headers,
    response_headers: Headers,
) -> bool:
    """Whether a conditional GET/HEAD gets 304 for this response.

    ``If-None-Match`` (weak comparison, ``*`` matches any current
    representation) takes precedence; ``If-Modified-Since`` counts only
    without it, and only against a valid ``Last-Modified``.
    """
    if_none_match = header_values(request_headers, b"if-none-match")
    if if_none_match:
        wanted = _opaque_tags(", ".join(v.decode("latin-1") for v in if_none_match))
        if "*" in wanted:
            return True
        etags = header_values(response_headers, b"etag")
        if not etags:
            return False
        current = _opaque_tags(etags[0].decode("latin-1"))
        return bool(current) and current[0] in wanted
    if_modified_since = header_values(request_headers, b"if-modified-since")
    if not if_modified_since:
        return False
    since = http_date(if_modified_since[0])
    modified_lines = header_values(response_headers, b"last-modified")
    modified = http_date(modified_lines[0]) if modified_lines else None
    return since is not None and modified is not None and modified <= since


#: Headers a 304 carries over from the 200 it stands for (RFC 9110 §15.4.5).
NOT_MODIFIED_HEADERS: Final = frozenset(
    {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"}
)
