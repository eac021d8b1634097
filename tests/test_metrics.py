"""``sweepcache.metrics``: the metric table, the naming rules, and the optional imports."""

from __future__ import annotations

import dataclasses
import inspect
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import sweepcache.metrics
from metrics_helpers import DISTINCT, DISTINCT_SERIES, FakeSource
from sweepcache import Cache, CacheStats, RemovalCause
from sweepcache.metrics import METRICS, Metric, StatsSource
from sweepcache.metrics._caches import CacheSet

#: The names and labels the exporters promise (Prometheus + Micrometer conventions).
PROMISED = {
    "cache_gets_total": ("counter", "result"),
    "cache_puts_total": ("counter", None),
    "cache_evictions_total": ("counter", "cause"),
    "cache_evicted_weight_total": ("counter", "cause"),
    "cache_expirations_total": ("counter", "by"),
    "cache_size": ("gauge", None),
    "cache_weight": ("gauge", None),
    "cache_loads_total": ("counter", "result"),
    "cache_load_duration_seconds_total": ("counter", None),
}


def test_metrics_are_the_promised_ones() -> None:
    assert {m.sample_name: (m.kind, m.label) for m in METRICS} == PROMISED
    assert len({m.name for m in METRICS}) == len({m.otel_name for m in METRICS}) == len(METRICS)


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_otel_name_is_the_prometheus_name_dotted(metric: Metric) -> None:
    # An OpenTelemetry-to-Prometheus exporter maps "." to "_" and adds the
    # unit ("s" -> "_seconds") and "_total" (monotonic sums) back.
    translated = metric.otel_name.replace(".", "_")
    if metric.otel_unit == "s":
        translated += "_seconds"
    assert translated == metric.name
    assert metric.otel_name.startswith("cache.")
    assert (metric.unit == "seconds") == (metric.otel_unit == "s")
    assert metric.description.strip()


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_series_reads_its_own_field(metric: Metric) -> None:
    values = metric.values(DISTINCT)
    assert [label for label, _ in values] == [label for label, _ in metric.sources]
    for label, value in values:
        assert DISTINCT_SERIES[metric.sample_name, label or None] == value
    if metric.label is None:
        assert values == (("", values[0][1]),)


def test_label_values_follow_the_core() -> None:
    by_name = {m.name: m for m in METRICS}
    causes = [label for label, _ in by_name["cache_evictions"].sources]
    assert causes == [cause.value for cause in CacheStats().evictions]
    assert causes == [RemovalCause.SIZE.value, RemovalCause.EXPIRED.value] == ["size", "expired"]
    assert [label for label, _ in by_name["cache_evicted_weight"].sources] == causes
    assert [label for label, _ in by_name["cache_expirations"].sources] == list(
        CacheStats().expirations_by
    )


def test_counters_left_out_are_the_documented_ones() -> None:
    read = {field for metric in METRICS for _, field in metric.sources}
    fields = {field.name for field in dataclasses.fields(CacheStats)}
    # Not in Micrometer's set; cache.stats() has them.
    assert fields - read == {"explicit_removals", "replacements"}
    assert read - fields == {"expirations"}  # a property: the three reclaimers added up


def test_metric_is_frozen_and_public() -> None:
    metric = METRICS[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        metric.name = "other"  # type: ignore[misc]
    assert Metric.__module__ == StatsSource.__module__ == "sweepcache.metrics"


def test_a_cache_is_a_stats_source() -> None:
    cache: Cache[str, int] = Cache(record_stats=True, name="users")
    source: StatsSource = cache
    assert source.name == "users"
    assert source.stats().hits == 0


# -- naming rules (shared by both exporters) -----------------------------------


def test_names_are_required_and_unique() -> None:
    users = FakeSource("users")
    caches = CacheSet([users, FakeSource("sessions")])
    assert [name for name, _ in caches.members()] == ["users", "sessions"]
    caches.add(users)  # again: nothing changes
    assert len(caches.caches()) == 2
    with pytest.raises(ValueError, match=r"cache name 'users' is already exported by another"):
        caches.add(FakeSource("users"))
    with pytest.raises(ValueError, match=r"non-empty name.*got name=None for a FakeSource"):
        caches.add(FakeSource(None))
    with pytest.raises(ValueError, match=r"got name=''"):
        caches.add(FakeSource(""))
    with pytest.raises(ValueError, match=r"Cache\(record_stats=True, name='users'\)"):
        caches.add(Cache[str, int]())
    with pytest.raises(TypeError, match=r"stats\(\) method and a name.*got int"):
        caches.add(42)  # type: ignore[arg-type]
    caches.remove(users)
    assert [name for name, _ in caches.members()] == ["sessions"]
    with pytest.raises(ValueError, match=r"not exported here: FakeSource named 'users'"):
        caches.remove(users)
    caches.add(FakeSource("users"))  # the name is free again
    assert [name for name, _ in caches.members()] == ["sessions", "users"]


def test_a_name_that_is_not_a_str_is_refused() -> None:
    class Weird(FakeSource):
        @property
        def name(self) -> str | None:
            return 7  # type: ignore[return-value]

    with pytest.raises(ValueError, match=r"got name=7"):
        CacheSet([Weird("x")])


def test_a_failing_add_changes_nothing() -> None:
    caches = CacheSet([FakeSource("a")])
    before = caches.members()
    with pytest.raises(ValueError, match="already exported"):
        caches.add(FakeSource("a"))
    assert caches.members() is before


# -- optional imports -------------------------------------------------------------

BLOCK = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Block())
"""


def run_python(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("sweepcache.metrics.prometheus", {"prometheus_client"}, "sweepcache[prometheus]"),
        ("sweepcache.metrics.otel", {"opentelemetry"}, "sweepcache[otel]"),
    ],
)
def test_an_exporter_without_its_extra_names_the_extra(
    module: str, blocked: set[str], extra: str
) -> None:
    source = BLOCK.format(blocked=blocked) + textwrap.dedent(f"""
        import sweepcache.metrics  # the shared part needs no extra
        try:
            import {module}
        except ImportError as exc:
            print(exc)
            print(type(exc.__cause__).__name__)
        else:
            raise SystemExit("imported without its extra")
        """)
    result = run_python(source)
    assert result.returncode == 0, result.stderr
    message, cause = result.stdout.splitlines()
    assert f"pip install '{extra}'" in message
    assert module in message
    assert cause == "ModuleNotFoundError"


def test_import_sweepcache_imports_no_exporter() -> None:
    result = run_python("""
        import sys
        import sweepcache
        from sweepcache import Cache
        Cache(record_stats=True, name="x").stats()
        loaded = [m for m in sys.modules if m.startswith(
            ("sweepcache.metrics", "prometheus_client", "opentelemetry"))]
        print(loaded)
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- the examples in the docstrings run ---------------------------------------------


def _examples() -> list[Any]:
    from sweepcache.metrics import otel, prometheus

    owners: list[Any] = [
        sweepcache.metrics,
        StatsSource,
        Metric,
        prometheus,
        prometheus.CacheCollector,
        otel,
        otel.CacheInstruments,
    ]
    params = []
    for owner in owners:
        doc = inspect.getdoc(owner) or ""
        match = re.search(r"Example::\n\n((?:    .*\n|\n)+)", doc + "\n")
        assert match, f"{owner.__name__} has no example"
        params.append(pytest.param(textwrap.dedent(match[1]), id=owner.__name__))
    return params


@pytest.mark.parametrize("source", _examples())
def test_docstring_example_runs(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import prometheus_client
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from sweepcache.metrics.otel import CacheInstruments
    from sweepcache.metrics.prometheus import CacheCollector

    # Examples register on prometheus_client's default registry: give them a fresh one.
    monkeypatch.setattr(prometheus_client, "REGISTRY", prometheus_client.CollectorRegistry())
    namespace: dict[str, Any] = {
        "Cache": Cache,
        "CacheStats": CacheStats,
        "METRICS": METRICS,
        "StatsSource": StatsSource,
        "CollectorRegistry": prometheus_client.CollectorRegistry,
        "generate_latest": prometheus_client.generate_latest,
        "InMemoryMetricReader": InMemoryMetricReader,
        "MeterProvider": MeterProvider,
        "CacheCollector": CacheCollector,
        "CacheInstruments": CacheInstruments,
    }
    exec(compile(source, "<example>", "exec"), namespace)
    for value in list(namespace.values()):
        if isinstance(value, InMemoryMetricReader):
            value.shutdown()
