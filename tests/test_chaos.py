"""Short runs of the cancellation fuzz and the churn soak (``make reliability`` runs them long)."""

from __future__ import annotations

from typing import Any

import pytest

from chaos import cancellation_fuzz, churn_soak

BACKENDS: list[Any] = [
    pytest.param("asyncio", {}, id="asyncio"),
    pytest.param("asyncio", {"use_uvloop": True}, id="asyncio+uvloop"),
    pytest.param("trio", {}, id="trio"),
]


@pytest.mark.parametrize(("backend", "options"), BACKENDS)
def test_cancellation_fuzz(backend: str, options: dict[str, Any]) -> None:
    report = cancellation_fuzz(300, seed=7, backend=backend, options=options)
    print(report.line(backend + ("+uvloop" if options else "")))
    assert report.runs == 300
    assert report.cancelled > 0
    assert report.hangs == 0
    assert report.stray_cancellations == 0
    assert report.stale_stores == 0
    assert report.leftover_loads == 0
    assert report.excess_loads == 0


@pytest.mark.parametrize(("backend", "options"), BACKENDS[:1] + BACKENDS[2:])
def test_churn_soak(backend: str, options: dict[str, Any]) -> None:
    report = churn_soak(2.0, backend, options)
    print(report.line(backend))
    assert report.operations > 10_000
    peak = max(sample[2] for sample in report.samples)
    assert peak < report.operations  # write-once keys do not pile up
    assert report.expired_share_at_end < 0.9
