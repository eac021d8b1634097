"""The Redis tier's long runs: 1M-input decoder fuzzing and a fault soak.

Run with ``SWEEPCACHE_RELIABILITY=1 python -m pytest tests/reliability -p no:timeout``.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from typing import TYPE_CHECKING

import anyio
import pytest

from redis_tier.faults import FAULTS, run_fault
from redis_tier.fuzzing import fuzz
from redis_tier.servers import running_server

if TYPE_CHECKING:
    from redis_tier.faults import FaultReport

FUZZ_INPUTS = int(os.environ.get("SWEEPCACHE_FUZZ_INPUTS", "1000000"))
SOAK_ROUNDS = int(os.environ.get("SWEEPCACHE_SOAK_ROUNDS", "24"))


@pytest.mark.timeout(3600)
def test_decoders_one_million_inputs() -> None:
    accepted = fuzz(FUZZ_INPUTS, seed=20261129)
    print(f"fuzzed {FUZZ_INPUTS:,} payloads (4 serializers) and {FUZZ_INPUTS:,} keys")
    print(f"decoded without error: {accepted}")


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_fault_soak(backend: str) -> None:
    """Every fault, both L1 policies, ``SOAK_ROUNDS`` times in all: 0 stale reads in flush mode."""
    reports: list[FaultReport] = []
    plan = itertools.islice(
        itertools.cycle(itertools.product(FAULTS, [(0.0, "fallback"), (30.0, "raise")])),
        SOAK_ROUNDS,
    )
    with running_server() as server:
        for index, (fault, (staleness, on_error)) in enumerate(plan):
            report = anyio.run(
                functools.partial(
                    run_fault,
                    server,
                    f"soak:{index}:",
                    fault,
                    max_staleness=staleness,
                    on_l2_error=on_error,
                ),
                backend=backend,
            )
            reports.append(report)
            assert report.recovery_s < 2.0, report
            if staleness == 0.0:
                assert report.stale_reads == 0, report
    out = os.environ.get("SWEEPCACHE_FAULT_REPORT")
    if out:
        with open(out, "a", encoding="utf-8") as file:
            for report in reports:
                file.write(json.dumps(report.__dict__) + "\n")
