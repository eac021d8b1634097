"""The Redis tier of the repository caches (``--redis``): one namespace per cache.

The Redis tier's default serializer takes JSON-able values; users and
profiles are frozen dataclasses, so they get a serializer of their own: JSON
with the class named, and nothing in a payload that could run code.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

from sweepcache.redis import JSONSerializer, RedisCache, TieredCache

from .repository import Profile, User

if TYPE_CHECKING:
    from sweepcache import Cache

K = TypeVar("K")
V = TypeVar("V")

#: The classes a payload may name.
_CLASSES: dict[str, type[User] | type[Profile]] = {"user": User, "profile": Profile}


class UserSerializer:
    """``User``, ``Profile`` and ``None`` (a lookup that found nothing) as JSON.

    Example::

        serializer = UserSerializer()
        ada = User(id=1, email="ada@example.com", name="Ada", version=1)
        assert serializer.loads(serializer.dumps(ada)) == ada
    """

    def __init__(self) -> None:
        self._json = JSONSerializer()

    def dumps(self, value: object) -> bytes:
        """The payload of a user, a profile or ``None``."""
        if value is None:
            return self._json.dumps(None)
        for kind, cls in _CLASSES.items():
            if type(value) is cls:
                return self._json.dumps({"class": kind, **dataclasses.asdict(value)})
        raise TypeError(f"cannot store a {type(value).__name__} in Redis")

    def loads(self, payload: bytes) -> object:
        """The user, profile or ``None`` of a payload made by :meth:`dumps`."""
        data: Any = self._json.loads(payload)
        if data is None:
            return None
        return _CLASSES[data.pop("class")](**data)


def tiered(local: Cache[K, V], url: str, prefix: str, ttl: float) -> TieredCache[K, V]:
    """``local`` in front of the Redis namespace ``<prefix><its name>:``."""
    l2 = RedisCache[K, V](
        url=url,
        prefix=f"{prefix}{local.name}:",
        default_ttl=ttl,
        serializer=UserSerializer(),
        name=local.name,
    )
    return TieredCache(l1=local, l2=l2)
