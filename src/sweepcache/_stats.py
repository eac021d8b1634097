"""Statistics: counters a cache keeps with ``record_stats=True``, and their snapshot.

Counting costs nothing unless statistics are on (the cache is built with the
counting read and write paths only then). When on:

* hits and misses are counted on the read path by ``itertools.count``
  objects: one C call, no lock, and exact across threads (the increment is
  a single step under the GIL, and is atomic on free-threaded 3.13 as well,
  as the thread tests check);
* so is everything else that is a count (puts, loads, removals by cause and
  by who reclaimed an expired entry), after the shard lock is released; only
  the sums of weights (with a weigher) and of load times take a lock of
  their own. Every count is exact, across threads too.

:meth:`sweepcache.Cache.stats` returns a :class:`CacheStats` snapshot;
``later - earlier`` is the activity between two snapshots (Caffeine's
``CacheStats.minus``).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, final

from ._removal import EXPIRED, EXPLICIT, REPLACED, SIZE, RemovalCause

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._removal import Removal

#: Who reclaimed an expired entry: a read that found it, the sweeper, or a
#: write (a new key reclaiming on the way, a delete or clear that found it
#: expired, or a bounded cache making room).
RECLAIMERS: Final = ("read", "sweeper", "write")


def count_value(counter: itertools.count[int]) -> int:
    """The next value ``counter`` would return, without taking it."""
    return int(repr(counter)[6:-1])  # "count(42)"


@final
@dataclasses.dataclass(frozen=True, slots=True)
class CacheStats:
    """An immutable snapshot of a cache's counters (``Cache(record_stats=True)``).

    Counts are totals since the cache was built; subtract two snapshots
    (``later - earlier``) for the activity in between. ``entries`` and
    ``weight`` describe the cache at the instant of the snapshot (and are the
    later snapshot's in a difference).

    Example::

        cache = Cache[str, int](record_stats=True)
        before = cache.stats()
        ...
        window = cache.stats() - before
        print(f"hit ratio {window.hit_ratio:.1%}")
    """

    #: Reads that found a live entry (``get``, ``get_many``, ``get_or_load``,
    #: ``@cached`` calls; ``in`` and ``ttl`` are not counted).
    hits: int = 0
    #: Reads that found nothing live.
    misses: int = 0
    #: Loads (``get_or_load``, ``@cached``, refreshes) that returned a value.
    load_successes: int = 0
    #: Loads that raised, timed out or were cancelled.
    load_failures: int = 0
    #: Seconds spent in loads, successful or not (wall time, ``time.perf_counter``).
    total_load_time: float = 0.0
    #: Values stored (``set``, ``set_many``, loads), overwrites included.
    puts: int = 0
    #: Entries evicted to respect ``maxsize`` (or too heavy to be stored).
    size_evictions: int = 0
    #: Their total weight (entries, without a weigher).
    size_evicted_weight: int = 0
    #: Expired entries reclaimed by a read that found them.
    expirations_by_read: int = 0
    #: Expired entries reclaimed by the sweeper.
    expirations_by_sweeper: int = 0
    #: Expired entries reclaimed by a write (see ``RECLAIMERS``).
    expirations_by_write: int = 0
    #: Total weight of the expired entries reclaimed.
    expired_weight: int = 0
    #: Entries removed by ``delete``, ``clear``, ``expire(key, 0)`` or tag invalidation.
    explicit_removals: int = 0
    #: Entries replaced by an overwrite.
    replacements: int = 0
    #: Entries stored at the instant of the snapshot (expired ones not yet reclaimed included).
    entries: int = 0
    #: Their total weight (equal to ``entries`` without a weigher).
    weight: int = 0

    @property
    def requests(self) -> int:
        """Hits plus misses."""
        return self.hits + self.misses

    @property
    def hit_ratio(self) -> float:
        """Hits over requests; 1.0 when there was no request (as Caffeine)."""
        requests = self.requests
        return 1.0 if requests == 0 else self.hits / requests

    @property
    def miss_ratio(self) -> float:
        """Misses over requests; 0.0 when there was no request."""
        requests = self.requests
        return 0.0 if requests == 0 else self.misses / requests

    @property
    def loads(self) -> int:
        """Successful plus failed loads."""
        return self.load_successes + self.load_failures

    @property
    def average_load_penalty(self) -> float:
        """Average seconds a load took; 0.0 when nothing was loaded."""
        loads = self.loads
        return 0.0 if loads == 0 else self.total_load_time / loads

    @property
    def expirations(self) -> int:
        """Expired entries reclaimed, by anyone."""
        return self.expirations_by_read + self.expirations_by_sweeper + self.expirations_by_write

    @property
    def expirations_by(self) -> Mapping[str, int]:
        """Expired entries reclaimed, by reclaimer: ``"read"``, ``"sweeper"``, ``"write"``."""
        return MappingProxyType(
            {
                "read": self.expirations_by_read,
                "sweeper": self.expirations_by_sweeper,
                "write": self.expirations_by_write,
            }
        )

    @property
    def evictions(self) -> Mapping[RemovalCause, int]:
        """Entries the cache removed on its own, by cause (``SIZE``, ``EXPIRED``)."""
        return MappingProxyType({SIZE: self.size_evictions, EXPIRED: self.expirations})

    @property
    def evicted_weight(self) -> Mapping[RemovalCause, int]:
        """The weight of those entries, by cause."""
        return MappingProxyType({SIZE: self.size_evicted_weight, EXPIRED: self.expired_weight})

    @property
    def eviction_count(self) -> int:
        """Entries the cache removed on its own (size and expiry)."""
        return self.size_evictions + self.expirations

    def __sub__(self, other: CacheStats) -> CacheStats:
        """The activity between ``other`` (earlier) and ``self`` (later)."""
        if not isinstance(other, CacheStats):
            return NotImplemented
        changes: dict[str, Any] = {
            field.name: getattr(self, field.name) - getattr(other, field.name)
            for field in dataclasses.fields(self)
            if field.name not in ("entries", "weight")
        }
        return dataclasses.replace(self, **changes)


CacheStats.__module__ = "sweepcache"


_COUNTS: Final = (
    "hits",
    "misses",
    "puts",
    "load_successes",
    "load_failures",
    "size_evictions",
    "expirations_by_read",
    "expirations_by_sweeper",
    "expirations_by_write",
    "explicit_removals",
    "replacements",
)


class StatsRecorder:
    """The live counters of one cache.

    Every count is an ``itertools.count`` (a C call, no lock; see the module
    docstring); only sums of weights and of load time take ``_lock``, and
    weights only when the cache has a weigher (otherwise a weight is a count).
    """

    __slots__ = (
        "_counters",
        "_expired_weight",
        "_lock",
        "_size_evicted_weight",
        "_total_load_time",
        "_weighted",
        "expired",
        "explicit",
        "hit",
        "load_failure",
        "load_success",
        "miss",
        "put",
        "replaced",
        "size_evicted",
    )

    def __init__(self, *, weighted: bool = False) -> None:
        self._counters = {name: itertools.count() for name in _COUNTS}
        counters = self._counters
        #: Bound ``__next__`` of each counter: what the hot paths call.
        self.hit: Callable[[], int] = counters["hits"].__next__
        self.miss: Callable[[], int] = counters["misses"].__next__
        self.put: Callable[[], int] = counters["puts"].__next__
        self.replaced: Callable[[], int] = counters["replacements"].__next__
        self.explicit: Callable[[], int] = counters["explicit_removals"].__next__
        self.size_evicted: Callable[[], int] = counters["size_evictions"].__next__
        self.load_success: Callable[[], int] = counters["load_successes"].__next__
        self.load_failure: Callable[[], int] = counters["load_failures"].__next__
        #: Expirations, by reclaimer.
        self.expired: dict[str, Callable[[], int]] = {
            reclaimer: counters[f"expirations_by_{reclaimer}"].__next__ for reclaimer in RECLAIMERS
        }
        self._weighted = weighted
        self._lock = threading.Lock()
        self._total_load_time = 0.0
        self._expired_weight = 0
        self._size_evicted_weight = 0

    def record_load(self, success: bool, seconds: float) -> None:
        """Count one finished load."""
        (self.load_success if success else self.load_failure)()
        with self._lock:
            self._total_load_time += seconds

    def record_removals(
        self, removed: list[Removal], reclaimer: str, weigh: Callable[[Any, Any], int]
    ) -> None:
        """Count what one operation removed; ``reclaimer`` says who found expired ones."""
        expired_weight = size_weight = 0
        weighted = self._weighted
        for key, entry, cause in removed:
            if cause is EXPIRED:
                self.expired[reclaimer]()
                if weighted:
                    expired_weight += weigh(key, entry[0])
            elif cause is REPLACED:
                self.replaced()
            elif cause is EXPLICIT:
                self.explicit()
            else:
                self.size_evicted()
                if weighted:
                    size_weight += weigh(key, entry[0])
        if expired_weight or size_weight:
            with self._lock:
                self._expired_weight += expired_weight
                self._size_evicted_weight += size_weight

    def snapshot(self, entries: int, weight: int) -> CacheStats:
        """The counts now, with the cache's current ``entries`` and ``weight``."""
        counts = {name: count_value(counter) for name, counter in self._counters.items()}
        with self._lock:
            total_load_time = self._total_load_time
            expired_weight = self._expired_weight
            size_weight = self._size_evicted_weight
        if not self._weighted:  # every entry weighs 1
            expired_weight = (
                counts["expirations_by_read"]
                + counts["expirations_by_sweeper"]
                + counts["expirations_by_write"]
            )
            size_weight = counts["size_evictions"]
        return CacheStats(
            total_load_time=total_load_time,
            expired_weight=expired_weight,
            size_evicted_weight=size_weight,
            entries=entries,
            weight=weight,
            **counts,
        )
