"""Exporters of cache statistics to monitoring systems.

Each exporter reads :meth:`sweepcache.Cache.stats` when it is scraped or
collected; nothing is counted per operation beyond what
``Cache(record_stats=True)`` already counts. Two exporters, each behind an
optional extra:

* :mod:`sweepcache.metrics.prometheus` (``pip install 'sweepcache[prometheus]'``):
  a ``prometheus_client`` collector;
* :mod:`sweepcache.metrics.otel` (``pip install 'sweepcache[otel]'``):
  OpenTelemetry observable instruments.

This package holds what they share: the table of :data:`METRICS` and the
:class:`StatsSource` protocol of what they read. Importing it imports neither
``prometheus_client`` nor OpenTelemetry, and ``import sweepcache`` does not
import it.

Every exported cache needs a name (``Cache(name="users")``), unique among the
caches of one exporter: it tells their series apart.

Example::

    from sweepcache.metrics import METRICS

    for metric in METRICS:
        print(metric.sample_name, metric.label)
"""

from ._spec import METRICS as METRICS
from ._spec import Metric as Metric
from ._spec import StatsSource as StatsSource

__all__ = ("METRICS", "Metric", "StatsSource")

StatsSource.__module__ = __name__
