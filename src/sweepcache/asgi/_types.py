"""The ASGI 3 interface, as plain types (no dependency on a framework).

Values are typed ``object``: the middleware checks what it reads. The types
are compatible with Starlette's (which use ``Any``), so a
:class:`~sweepcache.asgi.CacheMiddleware` goes into ``app.add_middleware``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence

#: The connection scope (``scope["type"] == "http"`` for requests).
Scope = MutableMapping[str, object]
#: One ASGI event (``http.request``, ``http.response.start``...).
Message = MutableMapping[str, object]
#: Awaits the next event from the client.
Receive = Callable[[], Awaitable[Message]]
#: Sends one event to the client.
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Header lines as ASGI carries them: lower-case names, raw bytes.
Headers = Sequence[tuple[bytes, bytes]]
