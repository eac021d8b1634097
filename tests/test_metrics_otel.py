"""``sweepcache.metrics.otel``: observable instruments read by the SDK's in-memory reader."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider, ObservableCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    NumberDataPoint,
    Sum,
)

from metrics_helpers import DISTINCT, DISTINCT_SERIES, FakeSource
from sweepcache import Cache, CacheStats
from sweepcache.metrics import METRICS
from sweepcache.metrics.otel import CacheInstruments

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.metrics import Meter

    from sweepcache.testing import FakeClock

Points = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Reader:
    """A meter provider with an in-memory reader, shut down after the test."""

    def __init__(
        self, preferred_temporality: dict[type, AggregationTemporality] | None = None
    ) -> None:
        self.reader = InMemoryMetricReader(preferred_temporality=preferred_temporality)
        self.provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)
        self.meter: Meter = self.provider.get_meter("sweepcache-tests")

    def sums(self) -> dict[str, Sum]:
        data = self.reader.get_metrics_data()
        assert data is not None
        found: dict[str, Sum] = {}
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    assert isinstance(metric.data, Sum)
                    assert metric.name not in found
                    found[metric.name] = metric.data
        return found

    def points(self) -> Points:
        points: Points = {}
        for name, data in self.sums().items():
            for point in data.data_points:
                assert isinstance(point, NumberDataPoint)
                attributes = point.attributes or {}
                key = (name, frozenset((k, str(v)) for k, v in attributes.items()))
                assert key not in points
                points[key] = point.value
        return points


@pytest.fixture
def otel() -> Iterator[Reader]:
    reader = Reader()
    yield reader
    reader.provider.shutdown()


def point(points: Points, otel_name: str, cache: str, label: str | None = None) -> float:
    metric = next(m for m in METRICS if m.otel_name == otel_name)
    attributes = {"cache.name": cache}
    if metric.label is not None:
        assert label is not None
        attributes[metric.label] = label
    return points[otel_name, frozenset(attributes.items())]


def expected_points(name: str, stats: CacheStats) -> Points:
    points: Points = {}
    for metric in METRICS:
        for label, count in metric.values(stats):
            attributes = {"cache.name": name}
            if metric.label is not None:
                attributes[metric.label] = label
            points[metric.otel_name, frozenset(attributes.items())] = count
    return points


def test_every_instrument_reads_its_own_field(otel: Reader) -> None:
    CacheInstruments(otel.meter, FakeSource("users"))
    points = otel.points()
    assert len(points) == len(DISTINCT_SERIES)
    by_sample = {m.sample_name: m.otel_name for m in METRICS}
    for (name, label), expected in DISTINCT_SERIES.items():
        assert point(points, by_sample[name], "users", label) == expected


def test_instruments_have_kinds_units_and_descriptions(otel: Reader) -> None:
    CacheInstruments(otel.meter, FakeSource("users"))
    sums = otel.sums()
    assert list(sums) == [m.otel_name for m in METRICS]
    for metric in METRICS:
        data = sums[metric.otel_name]
        assert data.is_monotonic == (metric.kind == "counter")
        assert data.aggregation_temporality is AggregationTemporality.CUMULATIVE
    collected = otel.reader.get_metrics_data()
    assert collected is not None
    described = {
        m.name: (m.unit, m.description)
        for r in collected.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
    }
    assert described == {m.otel_name: (m.otel_unit, m.description) for m in METRICS}
    assert described["cache.load_duration"][0] == "s"


def test_counts_are_totals_that_a_delta_reader_turns_into_windows() -> None:
    delta = Reader(preferred_temporality={ObservableCounter: AggregationTemporality.DELTA})
    try:
        source = FakeSource("users")
        CacheInstruments(delta.meter, source)
        first = delta.points()
        assert point(first, "cache.gets", "users", "hit") == DISTINCT.hits
        source.bump(hits=5, misses=1)
        second = delta.points()
        assert point(second, "cache.gets", "users", "hit") == 5
        assert point(second, "cache.gets", "users", "miss") == 1
        assert point(second, "cache.size", "users") == DISTINCT.entries  # a level, not a delta
    finally:
        delta.provider.shutdown()


@pytest.mark.anyio
async def test_a_real_cache_through_every_counter(otel: Reader, clock: FakeClock) -> None:
    cache: Cache[str, int] = Cache(clock=clock, record_stats=True, name="users")
    CacheInstruments(otel.meter, cache)
    assert otel.points() == expected_points("users", CacheStats())

    async def load() -> int:
        return 7

    async def fail() -> int:
        raise LookupError("no such user")

    async def stuck() -> int:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    await cache.set("a", 1)
    assert await cache.get("a") == 1
    assert await cache.get("b") is None
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
    assert await cache.get("r") is None
    await cache.set("w", 2)
    assert await cache.sweep() == 1

    points = otel.points()
    assert points == expected_points("users", cache.stats())
    assert point(points, "cache.gets", "users", "hit") == 1
    assert point(points, "cache.loads", "users", "success") == 1
    assert point(points, "cache.loads", "users", "failure") == 3
    assert point(points, "cache.load_duration", "users") > 0
    for by in ("read", "sweeper", "write"):
        assert point(points, "cache.expirations", "users", by) == 1
    assert point(points, "cache.evictions", "users", "expired") == 3
    assert point(points, "cache.size", "users") == len(cache) == 3


def test_caches_are_told_apart_by_name(otel: Reader) -> None:
    users: Cache[str, int] = Cache(record_stats=True, name="users")
    sessions: Cache[str, int] = Cache(record_stats=True, name="sessions")
    instruments = CacheInstruments(otel.meter, users)
    instruments.add(sessions)
    users.get_nowait("x")
    sessions.set_nowait("s", 1)
    assert otel.points() == {
        **expected_points("users", users.stats()),
        **expected_points("sessions", sessions.stats()),
    }
    assert instruments.caches == (users, sessions)
    assert repr(instruments) == (
        "<sweepcache.metrics.otel.CacheInstruments caches=['users', 'sessions']>"
    )
    instruments.remove(users)
    assert otel.points() == expected_points("sessions", sessions.stats())
    with pytest.raises(ValueError, match="'sessions' is already exported"):
        instruments.add(Cache[str, int](name="sessions"))
    with pytest.raises(ValueError, match="non-empty name"):
        instruments.add(Cache[str, int]())


def test_one_set_of_instruments_per_meter(otel: Reader) -> None:
    first = CacheInstruments(otel.meter, FakeSource("users"))
    # The SDK would hand back the first instruments and drop the new callbacks.
    with pytest.raises(ValueError, match="already carries sweepcache's instruments"):
        CacheInstruments(otel.meter, FakeSource("sessions"))
    with pytest.raises(ValueError, match="already carries"):
        CacheInstruments(otel.provider.get_meter("sweepcache-tests"))  # the same meter
    CacheInstruments(otel.provider.get_meter("another"), FakeSource("sessions"))
    data = otel.reader.get_metrics_data()
    assert data is not None
    by_scope = {
        scope.scope.name: {
            (point.attributes or {})["cache.name"]
            for metric in scope.metrics
            if isinstance(metric.data, Sum)
            for point in metric.data.data_points
        }
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
    }
    assert by_scope == {"sweepcache-tests": {"users"}, "another": {"sessions"}}
    assert first.caches[0].name == "users"


def test_a_forgotten_meter_can_be_instrumented_again() -> None:
    for _ in range(2):
        reader = Reader()
        CacheInstruments(reader.meter, FakeSource("users"))
        assert point(reader.points(), "cache.puts", "users") == DISTINCT.puts
        reader.provider.shutdown()
        del reader
        gc.collect()


def test_an_unnamed_cache_is_refused_before_the_meter_is_touched(otel: Reader) -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        CacheInstruments(otel.meter, Cache[str, int]())
    CacheInstruments(otel.meter, FakeSource("users"))  # the meter is still free
    assert len(otel.points()) == len(DISTINCT_SERIES)
