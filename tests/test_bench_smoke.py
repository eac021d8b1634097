"""Every benchmark suite runs end to end at tiny sizes, so none can rot.

Benchmarks are not tests: this only checks that ``python -m bench`` works,
writes its JSON, tables and summary, and reports a missing peer as
"n/a (not installed)" instead of crashing. Peers and matplotlib are optional.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench import __main__ as bench_main
from bench import _harness, adapters, report

ROOT = Path(__file__).resolve().parent.parent
SUITES = sorted(bench_main.SUITES)
COMMITTED = ROOT / "bench" / "results"


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


#: The project's design notes live outside the repository; nothing published
#: may point at them.
UNPUBLISHED_NOTES = re.compile(r"\b(DESIGN|STYLE)\.md\b")


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    """Run git in the checkout; skip the test outside one (an unpacked sdist)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_no_file_points_at_unpublished_design_notes() -> None:
    tracked = _git("ls-files").stdout.split()
    assert "README.md" in tracked
    mentions = {
        name
        for name in tracked
        if (ROOT / name).is_file()
        and not name.endswith(".png")
        and UNPUBLISHED_NOTES.search((ROOT / name).read_text(encoding="utf-8", errors="replace"))
    }
    assert mentions == set()


def test_only_full_runs_write_the_published_results() -> None:
    assert bench_main.default_out("full") == COMMITTED
    for scale in ("quick", "smoke"):
        out = bench_main.default_out(scale)
        assert out != COMMITTED
        ignored = _git("check-ignore", "-q", str(out / "summary.md"))
        assert ignored.returncode == 0, f"{out} must be git-ignored"


def test_committed_summary_is_rendered_from_committed_json(tmp_path: Path) -> None:
    """``summary.md`` (which the docs publish) says what the JSON beside it says."""
    for path in COMMITTED.iterdir():
        shutil.copy(path, tmp_path)
    (tmp_path / "summary.md").unlink()
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--render", "--no-plots", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    rendered = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert rendered == (COMMITTED / "summary.md").read_text(encoding="utf-8"), (
        "bench/results/summary.md is stale: run `make bench-render`"
    )
    for result in report.load_results(COMMITTED):
        assert result["meta"]["scale"] == "full", f"{result['suite']}.json is not a full run"


#: Suites whose plots are not one line or bar per contender (cases, parts of a
#: run): they draw with their own legend, not the shared contender styles.
#: The eviction plot has one line per policy (LRU, LFU, Belady's optimum...),
#: styled by policy rather than by library.
OWN_STYLES = frozenset({"eviction", "stalls", "tiered", "web"})
#: Suites whose plots name every bar on the axis (no legend to tell contenders
#: apart): the library's colour is all a bar needs, and sweepcache's feature
#: rows (statistics, listener, maxsize, tags...) outnumber the variant styles.
LABELLED_BARS = frozenset({"hotpath", "memory"})


def test_each_contender_keeps_one_style_and_styles_differ_within_a_plot() -> None:
    panels = []
    for result in report.load_results(COMMITTED):
        if result["suite"] in OWN_STYLES:
            continue
        panels.append((result["suite"], {row["contender"] for row in result["rows"]}))
        if result.get("churn"):
            panels.append(("churn", {row["variant"] for row in result["churn"]}))
    for panel, names in panels:
        assert "other" not in {report.family_of(name) for name in names}, panel
        if panel in LABELLED_BARS:
            continue
        lines = {tuple(report._line_style(name).values()) for name in names}
        bars = {tuple(report._bar_style(name).values()) for name in names}
        assert len(lines) == len(bars) == len(names), f"two contenders look alike in {panel}"
    # The same library keeps its colour whatever the variant and the suite.
    assert (
        report.style_of("sweepcache Cache")["color"]
        == report.style_of("sweepcache *_nowait")["color"]
        == report.style_of("sweepcache get_or_load")["color"]
    )
    assert report.style_of("theine Memoize")["color"] == report.style_of("theine (sync)")["color"]
    assert report.style_of("aiocache")["color"] != report.style_of("cashews mem://")["color"]
