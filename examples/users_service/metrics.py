"""``/metrics``: the caches' statistics and the database query count, for Prometheus."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.core import Metric

    from sweepcache import Cache

    from .db import Database


class MinimalCacheCollector(Collector):
    """The few cache metrics this example shows, read from ``Cache.stats()`` at each scrape.

    Used until ``sweepcache.metrics.prometheus.CacheCollector`` is installed; the
    names follow the same (Micrometer) convention: ``cache_gets_total{cache,result}``,
    ``cache_puts_total``, ``cache_loads_total{result}``, ``cache_evictions_total{cause}``,
    ``cache_size``.
    """

    def __init__(self, *caches: Cache[Any, Any]) -> None:
        self._caches = caches

    def collect(self) -> Iterator[Metric]:
        gets = CounterMetricFamily("cache_gets", "Cache reads.", labels=["cache", "result"])
        puts = CounterMetricFamily("cache_puts", "Values stored.", labels=["cache"])
        loads = CounterMetricFamily("cache_loads", "Loads.", labels=["cache", "result"])
        evictions = CounterMetricFamily(
            "cache_evictions", "Entries removed by the cache.", labels=["cache", "cause"]
        )
        size = GaugeMetricFamily("cache_size", "Entries stored.", labels=["cache"])
        for cache in self._caches:
            name = cache.name or f"cache-{id(cache):x}"
            stats = cache.stats()
            gets.add_metric([name, "hit"], stats.hits)
            gets.add_metric([name, "miss"], stats.misses)
            puts.add_metric([name], stats.puts)
            loads.add_metric([name, "success"], stats.load_successes)
            loads.add_metric([name, "failure"], stats.load_failures)
            for cause, count in stats.evictions.items():
                evictions.add_metric([name, cause.name.lower()], count)
            size.add_metric([name], stats.entries)
        yield from (gets, puts, loads, evictions, size)


def cache_collector(*caches: Cache[Any, Any]) -> Collector:
    """sweepcache's own Prometheus collector if it is installed, else the minimal one."""
    try:
        module = importlib.import_module("sweepcache.metrics.prometheus")
    except ImportError:
        return MinimalCacheCollector(*caches)
    collector: Collector = module.CacheCollector(*caches)
    return collector


class QueryCounter(Collector):
    """``users_service_db_queries_total``: statements the engine sent (``Database.queries``)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "users_service_db_queries",
            "SQL statements sent to the database.",
            value=self._database.queries,
        )


class Metrics:
    """The service's registry: its caches, and the count of database queries."""

    def __init__(self, database: Database, *caches: Cache[Any, Any]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(QueryCounter(database))
        if caches:
            self.registry.register(cache_collector(*caches))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
