"""Turn suite results into terminal tables, PNG plots and ``summary.md``."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

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
    headers = ["contender", *(f"{n} thread{'s' if n > 1 else ''} (k ops/s)" for n in counts)]
    rows = []
    for row in result["rows"]:
        if "na" in row:
            rows.append([row["contender"], row["na"], *[""] * (len(counts) - 1)])
            continue
        rows.append([row["contender"], *(_spread(row[f"{n} threads"], 1e-3) for n in counts)])
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
        ["target (DESIGN.md)", "measured", "met"],
        [[t["target"], t["display"], "met" if t["met"] else "NOT MET"] for t in targets],
    )


# -- summary ------------------------------------------------------------------


def _fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ns":
        return f"{value:,.0f} ns"
    if unit == "s":
        return f"{value * 1e3:,.1f} ms"
    if unit == "ops/s":
        return f"{value / 1e3:,.0f}k ops/s"
    if unit == "%":
        return f"{value * 100:.1f}%"
    return f"{value:,.0f} {unit}"


def headline_markdown(results: Sequence[dict[str, Any]]) -> str:
    """One row per headline metric: sweepcache, and its ratio to floor, seed and best peer."""
    rows = []
    for result in results:
        for item in result.get("summary", []):
            unit = item["unit"]
            mine = item["sweepcache"]
            peer = item.get("best_peer")
            rows.append(
                [
                    result["suite"],
                    item["metric"],
                    _fmt_value(mine, unit),
                    _versus(mine, item.get("floor"), unit) + _named(item.get("floor_name")),
                    _versus(mine, item.get("seed"), unit, item.get("seed_na"))
                    + _named(item.get("seed_name")),
                    (_versus(mine, peer, unit) + _named(item.get("best_peer_name")))
                    if peer
                    else "-",
                ]
            )
    return markdown(
        [
            "suite",
            "metric",
            "sweepcache",
            "floor (sweepcache ÷ it)",
            "seed design (÷)",
            "best peer (÷)",
        ],
        rows,
    )


def _versus(mine: float | None, other: float | None, unit: str, na_text: str | None = None) -> str:
    if other is None:
        return na_text or "-"
    if mine is None or other == 0:
        return _fmt_value(other, unit)
    return f"{_fmt_value(other, unit)} ({mine / other:.2f}x)"


def _named(name: str | None) -> str:
    return f" [{name}]" if name else ""


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
        "Ratios are sweepcache ÷ the other: below 1 is better for times and sizes, "
        "above 1 is better for throughput.",
        headline_markdown(results),
        "## Targets from DESIGN.md",
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
        path = results_dir / f"{name}.json"
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
    figure = PLOTS[result["suite"]](pyplot, result)
    figure.suptitle(result["title"])
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
    return True


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if "na" not in row]


def _by_backend(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in _ok(rows):
        grouped.setdefault(row["backend"], []).append(row)
    return grouped


def _plot_hotpath(pyplot: Any, result: dict[str, Any]) -> Any:
    grouped = _by_backend(result["rows"])
    figure, axes = pyplot.subplots(1, len(grouped), figsize=(6 * len(grouped), 6), squeeze=False)
    for axis, (backend, rows) in zip(axes[0], grouped.items(), strict=True):
        names = [row["contender"] for row in rows]
        for offset, op in ((-0.2, "get hit"), (0.2, "set new")):
            medians = [row[op]["median"] for row in rows]
            errors = [
                [row[op]["median"] - row[op]["q1"] for row in rows],
                [row[op]["q3"] - row[op]["median"] for row in rows],
            ]
            positions = [i + offset for i in range(len(rows))]
            axis.barh(positions, medians, height=0.4, xerr=errors, label=op)
        axis.set_yticks(range(len(rows)), names)
        axis.invert_yaxis()
        axis.set_xscale("log")
        axis.set_xlabel("ns per op (median, IQR)")
        axis.set_title(backend)
        axis.legend()
    return figure


def _plot_contention(pyplot: Any, result: dict[str, Any]) -> Any:
    grouped = _by_backend(result["rows"])
    figure, axes = pyplot.subplots(1, len(grouped), figsize=(6 * len(grouped), 5), squeeze=False)
    for axis, (backend, rows) in zip(axes[0], grouped.items(), strict=True):
        lines: dict[str, list[tuple[int, dict[str, float]]]] = {}
        for row in rows:
            lines.setdefault(row["contender"], []).append((row["tasks"], row["throughput"]))
        for name, points in lines.items():
            axis.errorbar(
                [p[0] for p in points],
                [p[1]["median"] for p in points],
                yerr=[
                    [p[1]["median"] - p[1]["min"] for p in points],
                    [p[1]["max"] - p[1]["median"] for p in points],
                ],
                marker="o",
                label=name,
                capsize=3,
            )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("concurrent tasks")
        axis.set_ylabel("ops/s (median, min-max)")
        axis.set_title(backend)
    axes[0][0].legend(fontsize="small")
    return figure


def _plot_stampede(pyplot: Any, result: dict[str, Any]) -> Any:
    grouped = _by_backend(result["rows"])
    figure, axes = pyplot.subplots(1, len(grouped), figsize=(6 * len(grouped), 5), squeeze=False)
    for axis, (backend, rows) in zip(axes[0], grouped.items(), strict=True):
        walls = [row["wall_s"]["median"] * 1e3 for row in rows]
        errors = [
            [(row["wall_s"]["median"] - row["wall_s"]["min"]) * 1e3 for row in rows],
            [(row["wall_s"]["max"] - row["wall_s"]["median"]) * 1e3 for row in rows],
        ]
        bars = axis.barh(range(len(rows)), walls, xerr=errors)
        for bar, row in zip(bars, rows, strict=True):
            axis.annotate(
                f" {row['calls']:.0f} loads",
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                va="center",
                fontsize="small",
            )
        axis.axvline(result["parameters"]["loader_s"] * 1e3, color="grey", linestyle="--")
        axis.set_yticks(range(len(rows)), [row["contender"] for row in rows])
        axis.invert_yaxis()
        axis.set_xscale("log")
        axis.set_xlabel("wall ms (median, min-max); dashed: one load")
        axis.set_title(backend)
    return figure


def _plot_threads(pyplot: Any, result: dict[str, Any]) -> Any:
    figure, axis = pyplot.subplots(figsize=(8, 5))
    counts = result["parameters"]["threads"]
    for row in _ok(result["rows"]):
        stats = [row[f"{n} threads"] for n in counts]
        axis.errorbar(
            counts,
            [s["median"] for s in stats],
            yerr=[[s["median"] - s["min"] for s in stats], [s["max"] - s["median"] for s in stats]],
            marker="o",
            label=row["contender"],
            capsize=3,
        )
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xlabel("threads")
    axis.set_ylabel("ops/s (median, min-max)")
    axis.legend(fontsize="small")
    return figure


def _plot_sweeper(pyplot: Any, result: dict[str, Any]) -> Any:
    rows = _ok(result["rows"])
    figure, axis = pyplot.subplots(figsize=(9, 5))
    labels = [f"{r['contender']}\n{r['keys']:,} keys, {r['backend']}" for r in rows]
    axis.barh(range(len(rows)), [r["stall_max_s"] * 1e3 for r in rows], label="longest stall")
    axis.barh(
        range(len(rows)), [r["stall_p99_s"] * 1e3 for r in rows], height=0.4, label="p99 stall"
    )
    axis.axvline(2.0, color="red", linestyle="--", label="target 2 ms")
    axis.set_yticks(range(len(rows)), labels, fontsize="small")
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set_xlabel("heartbeat lateness, ms")
    axis.legend()
    return figure


def _plot_memory(pyplot: Any, result: dict[str, Any]) -> Any:
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(13, 5))
    rows = _ok(result["rows"])
    left.barh(range(len(rows)), [r["per_entry_B"] for r in rows])
    left.axvline(140, color="red", linestyle="--", label="target 140 B")
    left.set_yticks(
        range(len(rows)), [r["contender"] + (" (RSS)" if r["native"] else "") for r in rows]
    )
    left.invert_yaxis()
    left.set_xlabel("bytes per entry beyond keys and values")
    left.legend()
    for row in result.get("churn", []):
        if "na" not in row:
            right.plot([b / 2**20 for b in row["rss_B"]], label=row["variant"])
    right.set_xlabel("tick (1 fake second; live set constant)")
    right.set_ylabel("RSS MiB")
    right.set_title("write-once churn")
    right.legend(fontsize="small")
    return figure


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
    "eviction": _plot_eviction,
}


def _stall_spread(row: dict[str, Any]) -> str:
    """`` (min-max)`` of the longest stalls over the repeats, when there were several."""
    low, high = row.get("stall_max_range_s") or (None, None)
    if low is None or row.get("repeats", 1) < 2:
        return ""
    return f" ({_ms(low, 2)}-{_ms(high, 2)})"
