"""The caches one exporter reads: names checked once, membership safe across threads."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._spec import StatsSource


def _describe(cache: object) -> str:
    """``type(cache).__name__`` and its name, for error messages (no ``repr``: it may raise)."""
    try:
        name = getattr(cache, "name", None)
    except Exception:
        name = None
    kind = type(cache).__name__
    return f"{kind} named {name!r}" if isinstance(name, str) else kind


class CacheSet:
    """Named caches, each name at most once.

    Scrapes read :meth:`members` without a lock (a tuple replaced whole on
    every change), so adding or removing a cache from another thread never
    tears a scrape and a scrape never waits for a writer.
    """

    __slots__ = ("_lock", "_members")

    def __init__(self, caches: Iterable[StatsSource]) -> None:
        self._lock = threading.Lock()
        self._members: tuple[tuple[str, StatsSource], ...] = ()
        for cache in caches:
            self.add(cache)

    def add(self, cache: StatsSource) -> None:
        """Export ``cache`` under its name; adding the same cache again does nothing."""
        stats = getattr(cache, "stats", None)
        if not callable(stats):
            raise TypeError(
                f"cache must have a stats() method and a name, such as sweepcache.Cache, "
                f"got {type(cache).__name__}"
            )
        name = cache.name
        if not isinstance(name, str) or not name:
            raise ValueError(
                "cache must have a non-empty name to be exported, as in "
                f"Cache(record_stats=True, name='users'); got name={name!r} "
                f"for a {type(cache).__name__}"
            )
        with self._lock:
            for member_name, member in self._members:
                if member is cache:
                    return
                if member_name == name:
                    raise ValueError(
                        f"cache name {name!r} is already exported by another cache "
                        f"({_describe(member)}): names must be unique"
                    )
            self._members = (*self._members, (name, cache))

    def remove(self, cache: StatsSource) -> None:
        """Stop exporting ``cache``."""
        with self._lock:
            members = tuple((n, c) for n, c in self._members if c is not cache)
            if len(members) == len(self._members):
                raise ValueError(f"cache is not exported here: {_describe(cache)}")
            self._members = members

    def members(self) -> tuple[tuple[str, StatsSource], ...]:
        """``(name, cache)`` pairs, in the order they were added."""
        return self._members

    def caches(self) -> tuple[StatsSource, ...]:
        """The caches, in the order they were added."""
        return tuple(cache for _, cache in self._members)
