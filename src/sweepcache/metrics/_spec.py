"""The metrics both exporters publish, and what they read them from.

One table (:data:`METRICS`) names every metric in Prometheus and in
OpenTelemetry spelling and says which :class:`~sweepcache.CacheStats` field
each series reads, so the two exporters cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Final, Literal, Protocol, final

if TYPE_CHECKING:
    from sweepcache import CacheStats


class StatsSource(Protocol):
    """What an exporter reads: a :class:`~sweepcache.Cache`, or anything shaped like one.

    The exporters call ``stats()`` when they are scraped or collected, from
    whichever thread does that, and read ``name`` once, when the cache is
    added. :class:`sweepcache.Cache` qualifies; so does the ``cache``
    attribute of a :class:`sweepcache.compat.AsyncInMemoryCache`.

    Example::

        users = Cache[int, str](record_stats=True, name="users")
        source: StatsSource = users
        assert source.stats().hits == 0
    """

    @property
    def name(self) -> str | None:
        """The cache's name: the ``cache`` label of every series."""
        ...  # pragma: no cover - a protocol

    def stats(self) -> CacheStats:
        """A snapshot of the cache's counters."""
        ...  # pragma: no cover - a protocol


@final
@dataclasses.dataclass(frozen=True, slots=True)
class Metric:
    """One metric the exporters publish, in Prometheus and OpenTelemetry spelling.

    Every series also carries the cache's name (label ``cache`` in
    Prometheus, attribute ``cache.name`` in OpenTelemetry).

    Attributes:
        name: Prometheus family name, unit suffix included but not ``_total``
            (``"cache_load_duration_seconds"``).
        otel_name: OpenTelemetry instrument name (``"cache.load_duration"``).
        kind: ``"counter"`` (a running total) or ``"gauge"`` (a level now).
        unit: Prometheus unit (``"seconds"``), or ``""``.
        otel_unit: OpenTelemetry unit, in UCUM (``"s"``; ``"{entry}"`` for a
            count of entries).
        label: The label (attribute) that splits the series, or ``None`` for
            a single series.
        sources: ``(label value, CacheStats attribute)`` for each series; the
            label value is ``""`` when ``label`` is ``None``.
        description: Help text.

    Example::

        gets = next(m for m in METRICS if m.name == "cache_gets")
        assert gets.sample_name == "cache_gets_total"
        assert gets.values(CacheStats(hits=3, misses=1)) == (("hit", 3), ("miss", 1))
    """

    name: str
    otel_name: str
    kind: Literal["counter", "gauge"]
    unit: str
    otel_unit: str
    label: str | None
    sources: tuple[tuple[str, str], ...]
    description: str

    @property
    def sample_name(self) -> str:
        """The name of the series in Prometheus' exposition (``_total`` for counters)."""
        return f"{self.name}_total" if self.kind == "counter" else self.name

    def values(self, stats: CacheStats) -> tuple[tuple[str, int | float], ...]:
        """Return ``(label value, value)`` for each series of this metric in ``stats``.

        Args:
            stats: A snapshot, as returned by ``cache.stats()``.

        Returns:
            One pair per entry of :attr:`sources`, in that order.
        """
        return tuple((label, getattr(stats, field)) for label, field in self.sources)


Metric.__module__ = "sweepcache.metrics"

#: Every metric the exporters publish, in this order. Names follow the
#: Prometheus conventions and Micrometer's cache metrics; the OpenTelemetry
#: names are the same with ``cache.`` for ``cache_`` and the unit and
#: ``_total`` suffixes carried by the instrument instead.
METRICS: Final[tuple[Metric, ...]] = (
    Metric(
        "cache_gets",
        "cache.gets",
        "counter",
        "",
        "{request}",
        "result",
        (("hit", "hits"), ("miss", "misses")),
        "Cache reads, by result: a live entry was found (hit) or not (miss).",
    ),
    Metric(
        "cache_puts",
        "cache.puts",
        "counter",
        "",
        "{entry}",
        None,
        (("", "puts"),),
        "Values stored (set, set_many and loads), overwrites included.",
    ),
    Metric(
        "cache_evictions",
        "cache.evictions",
        "counter",
        "",
        "{entry}",
        "cause",
        (("size", "size_evictions"), ("expired", "expirations")),
        "Entries the cache removed on its own, by cause: to respect maxsize, or expired.",
    ),
    Metric(
        "cache_evicted_weight",
        "cache.evicted_weight",
        "counter",
        "",
        "{weight}",
        "cause",
        (("size", "size_evicted_weight"), ("expired", "expired_weight")),
        "Total weight of the evicted entries, by cause (1 per entry without a weigher).",
    ),
    Metric(
        "cache_expirations",
        "cache.expirations",
        "counter",
        "",
        "{entry}",
        "by",
        (
            ("read", "expirations_by_read"),
            ("sweeper", "expirations_by_sweeper"),
            ("write", "expirations_by_write"),
        ),
        "Expired entries reclaimed, by who found them: a read, the sweeper or a write.",
    ),
    Metric(
        "cache_size",
        "cache.size",
        "gauge",
        "",
        "{entry}",
        None,
        (("", "entries"),),
        "Entries stored now, expired ones not yet reclaimed included.",
    ),
    Metric(
        "cache_weight",
        "cache.weight",
        "gauge",
        "",
        "{weight}",
        None,
        (("", "weight"),),
        "Total weight of the entries stored now (the entry count without a weigher).",
    ),
    Metric(
        "cache_loads",
        "cache.loads",
        "counter",
        "",
        "{load}",
        "result",
        (("success", "load_successes"), ("failure", "load_failures")),
        "Loads (get_or_load, @cached, refreshes), by result; failures include "
        "loads that raised, timed out or were cancelled.",
    ),
    Metric(
        "cache_load_duration_seconds",
        "cache.load_duration",
        "counter",
        "seconds",
        "s",
        None,
        (("", "total_load_time"),),
        "Seconds spent in loads, successful or not.",
    ),
)
