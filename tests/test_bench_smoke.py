"""Every benchmark suite runs end to end at tiny sizes, so none can rot.

Benchmarks are not tests: this only checks that ``python -m bench`` works,
writes its JSON, tables and summary, and reports a missing peer as
"n/a (not installed)" instead of crashing. Peers and matplotlib are optional.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench import __main__ as bench_main
from bench import _harness, adapters

ROOT = Path(__file__).resolve().parent.parent
SUITES = sorted(bench_main.SUITES)


@pytest.mark.parametrize("suite", SUITES)
def test_suite_runs(suite: str, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--quiet", "--out", str(tmp_path), suite],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads((tmp_path / f"{suite}.json").read_text(encoding="utf-8"))
    assert result["suite"] == suite
    assert result["rows"]
    assert result["meta"]["machine"]["cpu_count"]
    assert result["meta"]["machine"]["libraries"]["sweepcache"]
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert result["title"] in summary
    assert result["title"] in completed.stdout


def test_missing_peers_are_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_harness, "HIDDEN_MODULES", {"aiocache", "cachebox", "async_lru"})
    by_name = {c.name: c for c in adapters.async_contenders()}
    assert by_name["aiocache"].unsupported("asyncio") == "n/a (not installed)"
    assert by_name["sweepcache Cache"].unsupported("trio") is None
    assert by_name["seed design"].unsupported("trio") == "n/a (asyncio only)"
    loaders = {c.name: c for c in adapters.loader_contenders()}
    assert loaders["async-lru alru_cache"].unsupported("asyncio") == "n/a (not installed)"


def test_every_suite_documents_its_target() -> None:
    for module in bench_main.SUITES.values():
        assert module.__doc__ is not None
        assert "target" in module.__doc__.lower()
