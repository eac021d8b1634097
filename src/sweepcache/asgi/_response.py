"""What the response cache stores: a complete response, or a pass marker."""

from __future__ import annotations

from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Hashable


@final
class CachedResponse:
    """A response stored by :class:`~sweepcache.asgi.CacheMiddleware`.

    The values of the middleware's :class:`~sweepcache.Cache` are these;
    build that cache as ``Cache[ResponseKey, CachedResponse]``. Instances are
    made by the middleware and never change; read them to inspect the cache.

    A *pass marker* (``passes`` true) is stored instead of a response that
    could not be stored (``no-store``, ``Set-Cookie``, too large...): for a
    short while, requests for its key go straight to the app instead of
    waiting for one another (Varnish's "hit-for-pass").

    Example::

        for key in keys:
            stored = responses.get_nowait(key)
            if stored is not None and not stored.passes:
                print(stored.status, len(stored.body))
    """

    __slots__ = (
        "body",
        "headers",
        "initial_age",
        "passes",
        "status",
        "stored_at",
        "tags",
        "ttl",
        "vary",
        "vary_values",
    )

    def __init__(
        self,
        *,
        status: int,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes,
        tags: frozenset[Hashable],
        ttl: float,
        stored_at: float,
        initial_age: float = 0.0,
        vary: tuple[str, ...] = (),
        vary_values: tuple[str, ...] = (),
        passes: bool = False,
    ) -> None:
        #: The status code.
        self.status = status
        #: Header lines as stored (without ``Age``, ``X-Cache``, the tag header).
        self.headers = headers
        #: The complete body.
        self.body = body
        #: Tags of the entry: the URL's tag and those the app sent.
        self.tags = tags
        #: Seconds the entry was to stay fresh when it was stored.
        self.ttl = ttl
        #: When it was stored, by the middleware's clock.
        self.stored_at = stored_at
        #: Age the response already had when the app sent it (its ``Age``).
        self.initial_age = initial_age
        #: Names of the request headers the response varies on (``Vary``).
        self.vary = vary
        #: The values those headers had in the request that produced it.
        self.vary_values = vary_values
        #: A pass marker rather than a response: see the class docstring.
        self.passes = passes

    def __repr__(self) -> str:
        if self.passes:
            return f"<CachedResponse pass marker tags={sorted(map(repr, self.tags))}>"
        return (
            f"<CachedResponse status={self.status} body={len(self.body)} bytes "
            f"ttl={self.ttl!r} vary={self.vary!r}>"
        )
