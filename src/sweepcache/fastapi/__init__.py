"""FastAPI and Starlette helpers: run caches with the app, hand them to endpoints.

* :func:`lifespan` runs the sweepers of the caches it is given (and the
  background tasks of any cache tier) from startup to shutdown, sets the
  named ones on ``app.state``, and wraps the app's own lifespan;
  :class:`running` does the same inside a lifespan you write.
* :class:`CacheDependency` is a typed dependency reading a cache from
  ``app.state``; tests override it with a cache on a
  :class:`~sweepcache.testing.FakeClock`.
* :class:`FastAPICacheBackend` puts sweepcache behind fastapi-cache2's
  ``@cache`` decorator (it needs ``pip install 'sweepcache[fastapi-cache2]'``).

Needs Starlette (``pip install 'sweepcache[fastapi]'``).

Example::

    from typing import Annotated

    from fastapi import Depends, FastAPI

    from sweepcache import Cache
    from sweepcache.fastapi import CacheDependency, lifespan

    users = Cache[int, dict](default_ttl=300, name="users")
    users_cache = CacheDependency[int, dict]("users")
    app = FastAPI(lifespan=lifespan(users=users))

    @app.get("/users/{user_id}")
    async def get_user(
        user_id: int, cache: Annotated[Cache[int, dict], Depends(users_cache)]
    ) -> dict: ...
"""

from typing import TYPE_CHECKING

try:
    import starlette  # noqa: F401 - only checks that the extra is installed
except ImportError as exc:  # pragma: no cover - the test extra installs it
    raise ImportError(
        "sweepcache.fastapi needs FastAPI (or Starlette): pip install 'sweepcache[fastapi]'"
    ) from exc

from ._dependency import CacheDependency as CacheDependency
from ._lifespan import Background as Background
from ._lifespan import SupportsRun as SupportsRun
from ._lifespan import SupportsRunSweeper as SupportsRunSweeper
from ._lifespan import lifespan as lifespan
from ._lifespan import running as running

if TYPE_CHECKING:
    from ._backend import FastAPICacheBackend as FastAPICacheBackend

__all__ = (
    "Background",
    "CacheDependency",
    "FastAPICacheBackend",
    "SupportsRun",
    "SupportsRunSweeper",
    "lifespan",
    "running",
)

for _exported in (CacheDependency, SupportsRun, SupportsRunSweeper, lifespan, running):
    _exported.__module__ = __name__
del _exported


def __getattr__(name: str) -> object:
    # FastAPICacheBackend subclasses fastapi-cache2's Backend: import it (and
    # so fastapi-cache2) only when asked for, so that the rest works without it.
    if name == "FastAPICacheBackend":
        try:
            from ._backend import FastAPICacheBackend
        except ImportError as exc:
            if exc.name is None or not exc.name.startswith("fastapi_cache"):
                raise
            raise ImportError(
                "sweepcache.fastapi.FastAPICacheBackend needs fastapi-cache2: "
                "pip install 'sweepcache[fastapi-cache2]'"
            ) from exc
        FastAPICacheBackend.__module__ = __name__
        globals()[name] = FastAPICacheBackend
        return FastAPICacheBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
