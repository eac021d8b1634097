"""OpenTelemetry exporter: observable instruments that read ``stats()`` when collected.

Needs the ``otel`` extra (``pip install 'sweepcache[otel]'``, which brings
``opentelemetry-api``; the application configures the SDK and its readers).

OpenTelemetry has no semantic convention for caches yet (semantic-conventions
issue #1747), so the names follow Micrometer's cache metrics, as the
Prometheus exporter does, spelled the OpenTelemetry way: ``cache.`` for
``cache_``, and the unit and the ``_total`` suffix carried by the instrument.
An OpenTelemetry-to-Prometheus exporter turns them back into the Prometheus
exporter's names (except the ``cache.name`` attribute, which becomes the label
``cache_name``):

* ``cache.gets`` (``{request}``): ``result`` = ``hit`` | ``miss``;
* ``cache.puts`` (``{entry}``);
* ``cache.evictions`` (``{entry}``): ``cause`` = ``size`` | ``expired``;
* ``cache.evicted_weight`` (``{weight}``): ``cause`` = ``size`` | ``expired``;
* ``cache.expirations`` (``{entry}``): ``by`` = ``read`` | ``sweeper`` | ``write``;
* ``cache.size`` (``{entry}``, an up-down counter);
* ``cache.weight`` (``{weight}``, an up-down counter);
* ``cache.loads`` (``{load}``): ``result`` = ``success`` | ``failure``;
* ``cache.load_duration`` (``s``).

All are observable counters (monotonic sums) except the two up-down counters,
and every observation carries the attribute ``cache.name`` besides those listed.

Example::

    from opentelemetry import metrics

    from sweepcache import Cache
    from sweepcache.metrics.otel import CacheInstruments

    users = Cache[int, dict[str, str]](record_stats=True, name="users")
    CacheInstruments(metrics.get_meter("myservice"), users)
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Final, final

try:
    from opentelemetry.metrics import CallbackOptions, Meter, Observation
except ImportError as exc:  # pragma: no cover - tested in a subprocess
    raise ImportError(
        "sweepcache.metrics.otel needs opentelemetry-api: pip install 'sweepcache[otel]'"
    ) from exc

from ._caches import CacheSet
from ._spec import METRICS, Metric

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ._spec import StatsSource

__all__ = ("CacheInstruments",)

#: Meters that already carry the instruments. A second set would be refused
#: silently (the SDK hands back the first instrument of a name, with the first
#: instrument's callbacks), so the constructor refuses it loudly.
_instrumented_meters: Final[weakref.WeakSet[Meter]] = weakref.WeakSet()
_instrumented_lock: Final = threading.Lock()


@final
class CacheInstruments:
    """OpenTelemetry observable instruments that report the statistics of named caches.

    Builds one observable instrument per metric on ``meter``; each one's
    callback reads ``stats()`` of every cache when a metric reader collects.
    Build one ``CacheInstruments`` per meter and add every cache to it.

    Each cache needs a non-empty ``name`` (the ``cache.name`` attribute),
    unique within these instruments; it is read once, when the cache is added.
    A cache built without ``record_stats=True`` still reports its size and
    weight, but its counters stay 0. Each instrument reads its own snapshot, so
    two instruments collected together may differ by the operations made in
    between.

    Args:
        meter: The meter to build the instruments on.
        *caches: The caches to report; more can be added later with :meth:`add`.

    Raises:
        ValueError: A cache has no name (``None`` or ``""``), two caches share
            one, or ``meter`` already carries sweepcache's instruments.
        TypeError: A cache has no ``stats()`` method.

    Example::

        reader = InMemoryMetricReader()
        meter = MeterProvider(metric_readers=[reader]).get_meter("myservice")
        users = Cache[int, str](record_stats=True, name="users")
        instruments = CacheInstruments(meter, users)
        instruments.add(Cache[str, int](record_stats=True, name="sessions"))
        data = reader.get_metrics_data()
    """

    __slots__ = ("_caches",)

    def __init__(self, meter: Meter, *caches: StatsSource) -> None:
        self._caches = CacheSet(caches)
        with _instrumented_lock:
            if meter in _instrumented_meters:
                raise ValueError(
                    f"meter {getattr(meter, 'name', meter)!r} already carries sweepcache's "
                    "instruments: add caches to its CacheInstruments instead"
                )
            try:
                _instrumented_meters.add(meter)
            except TypeError:  # pragma: no cover - a meter without weak references
                pass
        for metric in METRICS:
            create = (
                meter.create_observable_counter
                if metric.kind == "counter"
                else meter.create_observable_up_down_counter
            )
            create(
                metric.otel_name,
                callbacks=[_observer(self._caches, metric)],
                unit=metric.otel_unit,
                description=metric.description,
            )

    def add(self, cache: StatsSource) -> None:
        """Report ``cache`` too, from the next collection on; adding it again does nothing.

        Args:
            cache: A cache with a name no other cache here has.

        Raises:
            ValueError: ``cache`` has no name, or another cache has its name.
            TypeError: ``cache`` has no ``stats()`` method.
        """
        self._caches.add(cache)

    def remove(self, cache: StatsSource) -> None:
        """Stop reporting ``cache``.

        Args:
            cache: A cache these instruments report.

        Raises:
            ValueError: These instruments do not report ``cache``.
        """
        self._caches.remove(cache)

    @property
    def caches(self) -> tuple[StatsSource, ...]:
        """The reported caches, in the order they were added."""
        return self._caches.caches()

    def __repr__(self) -> str:
        names = [name for name, _ in self._caches.members()]
        return f"<sweepcache.metrics.otel.CacheInstruments caches={names!r}>"


def _observer(
    caches: CacheSet, metric: Metric
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """The callback of ``metric``'s instrument: one observation per cache and series."""

    def observe(options: CallbackOptions) -> Iterable[Observation]:
        observations: list[Observation] = []
        for name, cache in caches.members():
            for label, value in metric.values(cache.stats()):
                attributes = (
                    {"cache.name": name}
                    if metric.label is None
                    else {"cache.name": name, metric.label: label}
                )
                observations.append(Observation(value, attributes))
        return observations

    return observe
