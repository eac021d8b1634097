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

__all__ = ("CacheMiddleware", "CachedResponse", "ResponseKey", "credentials_key", "url_tag")

CacheMiddleware.__module__ = __name__
CachedResponse.__module__ = __name__
credentials_key.__module__ = __name__
url_tag.__module__ = __name__
