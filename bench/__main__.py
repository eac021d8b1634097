"""``python -m bench``: run the suites, print tables, write JSON, PNG and summary.md.

Usage::

    python -m bench                 # every suite, full size (~21 min on 2 cores)
    python -m bench --quick         # reduced sizes (~5 min); writes bench/results-quick/
    python -m bench hotpath memory  # some suites only
    python -m bench --out DIR       # write results elsewhere
    python -m bench --render        # redraw plots and summary.md from the JSON in bench/results/

Full runs write ``bench/results/``, the figures the docs publish; ``--quick``
and ``--smoke`` runs write ``bench/results-quick/`` (git-ignored), so a trial
run never overwrites them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import (
    bench_contention,
    bench_eviction,
    bench_hotpath,
    bench_memory,
    bench_stalls,
    bench_stampede,
    bench_sweeper,
    bench_threads,
    bench_tiered,
    bench_web,
    report,
)
from ._harness import Config, Progress, Scale, machine

if TYPE_CHECKING:
    from types import ModuleType

SUITES: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        bench_hotpath,
        bench_contention,
        bench_stampede,
        bench_threads,
        bench_sweeper,
        bench_stalls,
        bench_memory,
        bench_tiered,
        bench_web,
        bench_eviction,
    )
}
RESULTS = Path(__file__).resolve().parent / "results"
#: Where reduced runs go unless ``--out`` says otherwise: never published.
QUICK_RESULTS = Path(__file__).resolve().parent / "results-quick"


def run_suite(
    name: str, config: Config, out: Path, progress: Progress, *, plots: bool = True
) -> dict[str, Any]:
    """Run one suite; write ``<suite>.json`` (and ``<suite>.png``) under ``out``."""
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.perf_counter()
    result: dict[str, Any] = SUITES[name].run(config, progress)
    result["meta"] = {
        "scale": config.scale,
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": round(time.perf_counter() - clock, 1),
        "machine": machine(),
        "command": "python -m bench"
        + {"full": "", "quick": " --quick", "smoke": " --smoke"}[config.scale],
    }
    out.mkdir(parents=True, exist_ok=True)
    stem = name
    if name == bench_threads.NAME and bench_threads.free_threaded():
        stem = f"{name}-ft"  # beside the GIL build's results, not over them
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if plots and not report.plot(result, out / f"{stem}.png"):
        progress.note(f"[{name}] plot skipped: n/a (matplotlib not installed)")
    return result


def default_out(scale: Scale) -> Path:
    """Where a run writes unless ``--out`` says otherwise: only full runs are published."""
    return RESULTS if scale == "full" else QUICK_RESULTS


def render(out: Path, suites: list[str], *, plots: bool = True) -> int:
    """Redraw plots and ``summary.md`` from the suites' JSON in ``out``; run nothing."""
    results = [r for r in report.load_results(out) if r["suite"] in suites]
    if not results:
        print(f"no results to render in {out}", file=sys.stderr)
        return 1
    for result in results:
        if plots and not report.plot(result, out / f"{result['suite']}.png"):
            print("plots skipped: n/a (matplotlib not installed)", file=sys.stderr)
            plots = False
    summary = report.write_summary(out, report.load_results(out))
    print(f"rendered {', '.join(r['suite'] for r in results)} and {summary}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen suites."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "suites",
        nargs="*",
        choices=[[], *SUITES],
        metavar="SUITE",
        help=f"suites to run (default: all): {', '.join(SUITES)}",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help=f"reduced sizes (~5 min), into {QUICK_RESULTS.name}/"
    )
    size.add_argument("--smoke", action="store_true", help="tiny sizes (for the test suite)")
    parser.add_argument("--huge", action="store_true", help="also run 10M-key sizes (slow)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results folder (default: {RESULTS.name}/ for full runs, "
        f"{QUICK_RESULTS.name}/ for --quick and --smoke)",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="run nothing: redraw the plots and summary.md from the JSON in the results folder",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run several suites in this interpreter instead of one fresh one each",
    )
    # Set by the parent run for each suite's interpreter: the parent writes
    # the summary once, at the end.
    parser.add_argument("--no-summary", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scale: Scale = "quick" if args.quick else "smoke" if args.smoke else "full"
    if args.out is None:
        args.out = default_out(scale)
    if args.render:
        return render(args.out, args.suites or list(SUITES), plots=not args.no_plots)
    suites = args.suites or list(SUITES)

    config = Config(scale=scale, huge=args.huge)
    progress = Progress(quiet=args.quiet)
    started = time.perf_counter()
    if len(suites) > 1 and not args.in_process:
        # One fresh interpreter per suite: what one suite leaves on the heap
        # (millions of objects, a fragmented arena) otherwise shows up as GC
        # pauses and loop stalls in the next one's figures.
        forwarded = [
            flag
            for flag, wanted in (
                ("--quick", args.quick),
                ("--smoke", args.smoke),
                ("--huge", args.huge),
                ("--no-plots", args.no_plots),
                ("--quiet", args.quiet),
            )
            if wanted
        ]
        for name in suites:
            command = [
                *(sys.executable, "-m", "bench", name, "--no-summary"),
                *("--out", str(args.out), *forwarded),
            ]
            subprocess.run(command, check=True)
    else:
        for name in suites:
            result = run_suite(name, config, args.out, progress, plots=not args.no_plots)
            print(f"\n## {result['title']}\n")
            print(report.suite_markdown(result))
            sys.stdout.flush()
    if args.no_summary:
        return 0
    results = report.load_results(args.out)
    if not args.no_plots:
        # A free-threaded run has no matplotlib: draw its plot here, from its JSON.
        for result in results:
            if result.get("build") == "free-threaded":
                report.plot(result, args.out / f"{result['suite']}-ft.png")
    summary = report.write_summary(args.out, results)
    print("\n## Summary\n")
    print(report.headline_markdown(results))
    print()
    print(report.targets_markdown([t for r in results for t in r.get("targets", [])]))
    progress.note(
        f"results in {args.out} (summary: {summary.name}); "
        f"total {time.perf_counter() - started:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
