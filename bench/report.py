"""Turn suite results into terminal tables, PNG plots and ``summary.md``."""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from . import bench_stalls, bench_tiered
from ._harness import optional_import

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

Table = tuple[list[str], list[list[str]]]


# -- formatting -------------------------------------------------------------


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _spread(stats: dict[str, float], scale: float = 1.0, digits: int = 0) -> str:
    half_iqr = (stats["q3"] - stats["q1"]) / 2 * scale
    return f"{_num(stats['median'] * scale, digits)} ±{_num(half_iqr, digits)}"


def _ms(seconds: float | None, digits: int = 1) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:,.{digits}f}"


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown pipe table, padded so it also reads well in a terminal."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


# -- per-suite tables ---------------------------------------------------------


def _hotpath(result: dict[str, Any]) -> Table:
    ops = ("get hit", "get miss", "set new", "set overwrite", "delete")
    headers = ["backend", "contender", *ops, "get hit / floor", "set new / floor"]
    rows = []
    for row in result["rows"]:
        name = row["contender"] + (" †" if row.get("adapter") else "")
        if "na" in row:
            rows.append([row["backend"], name, row["na"], *[""] * (len(headers) - 3)])
            continue
        rows.append(
            [
                row["backend"],
                name,
                *(_spread(row[op]) for op in ops),
                _ratio(row["get hit ratio"]),
                _ratio(row["set new ratio"]),
            ]
        )
    return headers, rows


def _contention(result: dict[str, Any]) -> Table:
    headers = ["backend", "tasks", "contender", "k ops/s", "/ floor", "p50 µs", "p99 µs"]
    rows = []
    for row in result["rows"]:
        head = [row["backend"], str(row["tasks"]), row["contender"]]
        if "na" in row:
            rows.append([*head, row["na"], "", "", ""])
            continue
        rows.append(
            [
                *head,
                _spread(row["throughput"], 1e-3),
                _ratio(row["throughput ratio"]),
                _num(row["p50_ns"] / 1e3, 1),
                _num(row["p99_ns"] / 1e3, 1),
            ]
        )
    return headers, rows


def _stampede(result: dict[str, Any]) -> Table:
    loader = result["parameters"]["loader_s"]
    headers = [
        "backend",
        "contender",
        "loader calls",
        "wall ms",
        "p50 ms",
        "p99 ms",
        "p99 / loader",
    ]
    rows = []
    for row in result["rows"]:
        head = [row["backend"], row["contender"]]
        if "na" in row:
            rows.append([*head, row["na"], "", "", "", ""])
            continue
        rows.append(
            [
                *head,
                _num(row["calls"]),
                _spread(row["wall_s"], 1e3, 1),
                _ms(row["p50_s"]["median"]),
                _ms(row["p99_s"]["median"]),
                _ratio(row["p99_s"]["median"] / loader),
            ]
        )
    return headers, rows


def _threads(result: dict[str, Any]) -> Table:
    counts = result["parameters"]["threads"]
    headers = [
        "keys",
        "get/set",
        "contender",
        *(f"{n} thread{'s' if n > 1 else ''} (k ops/s)" for n in counts),
        *(f"speed-up x{n}" for n in counts[1:]),
    ]
    rows = []
    for row in result["rows"]:
        lead = [row["keys"], row["mix"], row["contender"]]
        if "na" in row:
            rows.append([*lead, row["na"], *[""] * (2 * len(counts) - 2)])
            continue
        rows.append(
            [
                *lead,
                *(_spread(row[f"{n} threads"], 1e-3) for n in counts),
                *(f"{row[f'speed-up {n}']:.2f}x" for n in counts[1:]),
            ]
        )
    return headers, rows


def _sweeper(result: dict[str, Any]) -> Table:
    interval = result["parameters"]["sweep_interval_s"]
    headers = [
        "backend",
        "variant",
        "keys",
        "longest stall ms (min-max)",
        "p99 stall ms",
        "all reclaimed after",
        "busy share",
        "fill s",
    ]
    rows = []
    for row in result["rows"]:
        if "na" in row:
            rows.append([row["backend"], row["contender"], row["na"], *[""] * 5])
            continue
        reclaim = row.get("reclaim_s")
        reclaimed = (
            f"{reclaim:.2f} s ({reclaim / interval:.2f} intervals)"
            if reclaim is not None
            else f"never ({row['left_expired']:,} left)"
        )
        rows.append(
            [
                row["backend"],
                row["contender"],
                f"{row['keys']:,}",
                _ms(row["stall_max_s"], 2) + _stall_spread(row),
                _ms(row["stall_p99_s"], 2),
                reclaimed,
                f"{row['busy_share'] * 100:.1f}%",
                f"{row['fill_s']:.2f}",
            ]
        )
    return headers, rows


def _memory(result: dict[str, Any]) -> Table:
    headers = ["contender", "entries", "tracemalloc B/entry", "RSS B/entry", "counted B/entry"]
    rows = []
    for row in result["rows"]:
        if "na" in row:
            rows.append([row["contender"], row["na"], "", "", ""])
            continue
        counted = _num(row["per_entry_B"]) + (" (RSS)" if row["native"] else "")
        rows.append(
            [
                row["contender"],
                f"{row['entries']:,}",
                _num(row["tracemalloc_B"]),
                _num(row["rss_B"]),
                counted,
            ]
        )
    return headers, rows


def _churn(result: dict[str, Any]) -> Table:
    headers = ["churn variant", "RSS start MiB", "RSS end MiB", "growth after warm-up MiB"]
    rows = []
    for row in result.get("churn", []):
        if "na" in row:
            rows.append([row["variant"], row["na"], "", ""])
            continue
        samples = row["rss_B"]
        rows.append(
            [
                row["variant"],
                _num(samples[0] / 2**20, 1),
                _num(samples[-1] / 2**20, 1),
                _num(row["growth_after_warmup_B"] / 2**20, 1),
            ]
        )
    return headers, rows


def _web(result: dict[str, Any]) -> Table:
    from .bench_web import table  # the suite draws its own table and plot

    return table(result)


def _percent(value: object) -> str:
    return f"{value * 100:.1f}" if isinstance(value, float) else str(value)


def _eviction(result: dict[str, Any]) -> Table:
    names = result["contenders"]
    headers = ["workload", "size", "entries", *names]
    rows = [
        [row["workload"], row["size"], f"{row['capacity']:,}"]
        + [_percent(row["hit_ratio"][name]) for name in names]
        for row in result["rows"]
    ]
    return headers, rows


def _eviction_extra(result: dict[str, Any]) -> list[Table]:
    """Throughput, the policy's costs and memory, and the sharding loss."""
    throughput = result["throughput"]
    ops_rows = [
        [row["contender"], row["na"] if "na" in row else _num(row["ops_per_s"] / 1e3)]
        for row in throughput["rows"]
    ]
    ops_header = (
        f"contender ({throughput['workload']}, {throughput['capacity']:,} entries, "
        f"{throughput['miss_ratio']:.0%} LRU misses)"
    )
    costs = [[name, _num(value)] for name, value in result["costs"].items()]
    memory = result["memory"]
    costs.append(
        [
            f"memory: policy state per entry ({memory['entries']:,} entries, tracemalloc)",
            f"{memory['policy_B_per_entry']:.1f} B (+ {memory['entry_tuple_slot_B']:.0f} B "
            "entry tuple slot)",
        ]
    )
    shard_counts = [key for key in result["sharding"][0]["hit_ratio"] if key != "1"]
    sharding = [
        [
            row["workload"],
            row["size"],
            f"{row['capacity']:,}",
            _percent(row["hit_ratio"]["1"]),
            *(f"{-row['loss_pp'][n]:+.1f} ({row['per_shard'][n]:,}/shard)" for n in shard_counts),
        ]
        for row in result["sharding"]
    ]
    return [
        ([ops_header, "k ops/s"], ops_rows),
        (["policy operation", "ns per call"], costs),
        (
            [
                "workload",
                "size",
                "entries",
                "1 shard %",
                *(f"{n} shards: change, points" for n in shard_counts),
            ],
            sharding,
        ),
    ]


TABLES: dict[str, Callable[[dict[str, Any]], Table]] = {
    "hotpath": _hotpath,
    "contention": _contention,
    "stampede": _stampede,
    "threads": _threads,
    "sweeper": _sweeper,
    "memory": _memory,
    "tiered": bench_tiered.table,
    "stalls": bench_stalls.table,
    "web": _web,
    "eviction": _eviction,
}


def suite_markdown(result: dict[str, Any]) -> str:
    """The suite's table(s), targets and notes as Markdown."""
    parts = [markdown(*TABLES[result["suite"]](result))]
    if result["suite"] == "memory" and result.get("churn"):
        parts.append(markdown(*_churn(result)))
    if result["suite"] == "eviction":
        parts.extend(markdown(*table) for table in _eviction_extra(result))
    if result["suite"] == "hotpath":
        parts.append("† through a one-call adapter (see notes).")
    if result["targets"]:
        parts.append(targets_markdown(result["targets"]))
    parts.extend(f"- {note}" for note in result.get("notes", []))
    return "\n\n".join(parts)


def targets_markdown(targets: Sequence[dict[str, Any]]) -> str:
    """Targets with their measured values and a met / NOT MET verdict."""
    return markdown(
        ["target", "measured", "met"],
        [[t["target"], t["display"], "met" if t["met"] else "NOT MET"] for t in targets],
    )


# -- summary ------------------------------------------------------------------


def _fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ns":
        return f"{value:,.0f} ns"
    if unit == "s":  # milliseconds; below 10 ms with two decimals (stalls near the 2 ms budget)
        return f"{value * 1e3:,.{2 if value < 0.01 else 1}f} ms"
    if unit == "ops/s":
        return f"{value / 1e3:,.0f}k ops/s"
    if unit == "%":
        return f"{value * 100:.1f}%"
    return f"{value:,.0f} {unit}"


def headline_markdown(results: Sequence[dict[str, Any]]) -> str:
    """One row per headline metric: sweepcache, and its ratio to floor, seed and best peer.

    Kept narrow enough for the docs' page width: each comparison cell reads
    ``ratio (other's value, other's name)``, ratios being sweepcache ÷ the other.
    """
    rows = []
    for result in results:
        for item in result.get("summary", []):
            unit = item["unit"]
            mine = item["sweepcache"]
            peer = item.get("best_peer")
            rows.append(
                [
                    f"{result['suite']}: {item['metric']}",
                    _fmt_value(mine, unit),
                    _versus(mine, item.get("floor"), unit, name=item.get("floor_name")),
                    _versus(
                        mine,
                        item.get("seed"),
                        unit,
                        item.get("seed_na"),
                        name=item.get("seed_name"),
                    ),
                    _versus(mine, peer, unit, name=item.get("best_peer_name")) if peer else "-",
                ]
            )
    return markdown(["metric", "sweepcache", "vs floor", "vs seed design", "vs best peer"], rows)


def _versus(
    mine: float | None,
    other: float | None,
    unit: str,
    na_text: str | None = None,
    *,
    name: str | None = None,
) -> str:
    """``1.08x (145 ns)``, or ``1.37x (114 ns, cachebox)`` with the other's name.

    The name loses its parenthesised detail ("cachebox (in coroutine)"): the
    metric says which family it is, and the suite's own table has the rest.
    """
    if other is None:
        return na_text or "-"
    detail = _fmt_value(other, unit) + (f", {name.split(' (')[0]}" if name else "")
    if mine is None or other == 0:
        return detail
    return f"{mine / other:.2f}x ({detail})"


def machine_markdown(meta: dict[str, Any]) -> str:
    """Where and with what the figures were measured."""
    machine = meta["machine"]
    libraries = ", ".join(
        f"{name} {version}" for name, version in machine["libraries"].items() if version
    )
    missing = [name for name, version in machine["libraries"].items() if not version]
    lines = [
        f"- Machine: {machine['processor']}, {machine['cpu_count']} CPUs, "
        f"{machine['memory_gib']} GiB, {machine['platform']}",
        f"- Python: {machine['implementation']} {machine['python']}"
        f" (GIL {'enabled' if machine['gil_enabled'] else 'disabled'})",
        f"- Libraries: {libraries}",
        f"- Run: scale `{meta['scale']}`, started {meta['started']}",
    ]
    if missing:
        lines.append(f"- Not installed: {', '.join(missing)}")
    return "\n".join(lines)


def write_summary(results_dir: Path, results: Sequence[dict[str, Any]]) -> Path:
    """Write ``summary.md`` from every suite result in ``results``."""
    order = list(TABLES)
    results = sorted(results, key=lambda r: order.index(r["suite"]))
    all_targets = [t for r in results for t in r.get("targets", [])]
    missed = [t for t in all_targets if not t["met"]]
    parts = [
        "# Benchmark results",
        "Generated by `make bench` (`python -m bench`); figures are medians over "
        "interleaved repeats, every ratio is measured in the same run.",
        machine_markdown(results[0]["meta"]) if results else "",
        "## Summary",
        "Each comparison is sweepcache ÷ the other (the other's own figure in "
        "brackets): below 1x is better for times and sizes, above 1x for throughput.",
        headline_markdown(results),
        "## Targets",
        targets_markdown(all_targets) if all_targets else "No targets measured.",
        f"{len(all_targets) - len(missed)} of {len(all_targets)} targets met.",
    ]
    for result in results:
        parts.append(f"## {result['title']}")
        if result["meta"] != results[0]["meta"]:
            parts.append(f"Run: scale `{result['meta']['scale']}`, {result['meta']['started']}.")
        parts.append(suite_markdown(result))
        if (results_dir / f"{result['suite']}.png").exists():
            parts.append(f"![{result['title']}]({result['suite']}.png)")
    path = results_dir / "summary.md"
    path.write_text("\n\n".join(p for p in parts if p) + "\n", encoding="utf-8")
    return path


def load_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every ``<suite>.json`` in ``results_dir``."""
    found = []
    for name in TABLES:
        for stem in (name, f"{name}-ft"):  # -ft: the same suite on a free-threaded build
            path = results_dir / f"{stem}.json"
            if path.exists():
                found.append(json.loads(path.read_text(encoding="utf-8")))
    return found


# -- plots --------------------------------------------------------------------


def plot(result: dict[str, Any], path: Path) -> bool:
    """Draw the suite's PNG; ``False`` when matplotlib is not installed."""
    matplotlib = optional_import("matplotlib")
    if matplotlib is None:
        return False
    matplotlib.use("Agg")
    pyplot = optional_import("matplotlib.pyplot")
    with matplotlib.rc_context(_RC):
        figure = PLOTS[result["suite"]](pyplot, result)
        figure.suptitle(result["title"], fontweight="bold")
        if figure.get_layout_engine() is None:
            figure.tight_layout()
        figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True


#: Plots are shown at the docs' text width (about 740 px) and open full size
#: on a click: figures stay under 10 inches wide, with labels at 11 pt.
_RC: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "legend.fontsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.axisbelow": True,
}

# -- one fixed style per contender, in every plot -------------------------------

#: One colour per library (or baseline), the same in every plot and panel.
FAMILY_COLOURS: dict[str, str] = {
    "sweepcache": "#1f77b4",
    "floor": "#333333",
    "seed": "#8c564b",
    "naive": "#9a9a9a",
    "aiocache": "#9467bd",
    "cashews": "#e377c2",
    "cachetools": "#ff7f0e",
    "theine": "#2ca02c",
    "cachebox": "#bcbd22",
    "async-lru": "#17becf",
    "anyio": "#d62728",
}
#: Variants of one library keep its colour and differ by line style, marker and hatch.
_LINESTYLES = ("-", "--", ":", "-.")
_HATCHES = ("", "//", "..", "xx")
_MARKERS: dict[str, str] = {
    "sweepcache": "o",
    "floor": "s",
    "seed": "D",
    "naive": "v",
    "aiocache": "^",
    "cashews": "P",
    "cachetools": "X",
    "theine": "*",
    "cachebox": "h",
    "async-lru": "<",
    "anyio": ">",
}


def family_of(contender: str) -> str:
    """The library (or baseline) a contender belongs to, which decides its colour."""
    if contender.startswith("floor"):
        return "floor"
    if contender.startswith(("seed", "global lock", "lazy only")):
        return "seed"
    if contender.startswith("naive"):
        return "naive"
    family = re.split(r"[\s,(]", contender, maxsplit=1)[0]
    return family if family in FAMILY_COLOURS else "other"


def variant_of(contender: str) -> int:
    """0 for a library's main contender, 1-3 for its other variants (from the name alone)."""
    sized = re.search(r"=(\d+)$", contender)  # "sweepcache shards=16": 1, 4, 16, 64 -> 0-3
    if sized:
        return (int(sized[1]).bit_length() - 1) // 2 % len(_LINESTYLES)
    if any(mark in contender for mark in ("*_nowait", "get-miss-load-set")):
        return 2
    if any(
        mark in contender
        for mark in ("(sync)", "compat", "@cached", "global lock", "no sweeper", "(lazy only)")
    ):
        return 1
    return 0


def style_of(contender: str) -> dict[str, Any]:
    """Colour, line style, marker and hatch of ``contender``: the same in every plot."""
    family = family_of(contender)
    variant = variant_of(contender)
    return {
        "color": FAMILY_COLOURS.get(family, "#000000"),
        "linestyle": _LINESTYLES[variant],
        "marker": _MARKERS.get(family, "o"),
        "hatch": _HATCHES[variant],
    }


def _line_style(contender: str) -> dict[str, Any]:
    style = style_of(contender)
    return {key: style[key] for key in ("color", "linestyle", "marker")}


def _bar_style(contender: str) -> dict[str, Any]:
    style = style_of(contender)
    return {
        "color": style["color"],
        "hatch": style["hatch"],
        "edgecolor": "white" if style["hatch"] else style["color"],
    }


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if "na" not in row]


def _backends(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(row["backend"] for row in rows))


def _contenders(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(row["contender"] for row in rows))


def _thousands(axis: Any, which: str = "x", *, log: bool = False) -> None:
    """Plain tick labels (1,000 rather than 10^3) on a linear or log axis."""
    ticker = optional_import("matplotlib.ticker")
    target = axis.xaxis if which == "x" else axis.yaxis
    target.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
    if log:
        target.set_minor_formatter(ticker.NullFormatter())


def _clipped_bars(
    axis: Any, values: Sequence[float | None], limit: float, unit: str, digits: int = 1
) -> None:
    """Label each horizontal bar with its value; a bar past ``limit`` is cut with an arrow."""
    for position, value in enumerate(values):
        if value is None:
            axis.text(limit * 0.01, position, "n/a", va="center", fontsize="small", color="grey")
        elif value > limit:
            axis.text(
                limit * 0.98,
                position,
                f"{value:,.0f} {unit} →",
                va="center",
                ha="right",
                fontsize="small",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5},
            )
        else:
            axis.text(value, position, f" {value:,.{digits}f}", va="center", fontsize="small")


def _plot_hotpath(pyplot: Any, result: dict[str, Any]) -> Any:
    """Get hit and set new, one panel each; one bar per backend in each contender's row."""
    rows = result["rows"]
    backends = _backends(rows)
    contenders = _contenders(rows)
    ops = ("get hit", "set new")
    figure, axes = pyplot.subplots(
        1, len(ops), figsize=(10, 0.75 + 0.42 * len(contenders)), sharey=True, layout="constrained"
    )
    height = 0.8 / len(backends)
    shades = (1.0, 0.6, 0.35)
    by_key = {(row["backend"], row["contender"]): row for row in rows}
    for axis, op in zip(axes, ops, strict=True):
        for index, backend in enumerate(backends):
            for position, name in enumerate(contenders):
                row = by_key.get((backend, name))
                y = position - 0.4 + height * (index + 0.5)
                if row is None or "na" in row:
                    continue
                stats = row[op]
                axis.barh(
                    y,
                    stats["median"],
                    height=height * 0.92,
                    xerr=[[stats["median"] - stats["q1"]], [stats["q3"] - stats["median"]]],
                    alpha=shades[index % len(shades)],
                    error_kw={"elinewidth": 0.8},
                    **_bar_style(name),
                )
        axis.set_xscale("log")
        _thousands(axis, log=True)
        axis.set_xlabel(f"{op}: ns per op (median, IQR; log scale)")
        axis.set_title(op)
    axes[0].set_yticks(range(len(contenders)), contenders)
    axes[0].invert_yaxis()
    patch = optional_import("matplotlib.patches").Patch
    figure.legend(
        handles=[
            patch(color="#555555", alpha=shades[i % len(shades)], label=backend)
            for i, backend in enumerate(backends)
        ],
        title="bar shade",
        loc="outside lower center",
        ncols=len(backends),
    )
    return figure


def _plot_contention(pyplot: Any, result: dict[str, Any]) -> Any:
    """Throughput against task count, one panel per backend, one legend for all panels."""
    rows = _ok(result["rows"])
    backends = _backends(rows)
    contenders = _contenders(rows)
    figure, axes = pyplot.subplots(
        len(backends),
        1,
        figsize=(10, 1.5 + 2.9 * len(backends)),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    handles: dict[str, Any] = {}
    for axis, backend in zip(axes[:, 0], backends, strict=True):
        for name in contenders:
            points = sorted(
                (row["tasks"], row["throughput"])
                for row in rows
                if row["backend"] == backend and row["contender"] == name
            )
            if not points:
                continue
            handles[name] = axis.errorbar(
                [tasks for tasks, _ in points],
                [stats["median"] / 1e3 for _, stats in points],
                yerr=[
                    [(stats["median"] - stats["min"]) / 1e3 for _, stats in points],
                    [(stats["max"] - stats["median"]) / 1e3 for _, stats in points],
                ],
                label=name,
                capsize=3,
                markersize=6,
                **_line_style(name),
            )
        axis.set_xscale("log")
        axis.set_ylabel("k ops/s")
        axis.set_title(backend, loc="left")
        missing = [
            name
            for name in contenders
            if name not in _contenders([row for row in rows if row["backend"] == backend])
        ]
        if missing:
            axis.text(
                0.99,
                0.04,
                "not run here: " + ", ".join(missing),
                transform=axis.transAxes,
                ha="right",
                fontsize="small",
                color="grey",
            )
    # Linear from 0 (the figures span less than one order of magnitude), one
    # scale for every panel so that backends compare at a glance.
    top = max(row["throughput"]["max"] for row in rows) / 1e3
    axes[0, 0].set_ylim(0, top * 1.06)
    bottom = axes[-1, 0]
    tasks = result["parameters"]["tasks"]
    bottom.set_xticks(tasks)
    _thousands(bottom, log=True)
    bottom.set_xlabel("concurrent tasks (log scale); k ops/s is the median, bars min-max")
    figure.legend(
        handles=[handles[name] for name in contenders if name in handles],
        loc="outside right upper",
        title="contender",
    )
    return figure


def _plot_stampede(pyplot: Any, result: dict[str, Any]) -> Any:
    """Loader calls and p99 latency per contender, one row of panels per backend."""
    rows = result["rows"]
    backends = _backends(rows)
    contenders = _contenders(rows)
    parameters = result["parameters"]
    loader_ms = parameters["loader_s"] * 1e3
    by_key = {(row["backend"], row["contender"]): row for row in rows}
    ok = _ok(rows)
    p99_limit = 1.25 * max(
        row["p99_s"]["median"] * 1e3 for row in ok if not row["contender"].startswith("global")
    )
    calls_limit = 1.12 * max(row["calls"] for row in ok)
    figure, axes = pyplot.subplots(
        len(backends),
        2,
        figsize=(10, 1.2 + 0.3 * len(contenders) * len(backends)),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for (calls_axis, p99_axis), backend in zip(axes, backends, strict=True):
        calls: list[float | None] = []
        p99: list[float | None] = []
        for position, name in enumerate(contenders):
            row = by_key.get((backend, name))
            if row is None or "na" in row:
                calls.append(None)
                p99.append(None)
                continue
            calls.append(row["calls"])
            p99.append(row["p99_s"]["median"] * 1e3)
            calls_axis.barh(position, row["calls"], height=0.7, **_bar_style(name))
            p99_axis.barh(position, min(p99[-1] or 0.0, p99_limit), height=0.7, **_bar_style(name))
        _clipped_bars(calls_axis, calls, calls_limit, "", digits=0)
        _clipped_bars(p99_axis, p99, p99_limit, "ms")
        calls_axis.axvline(parameters["keys"], color="black", linestyle="--", linewidth=1)
        calls_axis.set_xlim(0, calls_limit)
        p99_axis.axvline(loader_ms, color="black", linestyle="--", linewidth=1)
        p99_axis.axvline(loader_ms * 1.15, color="red", linestyle=":", linewidth=1.2)
        p99_axis.set_xlim(0, p99_limit)
        calls_axis.set_title(f"{backend}: loader calls", loc="left")
        p99_axis.set_title(f"{backend}: p99 latency, ms", loc="left")
        _thousands(calls_axis)
    axes[0, 0].set_yticks(range(len(contenders)), contenders)
    axes[0, 0].invert_yaxis()
    axes[-1, 0].set_xlabel(f"loader calls; dashed: {parameters['keys']} (one per key)")
    axes[-1, 1].set_xlabel(f"p99 ms; dashed: one load ({loader_ms:.0f} ms), dotted: 1.15x")
    return figure


def _plot_threads(pyplot: Any, result: dict[str, Any]) -> Any:
    counts = result["parameters"]["threads"]
    key_modes = list(dict.fromkeys(row["keys"] for row in result["rows"]))
    mixes = list(dict.fromkeys(row["mix"] for row in result["rows"]))
    names = list(dict.fromkeys(row["contender"] for row in _ok(result["rows"])))
    figure, axes = pyplot.subplots(
        len(key_modes),
        len(mixes),
        figsize=(4.2 * len(mixes), 3.6 * len(key_modes) + 1.4),
        squeeze=False,
        sharex=True,
    )
    for r, key_mode in enumerate(key_modes):
        for c, mix in enumerate(mixes):
            axis = axes[r][c]
            for row in _ok(result["rows"]):
                if row["keys"] != key_mode or row["mix"] != mix:
                    continue
                stats = [row[f"{n} threads"] for n in counts]
                axis.errorbar(
                    counts,
                    [s["median"] / 1e3 for s in stats],
                    yerr=[
                        [(s["median"] - s["min"]) / 1e3 for s in stats],
                        [(s["max"] - s["median"]) / 1e3 for s in stats],
                    ],
                    label=row["contender"],
                    capsize=3,
                    **_line_style(row["contender"]),
                )
            axis.set_xticks(counts)
            axis.set_xticklabels([str(n) for n in counts])
            axis.set_title(f"{key_mode} keys, get/set {mix}", fontsize="medium")
            axis.set_ylim(bottom=0)
            axis.grid(alpha=0.3)
            if c == 0:
                axis.set_ylabel("k ops/s (median, min-max)")
            if r == len(key_modes) - 1:
                axis.set_xlabel("threads")
    handles = [pyplot.Line2D([], [], label=name, **_line_style(name)) for name in names]
    figure.legend(handles=handles, loc="lower center", ncol=min(4, len(names)), fontsize="small")
    figure.suptitle(result["title"])
    figure.tight_layout(rect=(0, 0.14, 1, 0.96))
    return figure


def _plot_sweeper(pyplot: Any, result: dict[str, Any]) -> Any:
    """Left: longest loop stall (and p99); right: time to reclaim every expired key."""
    rows = _ok(result["rows"])
    interval = result["parameters"]["sweep_interval_s"]
    labels = [f"{r['contender']}\n{r['keys']:,} keys, {r['backend']}" for r in rows]
    figure, (stall_axis, reclaim_axis) = pyplot.subplots(
        1, 2, figsize=(10, 1.5 + 0.62 * len(rows)), sharey=True, layout="constrained"
    )
    stall_limit = 4.0  # ms: twice the target; longer stalls are cut, with their value
    stalls = [r["stall_max_s"] * 1e3 for r in rows]
    for position, (row, stall) in enumerate(zip(rows, stalls, strict=True)):
        low, high = (row.get("stall_max_range_s") or [row["stall_max_s"]] * 2)[:2]
        stall_axis.barh(
            position, min(stall, stall_limit), height=0.7, **_bar_style(row["contender"])
        )
        if stall <= stall_limit:
            stall_axis.errorbar(
                stall,
                position,
                xerr=[[stall - low * 1e3], [min(high * 1e3, stall_limit) - stall]],
                color="black",
                capsize=3,
                linewidth=1,
            )
            # The value goes past the whisker, where nothing overlaps it.
            stall_axis.text(
                min(max(stall, high * 1e3), stall_limit),
                position - 0.22,
                f" {stall:.2f}",
                va="center",
                fontsize="small",
            )
        else:
            stall_axis.text(
                stall_limit * 0.98,
                position,
                f"{stall:,.0f} ms →",
                va="center",
                ha="right",
                fontsize="small",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5},
            )
        stall_axis.plot(
            row["stall_p99_s"] * 1e3, position, marker="|", color="black", markersize=14, mew=2
        )
    stall_axis.axvline(2.0, color="red", linestyle="--", linewidth=1.2)
    stall_axis.set_xlim(0, stall_limit)
    stall_axis.set_xlabel(
        "longest stall, ms (median of runs, min-max);\n| = p99 stall; red: 2 ms target"
    )
    stall_axis.set_title("longest event-loop stall", loc="left")
    stall_axis.set_yticks(range(len(rows)), labels, fontsize="small")
    stall_axis.invert_yaxis()

    reclaim: list[float | None] = []
    for position, row in enumerate(rows):
        seconds = row.get("reclaim_s")
        if seconds is None:
            reclaim.append(None)
            reclaim_axis.text(
                0.03,
                position,
                f"never: {row['left_expired']:,} expired keys left",
                va="center",
                fontsize="small",
                color=FAMILY_COLOURS["seed"],
            )
            continue
        reclaim.append(seconds / interval)
        reclaim_axis.barh(position, seconds / interval, height=0.7, **_bar_style(row["contender"]))
        reclaim_axis.text(
            seconds / interval,
            position,
            f" {seconds / interval:.2f} ({seconds:.2f} s)",
            va="center",
            fontsize="small",
        )
    reclaim_axis.axvline(2.0, color="red", linestyle="--", linewidth=1.2)
    reclaim_axis.set_xlim(0, 2.4)
    reclaim_axis.set_xlabel(f"sweep intervals of {interval:g} s; red: 2-interval target")
    reclaim_axis.set_title("time to reclaim every expired key", loc="left")
    return figure


def _plot_memory(pyplot: Any, result: dict[str, Any]) -> Any:
    """Bytes per entry per contender; RSS over time under write-once churn."""
    rows = _ok(result["rows"])
    churn = _ok(result.get("churn", []))
    figure, (left, right) = pyplot.subplots(
        1, 2, figsize=(10, 1.5 + 0.45 * max(len(rows), 6)), layout="constrained"
    )
    names = [r["contender"] + (" (RSS)" if r["native"] else "") for r in rows]
    for position, row in enumerate(rows):
        left.barh(position, row["per_entry_B"], height=0.7, **_bar_style(row["contender"]))
    _clipped_bars(left, [r["per_entry_B"] for r in rows], float("inf"), "B", digits=0)
    left.axvline(140, color="red", linestyle="--", linewidth=1.2)
    left.set_yticks(range(len(rows)), names)
    left.invert_yaxis()
    left.set_xlim(0, 1.15 * max(r["per_entry_B"] for r in rows))
    left.set_xlabel("bytes per entry beyond keys and values;\nred: 140 B target")
    left.set_title("memory per entry", loc="left")
    for row in churn:
        right.plot(
            [b / 2**20 for b in row["rss_B"]],
            label=row["variant"],
            markevery=5,
            **_line_style(row["variant"]),
        )
    right.set_ylim(bottom=0)
    right.set_xlabel("tick (1 fake second); constant live set")
    right.set_ylabel("RSS, MiB")
    right.set_title("write-once churn", loc="left")
    if churn:
        right.legend(loc="lower right")
    return figure


def _plot_web(pyplot: Any, result: dict[str, Any]) -> Any:
    from .bench_web import plot

    return plot(pyplot, result)


#: One colour and marker per hit-ratio contender, the same in every panel.
_EVICTION_STYLES = (
    ("tab:red", "o"),
    ("tab:blue", "s"),
    ("tab:orange", "^"),
    ("tab:brown", "v"),
    ("tab:green", "D"),
    ("tab:olive", "P"),
    ("tab:gray", "X"),
    ("black", "*"),
    ("tab:purple", "h"),
    ("tab:cyan", "d"),
)


def _plot_eviction(pyplot: Any, result: dict[str, Any]) -> Any:
    names = result["contenders"]
    styles: dict[str, tuple[str, str]] = dict(zip(names, _EVICTION_STYLES, strict=False))
    present = [
        name
        for name in names
        if any(isinstance(row["hit_ratio"][name], float) for row in result["rows"])
    ]
    workloads = list(dict.fromkeys(row["workload"] for row in result["rows"]))
    columns = 4
    panel_rows = -(-len(workloads) // columns)
    figure = pyplot.figure(figsize=(18, 4 * panel_rows + 6.5))
    grid = figure.add_gridspec(
        panel_rows + 2, columns, height_ratios=[0.25] + [1] * panel_rows + [1.15]
    )
    sizes = result["parameters"]["sizes"]
    positions = range(len(sizes))
    for index, workload in enumerate(workloads):
        axis = figure.add_subplot(grid[1 + index // columns, index % columns])
        cells = [row for row in result["rows"] if row["workload"] == workload]
        for name in present:
            colour, marker = styles[name]
            points = [
                (position, row["hit_ratio"][name] * 100)
                for position, row in zip(positions, cells, strict=False)
                if isinstance(row["hit_ratio"][name], float)
            ]
            axis.plot(
                [p for p, _ in points],
                [v for _, v in points],
                marker=marker,
                markersize=7 if name == names[0] else 5,
                linewidth=2.6 if name == names[0] else 1.3,
                linestyle="--" if "Belady" in name or "exact LRU" in name else "-",
                color=colour,
                alpha=0.9,
            )
        axis.set_title(workload, fontsize=12)
        axis.set_xticks(list(positions), sizes)
        axis.set_xlabel("cache size, % of the key space", fontsize=9)
        axis.set_ylabel("hit ratio, %", fontsize=9)
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    legend = figure.add_subplot(grid[0, :])
    legend.axis("off")
    legend.legend(
        handles=[
            pyplot.Line2D(
                [],
                [],
                color=styles[name][0],
                marker=styles[name][1],
                linestyle="--" if "Belady" in name or "exact LRU" in name else "-",
                linewidth=2,
                label=name,
            )
            for name in present
        ],
        loc="center",
        ncol=min(5, len(present)),
        fontsize=11,
        frameon=False,
        title="one colour per contender in every panel; lines that coincide (LRUs, LFUs) overlap",
    )
    throughput = figure.add_subplot(grid[panel_rows + 1, :2])
    ops = [row for row in result["throughput"]["rows"] if "ops_per_s" in row]

    def bar_colour(row: dict[str, Any]) -> str:
        if row["contender"] in styles:
            return styles[row["contender"]][0]
        return styles[names[0]][0] if row["role"] == "sweepcache" else "lightgray"

    throughput.barh(
        range(len(ops)), [row["ops_per_s"] / 1e3 for row in ops], color=[bar_colour(r) for r in ops]
    )
    throughput.set_yticks(range(len(ops)), [row["contender"] for row in ops], fontsize=9)
    throughput.invert_yaxis()
    throughput.set_xlabel("k ops/s (get, and set on a miss)")
    throughput.set_title(
        f"throughput with eviction: {result['throughput']['workload']}, "
        f"{result['throughput']['capacity']:,} entries, "
        f"{result['throughput']['miss_ratio']:.0%} LRU misses",
        fontsize=11,
    )
    loss = figure.add_subplot(grid[panel_rows + 1, 2:])
    shard_counts = [key for key in result["sharding"][0]["loss_pp"] if key != "1"]
    for marker, count in zip("os^v", shard_counts, strict=False):
        points = [
            (max(row["capacity"] // int(count), 1), row["loss_pp"][count])
            for row in result["sharding"]
        ]
        loss.scatter(
            [p for p, _ in points], [v for _, v in points], marker=marker, label=f"{count} shards"
        )
    loss.axhline(0.5, color="red", linestyle="--", linewidth=1, label="0.5 points")
    loss.axhline(0, color="black", linewidth=0.6)
    loss.set_xscale("log")
    loss.set_xlabel("entries per shard")
    loss.set_ylabel("hit ratio lost vs 1 shard, points")
    loss.set_title(
        "splitting the capacity over shards (one point per workload x size)", fontsize=11
    )
    loss.legend(fontsize=9)
    loss.grid(alpha=0.3)
    return figure


PLOTS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "hotpath": _plot_hotpath,
    "contention": _plot_contention,
    "stampede": _plot_stampede,
    "threads": _plot_threads,
    "sweeper": _plot_sweeper,
    "memory": _plot_memory,
    "tiered": bench_tiered.plot,
    "stalls": bench_stalls.plot,
    "web": _plot_web,
    "eviction": _plot_eviction,
}


def _stall_spread(row: dict[str, Any]) -> str:
    """`` (min-max)`` of the longest stalls over the repeats, when there were several."""
    low, high = row.get("stall_max_range_s") or (None, None)
    if low is None or row.get("repeats", 1) < 2:
        return ""
    return f" ({_ms(low, 2)}-{_ms(high, 2)})"
