"""A Redis second tier: a shared L2 for many processes, with L1 invalidation across them.

Needs the ``redis`` extra (``pip install 'sweepcache[redis]'``: coredis, which
runs on asyncio and trio). ``import sweepcache`` never imports this module.

* :class:`RedisCache`: the async API of :class:`sweepcache.Cache` over a
  Redis namespace, with fleet-wide single-flight ``get_or_load``.
* :class:`TieredCache`: a local :class:`sweepcache.Cache` (L1) in front of a
  :class:`RedisCache` (L2), whose L1 entries are dropped in every process as
  soon as any process writes or deletes the key.
* Serializers: :class:`JSONSerializer` (the default), :class:`OrjsonSerializer`,
  :class:`MsgpackSerializer` and, only on explicit opt-in,
  :class:`SignedPickleSerializer` (HMAC-SHA256 checked before unpickling).

Example::

    from sweepcache import Cache
    from sweepcache.redis import RedisCache, TieredCache

    tiered = TieredCache(
        l1=Cache(default_ttl=30),
        l2=RedisCache(url="redis://127.0.0.1:6379/0", prefix="app:"),
    )
    async with tiered:
        user = await tiered.get_or_load("user:7", load_user, ttl=300)
"""

from __future__ import annotations

from . import _require  # noqa: F401 - first: without coredis, an ImportError naming the extra
from ._common import L2Error as L2Error
from ._common import RedisStats as RedisStats
from ._common import ValueTooLarge as ValueTooLarge
from ._keys import NOT_A_KEY as NOT_A_KEY
from ._keys import KeyCodec as KeyCodec
from ._rediscache import RedisCache as RedisCache
from ._serializers import JSONSerializer as JSONSerializer
from ._serializers import MsgpackSerializer as MsgpackSerializer
from ._serializers import OrjsonSerializer as OrjsonSerializer
from ._serializers import Serializer as Serializer
from ._serializers import SignedPickleSerializer as SignedPickleSerializer
from ._tiered import TieredCache as TieredCache
from ._tiered import TierStats as TierStats

__all__ = (
    "NOT_A_KEY",
    "JSONSerializer",
    "KeyCodec",
    "L2Error",
    "MsgpackSerializer",
    "OrjsonSerializer",
    "RedisCache",
    "RedisStats",
    "Serializer",
    "SignedPickleSerializer",
    "TierStats",
    "TieredCache",
    "ValueTooLarge",
)

KeyCodec.__module__ = __name__
