"""Why an entry left the cache, and releasing what left outside every lock.

Every path that removes entries (overwrite, delete, clear, expiry on read, the
sweeper, writes that reclaim, eviction, tag invalidation) collects what it
removed while it holds a shard's lock, and hands it to :func:`release` after
the lock is gone. Dropping the last reference to a key or value runs its
``__del__`` (or a weakref callback, or a finaliser), which may call back into
the cache; under the lock that would deadlock.
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING, Any, Final, final

from ._arguments import safe_repr

if TYPE_CHECKING:
    from collections.abc import Callable

logger: Final = logging.getLogger("sweepcache")


@final
class RemovalCause(enum.Enum):
    """Why an entry left the cache, as given to an ``on_removal`` listener.

    The names follow Caffeine's ``RemovalCause``.

    Example::

        def on_removal(key: str, value: bytes, cause: RemovalCause) -> None:
            if cause.evicted:
                print(f"{key} was evicted ({cause.name})")
    """

    #: Removed by the user: ``delete``, ``delete_many``, ``expire(key, 0)``,
    #: ``set(key, value, ttl=0)``, ``clear``, or a tag invalidation.
    EXPLICIT = "explicit"
    #: Overwritten by ``set`` (or a load) of the same key.
    REPLACED = "replaced"
    #: Its time to live ran out; reclaimed by a read, a write or the sweeper.
    EXPIRED = "expired"
    #: Evicted to keep the cache within ``maxsize`` (or not stored at all
    #: because it alone weighs more than ``maxsize``).
    SIZE = "size"

    @property
    def evicted(self) -> bool:
        """Whether the cache removed the entry on its own (``EXPIRED`` or ``SIZE``)."""
        return self is RemovalCause.EXPIRED or self is RemovalCause.SIZE

    def __repr__(self) -> str:
        return f"RemovalCause.{self.name}"


EXPLICIT: Final = RemovalCause.EXPLICIT
REPLACED: Final = RemovalCause.REPLACED
EXPIRED: Final = RemovalCause.EXPIRED
SIZE: Final = RemovalCause.SIZE

#: One removed entry: ``(key, entry, cause)``; ``entry[0]`` is the value.
Removal = tuple[Any, tuple[Any, ...], RemovalCause]


class Trash:
    """What a write let go of, beyond the entry it replaced (see ``Shard.put``)."""

    __slots__ = ("dropped", "removed", "replaced")

    def __init__(self, replaced: tuple[Any, ...] | None = None) -> None:
        #: The entry the write replaced, if any.
        self.replaced = replaced
        #: Entries reclaimed on the way (expired).
        self.removed: list[Removal] = []
        #: Other references to free after the lock (stale index copies...).
        self.dropped: list[object] = []


def notify(listener: Callable[[Any, Any, RemovalCause], object] | None, removal: Removal) -> None:
    """Tell ``listener`` about one removal; log (never raise) what it raises."""
    if listener is None:
        return
    key, entry, cause = removal
    try:
        listener(key, entry[0], cause)
    except Exception:
        logger.exception(
            "sweepcache: on_removal listener failed for key %s (%s)", safe_repr(key), cause.name
        )


def release(
    listener: Callable[[Any, Any, RemovalCause], object] | None,
    removed: list[Removal],
    dropped: list[object] | None = None,
) -> None:
    """Notify ``listener`` of every removal, then let go of everything collected.

    Called with no lock held, in removal order.
    """
    if listener is not None:
        for removal in removed:
            notify(listener, removal)
    removed.clear()
    if dropped:
        dropped.clear()
