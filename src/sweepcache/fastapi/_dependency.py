"""``CacheDependency``: a FastAPI dependency that hands an endpoint a cache from ``app.state``."""

# No ``from __future__ import annotations`` here: FastAPI reads the annotation
# of ``__call__``'s parameter at run time to know it must pass the connection.

from typing import Generic, final

from starlette.requests import HTTPConnection

from sweepcache import Cache
from sweepcache._expiry import K, V


@final
class CacheDependency(Generic[K, V]):
    """A dependency returning the :class:`~sweepcache.Cache` set on ``app.state`` as ``name``.

    :func:`lifespan` sets the caches it is given by name; the dependency
    finds them there, so that an endpoint declares what it needs and a test
    can hand it another cache (``app.dependency_overrides[dependency] = ...``,
    see the FastAPI guide). It works for websockets too.

    Args:
        name: The attribute of ``app.state`` holding the cache.

    Raises:
        ValueError: ``name`` is not an identifier.

    Example::

        users_cache = CacheDependency[int, User]("users")
        UsersCache = Annotated[Cache[int, User], Depends(users_cache)]

        @app.get("/users/{user_id}")
        async def get_user(user_id: int, cache: UsersCache) -> User: ...
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"name must be an identifier (an app.state attribute), got {name!r}")
        self._name = name

    @property
    def name(self) -> str:
        """The attribute of ``app.state`` holding the cache."""
        return self._name

    def __call__(self, connection: HTTPConnection) -> Cache[K, V]:
        """Return ``connection.app.state.<name>``.

        Raises:
            RuntimeError: ``app.state`` has no cache under that name (the app
                was started without :func:`lifespan` naming it), or holds
                something else than a :class:`sweepcache.Cache`.
        """
        cache = getattr(connection.app.state, self._name, None)
        if not isinstance(cache, Cache):
            found = "nothing" if cache is None else f"a {type(cache).__name__}"
            raise RuntimeError(
                f"app.state.{self._name} holds {found}, not a sweepcache.Cache: start the "
                f"app with sweepcache.fastapi.lifespan({self._name}=...) or set it yourself"
            )
        return cache

    def __repr__(self) -> str:
        return f"CacheDependency({self._name!r})"
