"""pytest-benchmark micro-benchmarks of the hot path (``make bench-micro``)."""
