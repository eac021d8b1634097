"""Shared by the metrics tests: a fake stats source and a snapshot with every field distinct."""

from __future__ import annotations

import dataclasses

from sweepcache import CacheStats

#: Every field a different prime, so a series that reads the wrong field shows.
DISTINCT = CacheStats(
    hits=2,
    misses=3,
    load_successes=5,
    load_failures=7,
    total_load_time=11.5,
    puts=13,
    size_evictions=17,
    size_evicted_weight=19,
    expirations_by_read=23,
    expirations_by_sweeper=29,
    expirations_by_write=31,
    expired_weight=37,
    explicit_removals=41,
    replacements=43,
    entries=47,
    weight=53,
)

#: What each series of DISTINCT must read, by (Prometheus sample name, label).
DISTINCT_SERIES: dict[tuple[str, str | None], float] = {
    ("cache_gets_total", "hit"): 2,
    ("cache_gets_total", "miss"): 3,
    ("cache_puts_total", None): 13,
    ("cache_evictions_total", "size"): 17,
    ("cache_evictions_total", "expired"): 23 + 29 + 31,
    ("cache_evicted_weight_total", "size"): 19,
    ("cache_evicted_weight_total", "expired"): 37,
    ("cache_expirations_total", "read"): 23,
    ("cache_expirations_total", "sweeper"): 29,
    ("cache_expirations_total", "write"): 31,
    ("cache_size", None): 47,
    ("cache_weight", None): 53,
    ("cache_loads_total", "success"): 5,
    ("cache_loads_total", "failure"): 7,
    ("cache_load_duration_seconds_total", None): 11.5,
}


class FakeSource:
    """A stats source returning a given snapshot (for counts the core cannot make yet)."""

    def __init__(self, name: str | None, snapshot: CacheStats = DISTINCT) -> None:
        self._name = name
        self.snapshot = snapshot
        self.calls = 0

    @property
    def name(self) -> str | None:
        return self._name

    def stats(self) -> CacheStats:
        self.calls += 1
        return self.snapshot

    def bump(self, **changes: int) -> None:
        """Add ``changes`` to the snapshot's fields."""
        self.snapshot = dataclasses.replace(
            self.snapshot,
            **{field: getattr(self.snapshot, field) + delta for field, delta in changes.items()},
        )
