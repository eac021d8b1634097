"""An HTTP response cache for ASGI apps (FastAPI, Starlette, any ASGI 3 app).

:class:`CacheMiddleware` stores complete GET responses in a
:class:`sweepcache.Cache` and follows the HTTP caching rules of RFC 9111 for a
shared cache: it never stores ``no-store``, ``private`` or ``Set-Cookie``
responses, never serves a request that carries credentials unless told how
to key by user, keys on ``Vary``, answers conditional requests with 304,
collapses concurrent misses into one call of the app, and invalidates a URL
after a successful unsafe request to it.

It needs nothing beyond anyio (``pip install 'sweepcache[asgi]'`` names it).

Example::

    from sweepcache import Cache
    from sweepcache.asgi import CacheMiddleware, CachedResponse, ResponseKey

    responses = Cache[ResponseKey, CachedResponse](name="responses")
    app = CacheMiddleware(app, cache=responses, max_ttl=60)
"""

from ._middleware import CacheMiddleware as CacheMiddleware
from ._middleware import ResponseKey as ResponseKey
from ._middleware import credentials_key as credentials_key
from ._middleware import url_tag as url_tag
from ._response import CachedResponse as CachedResponse
from ._types import ASGIApp as ASGIApp
from ._types import Message as Message
from ._types import Receive as Receive
from ._types import Scope as Scope
from ._types import Send as Send

__all__ = (
    "ASGIApp",
    "CacheMiddleware",
    "CachedResponse",
    "Message",
    "Receive",
    "ResponseKey",
    "Scope",
    "Send",
    "credentials_key",
    "url_tag",
)

CacheMiddleware.__module__ = __name__
CachedResponse.__module__ = __name__
credentials_key.__module__ = __name__
url_tag.__module__ = __name__
for _protocol in (ASGIApp, Receive, Send):
    _protocol.__module__ = __name__
del _protocol
