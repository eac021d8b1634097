"""Prometheus exporter: a ``prometheus_client`` collector that reads ``stats()`` at scrape time.

Needs the ``prometheus`` extra (``pip install 'sweepcache[prometheus]'``).
Nothing is counted per operation: each scrape takes one
:meth:`~sweepcache.Cache.stats` snapshot per cache and turns it into these
families (Prometheus naming, with Micrometer's cache metric names):

========================================  ===============================================
series                                    labels
========================================  ===============================================
``cache_gets_total``                      ``cache``, ``result`` = ``hit`` | ``miss``
``cache_puts_total``                      ``cache``
``cache_evictions_total``                 ``cache``, ``cause`` = ``size`` | ``expired``
``cache_evicted_weight_total``            ``cache``, ``cause`` = ``size`` | ``expired``
``cache_expirations_total``               ``cache``, ``by`` = ``read`` | ``sweeper`` | ``write``
``cache_size`` (gauge)                    ``cache``
``cache_weight`` (gauge)                  ``cache``
``cache_loads_total``                     ``cache``, ``result`` = ``success`` | ``failure``
``cache_load_duration_seconds_total``     ``cache``
========================================  ===============================================

Example::

    from prometheus_client import REGISTRY

    from sweepcache import Cache
    from sweepcache.metrics.prometheus import CacheCollector

    users = Cache[int, dict[str, str]](record_stats=True, name="users")
    REGISTRY.register(CacheCollector(users))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, final

try:
    from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - tested in a subprocess
    raise ImportError(
        "sweepcache.metrics.prometheus needs prometheus_client: "
        "pip install 'sweepcache[prometheus]'"
    ) from exc

from ._caches import CacheSet
from ._spec import METRICS

if TYPE_CHECKING:
    from ._spec import StatsSource

__all__ = ("CacheCollector",)


@final
class CacheCollector(Collector):
    """A ``prometheus_client`` collector of the statistics of named caches.

    Register one collector per registry and add every cache to it: a second
    ``CacheCollector`` on the same registry exposes the same metric names,
    which the registry refuses (``ValueError: Duplicated timeseries``).

    Each cache needs a non-empty ``name`` (the ``cache`` label), unique within
    the collector; it is read once, when the cache is added. A cache built
    without ``record_stats=True`` still reports its size and weight, but its
    counters stay 0. Scrapes may run in any thread (``start_http_server``
    scrapes in its own): each takes one ``stats()`` snapshot per cache, which
    holds the cache's statistics lock for a moment and no other lock.

    Args:
        *caches: The caches to export, more can be added later with :meth:`add`.

    Raises:
        ValueError: A cache has no name (``None`` or ``""``), or two caches
            share one.
        TypeError: A cache has no ``stats()`` method.

    Example::

        registry = CollectorRegistry()
        users = Cache[int, str](record_stats=True, name="users")
        collector = CacheCollector(users)
        registry.register(collector)
        collector.add(Cache[str, int](record_stats=True, name="sessions"))
        print(generate_latest(registry).decode())
    """

    __slots__ = ("_caches",)

    def __init__(self, *caches: StatsSource) -> None:
        self._caches = CacheSet(caches)

    def add(self, cache: StatsSource) -> None:
        """Export ``cache`` too, from the next scrape on; adding it again does nothing.

        Args:
            cache: A cache with a name no other cache of this collector has.

        Raises:
            ValueError: ``cache`` has no name, or another cache has its name.
            TypeError: ``cache`` has no ``stats()`` method.
        """
        self._caches.add(cache)

    def remove(self, cache: StatsSource) -> None:
        """Stop exporting ``cache``: its series are gone from the next scrape.

        Args:
            cache: A cache this collector exports.

        Raises:
            ValueError: This collector does not export ``cache``.
        """
        self._caches.remove(cache)

    @property
    def caches(self) -> tuple[StatsSource, ...]:
        """The exported caches, in the order they were added."""
        return self._caches.caches()

    def describe(self) -> list[CounterMetricFamily | GaugeMetricFamily]:
        """The metric families without samples, for the registry's name checks."""
        return _families()

    def collect(self) -> list[CounterMetricFamily | GaugeMetricFamily]:
        """Read every cache's ``stats()`` and return the families, one sample per series."""
        snapshots = [(name, cache.stats()) for name, cache in self._caches.members()]
        families = _families()
        for family, metric in zip(families, METRICS, strict=True):
            for name, stats in snapshots:
                for label, value in metric.values(stats):
                    family.add_metric([name] if metric.label is None else [name, label], value)
        return families

    def __repr__(self) -> str:
        names = [name for name, _ in self._caches.members()]
        return f"<sweepcache.metrics.prometheus.CacheCollector caches={names!r}>"


def _families() -> list[CounterMetricFamily | GaugeMetricFamily]:
    """One empty family per metric, in :data:`~sweepcache.metrics.METRICS` order."""
    families: list[CounterMetricFamily | GaugeMetricFamily] = []
    for metric in METRICS:
        labels = ["cache"] if metric.label is None else ["cache", metric.label]
        kind = CounterMetricFamily if metric.kind == "counter" else GaugeMetricFamily
        families.append(kind(metric.name, metric.description, labels=labels, unit=metric.unit))
    return families
