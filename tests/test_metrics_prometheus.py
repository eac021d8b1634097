"""``sweepcache.metrics.prometheus``: a real registry, scraped and parsed back."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import anyio
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families

from metrics_helpers import DISTINCT, DISTINCT_SERIES, FakeSource
from sweepcache import Cache, CacheStats
from sweepcache.metrics import METRICS
from sweepcache.metrics.prometheus import CacheCollector

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(registry: CollectorRegistry) -> Series:
    """Every sample of ``generate_latest(registry)``, parsed back; no series twice."""
    samples: Series = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode("utf-8")):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = sample.value
    return samples


def value(samples: Series, name: str, cache: str, label: str | None = None) -> float:
    metric = next(m for m in METRICS if m.sample_name == name)
    labels = {"cache": cache}
    if metric.label is not None:
        assert label is not None
        labels[metric.label] = label
    return samples[name, tuple(sorted(labels.items()))]


def expected_series(name: str, stats: CacheStats) -> Series:
    """The samples a collector must expose for one cache named ``name``."""
    samples: Series = {}
    for metric in METRICS:
        for label, count in metric.values(stats):
            labels = (
                {"cache": name} if metric.label is None else {"cache": name, metric.label: label}
            )
            samples[metric.sample_name, tuple(sorted(labels.items()))] = count
    return samples


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_every_series_reads_its_own_field(registry: CollectorRegistry) -> None:
    registry.register(CacheCollector(FakeSource("users")))
    samples = scrape(registry)
    assert len(samples) == len(DISTINCT_SERIES)
    for (name, label), expected in DISTINCT_SERIES.items():
        assert value(samples, name, "users", label) == expected


def test_families_have_types_help_and_units(registry: CollectorRegistry) -> None:
    registry.register(CacheCollector(FakeSource("users")))
    text = generate_latest(registry).decode("utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for metric in METRICS:
        family = families[metric.name if metric.kind == "counter" else metric.sample_name]
        assert family.type == metric.kind
        assert family.documentation == metric.description
    # OpenMetrics carries the unit, and the counters' _total suffix on samples only.
    # (prometheus_client's OpenMetrics functions carry no annotations.)
    exposition = generate_openmetrics(registry).decode("utf-8")  # type: ignore[no-untyped-call]
    om = {f.name: f for f in parse_openmetrics(exposition)}  # type: ignore[no-untyped-call]
    assert om["cache_load_duration_seconds"].unit == "seconds"
    assert om["cache_gets"].type == "counter"
    assert {s.name for s in om["cache_gets"].samples} == {"cache_gets_total"}


def test_a_scrape_reads_each_cache_once(registry: CollectorRegistry) -> None:
    users, sessions = FakeSource("users"), FakeSource("sessions")
    registry.register(CacheCollector(users, sessions))
    assert users.calls == 0  # registering describes; it reads nothing
    scrape(registry)
    assert (users.calls, sessions.calls) == (1, 1)
    users.bump(hits=10, puts=1)
    samples = scrape(registry)
    assert value(samples, "cache_gets_total", "users", "hit") == DISTINCT.hits + 10
    assert value(samples, "cache_puts_total", "users") == DISTINCT.puts + 1
    assert value(samples, "cache_gets_total", "sessions", "hit") == DISTINCT.hits


@pytest.mark.anyio
async def test_a_real_cache_through_every_counter(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    cache: Cache[str, int] = Cache(clock=clock, record_stats=True, name="users")
    registry.register(CacheCollector(cache))
    before = scrape(registry)
    assert before == expected_series("users", CacheStats())

    await cache.set("a", 1)
    await cache.set("a", 2)
    assert await cache.get("a") == 2
    assert await cache.get("b") is None

    async def load() -> int:
        return 7

    async def fail() -> int:
        raise LookupError("no such user")

    async def stuck() -> int:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    assert await cache.get_or_load("loaded", load) == 7
    with pytest.raises(LookupError):
        await cache.get_or_load("failed", fail)
    started = anyio.Event()
    with pytest.raises(TimeoutError):
        await cache.get_or_load("timed out", stuck, timeout=0.001)
    started = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(cache.get_or_load, "cancelled", stuck)
        await started.wait()
        tg.cancel_scope.cancel()

    await cache.set("r", 1, ttl=1)
    await cache.set("s", 1, ttl=1)
    await cache.set("w", 1, ttl=1)
    clock.advance(2)
    assert await cache.get("r") is None  # reclaimed by a read
    await cache.set("w", 2)  # by a write
    assert await cache.sweep() == 1  # s, by the sweeper

    samples = scrape(registry)
    stats = cache.stats()
    assert samples == expected_series("users", stats)
    assert value(samples, "cache_gets_total", "users", "hit") == 1
    assert value(samples, "cache_gets_total", "users", "miss") == stats.misses >= 6
    assert value(samples, "cache_puts_total", "users") == 7
    assert value(samples, "cache_loads_total", "users", "success") == 1
    assert value(samples, "cache_loads_total", "users", "failure") == 3
    assert value(samples, "cache_load_duration_seconds_total", "users") > 0
    for by in ("read", "sweeper", "write"):
        assert value(samples, "cache_expirations_total", "users", by) == 1
    assert value(samples, "cache_evictions_total", "users", "expired") == 3
    assert value(samples, "cache_evicted_weight_total", "users", "expired") == 3
    assert value(samples, "cache_evictions_total", "users", "size") == 0
    assert value(samples, "cache_size", "users") == len(cache) == 3
    assert value(samples, "cache_weight", "users") == 3


def test_a_cache_without_statistics_reports_its_size(registry: CollectorRegistry) -> None:
    cache: Cache[str, int] = Cache(name="plain")
    cache.set_nowait("a", 1)
    cache.get_nowait("a")
    registry.register(CacheCollector(cache))
    samples = scrape(registry)
    assert value(samples, "cache_size", "plain") == 1
    assert value(samples, "cache_gets_total", "plain", "hit") == 0


def test_caches_are_told_apart_by_name(registry: CollectorRegistry) -> None:
    users: Cache[str, int] = Cache(record_stats=True, name="users")
    sessions: Cache[str, int] = Cache(record_stats=True, name="sessions")
    collector = CacheCollector(users)
    registry.register(collector)
    collector.add(sessions)  # after registering: shows from the next scrape
    users.get_nowait("x")
    sessions.set_nowait("s", 1)
    sessions.get_nowait("s")
    samples = scrape(registry)
    assert samples == {
        **expected_series("users", users.stats()),
        **expected_series("sessions", sessions.stats()),
    }
    assert value(samples, "cache_gets_total", "users", "miss") == 1
    assert value(samples, "cache_gets_total", "sessions", "hit") == 1
    assert collector.caches == (users, sessions)
    assert repr(collector) == (
        "<sweepcache.metrics.prometheus.CacheCollector caches=['users', 'sessions']>"
    )
    collector.remove(users)
    assert scrape(registry) == expected_series("sessions", sessions.stats())


def test_unnamed_and_duplicate_names_are_refused(registry: CollectorRegistry) -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        CacheCollector(Cache[str, int](record_stats=True))
    collector = CacheCollector(Cache[str, int](name="users"))
    with pytest.raises(ValueError, match="'users' is already exported"):
        collector.add(Cache[str, int](name="users"))
    with pytest.raises(ValueError, match="not exported here"):
        collector.remove(Cache[str, int](name="other"))
    assert len(collector.caches) == 1


def test_one_collector_per_registry(registry: CollectorRegistry) -> None:
    first = CacheCollector(FakeSource("users"))
    registry.register(first)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(CacheCollector(FakeSource("sessions")))
    registry.unregister(first)
    registry.register(CacheCollector(FakeSource("sessions")))
    assert {labels for _, labels in scrape(registry)} >= {(("cache", "sessions"),)}
    # Another registry may export the same cache (a separate endpoint, say).
    other = CollectorRegistry()
    other.register(first)
    assert value(scrape(other), "cache_puts_total", "users") == DISTINCT.puts


@pytest.mark.parametrize(
    "name",
    ['quote " and backslash \\', "new\nline", "ユーザー", " ", "{cache}", "a,b=c"],
)
def test_any_name_survives_the_exposition(registry: CollectorRegistry, name: str) -> None:
    registry.register(CacheCollector(FakeSource(name)))
    samples = scrape(registry)
    assert value(samples, "cache_size", name) == DISTINCT.entries
    assert len(samples) == len(DISTINCT_SERIES)


def test_scrapes_from_threads_see_exact_monotonic_counts(registry: CollectorRegistry) -> None:
    cache: Cache[int, int] = Cache(default_ttl=None, record_stats=True, name="hot", shards=8)
    collector = CacheCollector(cache)
    registry.register(collector)
    for key in range(50):
        cache.set_nowait(key, key)
    threads, per_thread = 4, 3_000
    done = threading.Event()
    seen: list[list[float]] = [[], []]
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        for index in range(per_thread):
            cache.get_nowait((seed * 31 + index) % 100)  # keys 0-49 exist: half hit

    def scraper(totals: list[float]) -> None:
        try:
            while True:  # at least one scrape, however the threads are scheduled
                samples = scrape(registry)
                totals.append(
                    value(samples, "cache_gets_total", "hot", "hit")
                    + value(samples, "cache_gets_total", "hot", "miss")
                )
                if done.is_set():
                    break
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def churn() -> None:  # membership changes while scrapes run
        try:
            index = 0
            while not done.is_set():
                extra: Cache[int, int] = Cache(name=f"extra{index}")
                collector.add(extra)
                collector.remove(extra)
                index += 1
        except BaseException as exc:
            errors.append(exc)

    helpers = [threading.Thread(target=scraper, args=(totals,)) for totals in seen]
    helpers.append(threading.Thread(target=churn))
    workers = [threading.Thread(target=work, args=(seed,)) for seed in range(threads)]
    for thread in helpers + workers:
        thread.start()
    for thread in workers:
        thread.join()
    done.set()
    for thread in helpers:
        thread.join()
    assert not errors
    assert all(totals == sorted(totals) for totals in seen)  # never ran backwards
    assert all(totals for totals in seen)
    samples = scrape(registry)
    assert value(samples, "cache_gets_total", "hot", "hit") == threads * per_thread / 2
    assert value(samples, "cache_gets_total", "hot", "miss") == threads * per_thread / 2
    assert collector.caches == (cache,)
