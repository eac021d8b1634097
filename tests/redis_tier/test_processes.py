"""Real processes: 4 workers, each with its own TieredCache on one namespace."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from .processes import Workers, invalidation_delays, percentile

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .servers import RedisServer

BACKENDS = ["asyncio", "trio"]


@pytest.fixture(params=BACKENDS)
def workers(
    request: pytest.FixtureRequest, redis_server: RedisServer, prefix: str
) -> Iterator[Workers]:
    # A burst of 4 x 250 requests on a shared 2-core machine queues single
    # Redis operations past the default op_timeout (0.25 s): allow 2 s here.
    group = Workers(redis_server.url, prefix, request.param, 4, "2.0")
    try:
        yield group
    finally:
        group.close()


def test_a_write_reaches_the_l1_of_every_other_process(workers: Workers) -> None:
    delays = invalidation_delays(workers, rounds=30)
    assert len(delays) == 90
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    print(f"invalidation delay p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
    assert p99 < 0.5  # loose on a loaded 2-core machine; the benchmark reports the figure


def test_a_fleet_stampede_loads_each_key_once(workers: Workers) -> None:
    began = time.monotonic()
    results = workers.broadcast("stampede 250 100 20")
    loads = sum(int(result["loads"]) for result in results)
    print(f"stampede: {loads} loads, {time.monotonic() - began:.2f} s")
    assert loads == 100
