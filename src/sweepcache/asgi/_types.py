"""The ASGI 3 interface, as plain types (no dependency on a framework).

Values are typed ``object``: the middleware checks what it reads. The types
are structural, so Starlette's and any framework's ASGI apps and callables
fit them, and a :class:`~sweepcache.asgi.CacheMiddleware` goes into
``app.add_middleware``.
"""

from __future__ import annotations

from collections.abc import Awaitable, MutableMapping, Sequence
from typing import Protocol

#: The connection scope (``scope["type"] == "http"`` for requests).
Scope = MutableMapping[str, object]
#: One ASGI event (``http.request``, ``http.response.start``...).
Message = MutableMapping[str, object]
#: Header lines as ASGI carries them: lower-case names, raw bytes.
Headers = Sequence[tuple[bytes, bytes]]


class Receive(Protocol):
    """Awaits the next event from the client (the ASGI ``receive`` callable)."""

    def __call__(self) -> Awaitable[Message]:
        """Return the next event."""
        ...


class Send(Protocol):
    """Sends one event to the client (the ASGI ``send`` callable)."""

    def __call__(self, message: Message, /) -> Awaitable[None]:
        """Send ``message``."""
        ...


class ASGIApp(Protocol):
    """An ASGI 3 application: ``await app(scope, receive, send)``."""

    def __call__(self, scope: Scope, receive: Receive, send: Send, /) -> Awaitable[None]:
        """Handle one connection."""
        ...
