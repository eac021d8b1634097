"""Suite 6, memory: bytes per entry beyond keys and values, and RSS under churn.

Checks the project's memory target: <= 140 B per entry beyond keys and
values (tracemalloc; RSS for native peers such as cachebox and theine).

Per entry: each contender runs in a fresh interpreter (``python -m
bench.bench_memory probe ...``) that builds N keys and values first, takes a
baseline, inserts them all (TTL 60 s) and reports the growth divided by N,
once under tracemalloc and once by RSS, so neither disturbs the other.

Churn: a fresh interpreter per variant keeps a constant live set (write-once
keys with a 10 s TTL on a fake clock advanced 1 s per tick, as sessions or
rate-limit keys are written) and samples RSS every tick: bounded with a
sweeper, bounded by sweepcache's write-time reclaim without one, and growing
forever in the seed design, which reclaims a key only when it is read again.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tracemalloc
from typing import Any

from . import adapters
from ._harness import Config, Progress, na, optional_import, rss_bytes

NAME = "memory"
TITLE = "Memory: bytes per entry beyond keys and values; RSS under churn"
TARGET_BYTES = 140
#: The same with ``maxsize`` (the eviction policy's state included).
BOUNDED_TARGET_BYTES = 160
#: Measured at no more than 200,000 entries (see ``run``).
SLOW = frozenset({"aiocache", "cashews mem://", "cachetools (in coroutine)"})
CHURN_VARIANTS = (
    "sweepcache + sweeper",
    "sweepcache, no sweeper",
    "seed design (lazy only)",
    "cachetools TTLCache",
)


def _contenders() -> list[adapters.Contender]:
    """One contender per design (the async wrappers of sync peers store the same)."""
    wanted = {
        "floor (async)": "dict + tuple (floor)",
        "seed design": "seed design",
        "sweepcache Cache": "sweepcache Cache",
        "sweepcache compat": "sweepcache compat",
        "aiocache": "aiocache",
        "cashews mem://": "cashews mem://",
        "cachetools (in coroutine)": "cachetools TTLCache",
        "theine (in coroutine)": "theine",
        "cachebox (in coroutine)": "cachebox TTLCache",
    }
    features = {
        "sweepcache maxsize",
        "sweepcache set with a tag",
        "sweepcache set with a tag of its own",
    }
    found = [c for c in adapters.async_contenders() if c.name in wanted]
    return found + [c for c in adapters.feature_contenders() if c.name in features]


async def _fill(contender: adapters.Contender, size: int, mode: str) -> float:
    keys = [f"user:{i}" for i in range(size)]
    values = [i + 1_000_000 for i in range(size)]
    assert contender.build is not None
    if mode == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = rss_bytes()
    ops = contender.build(size)
    for key, value in zip(keys, values, strict=True):
        await ops.set(key, value)
    after = tracemalloc.get_traced_memory()[0] if mode == "tracemalloc" else rss_bytes()
    per_entry = (after - before) / size
    if ops.aclose is not None:
        await ops.aclose()
    return per_entry


def _probe(name: str, size: int, mode: str) -> float:
    contender = next(c for c in _contenders() if c.name == name)
    return asyncio.run(_fill(contender, size, mode))


def _churn(variant: str, live: int, ticks: int) -> list[int]:
    """RSS after each tick of write-once churn with ``live`` keys alive."""
    import sweepcache  # only the probe process needs it
    from sweepcache.testing import FakeClock

    clock = FakeClock(1000.0)
    per_tick = live // 10
    samples: list[int] = []

    async def main() -> None:
        if variant.startswith("sweepcache"):
            cache: sweepcache.Cache[str, int] = sweepcache.Cache(
                default_ttl=10.0, sweep_interval=1.0, clock=clock
            )
            for tick in range(ticks):
                for i in range(per_tick):
                    cache.set_nowait(f"session:{tick}:{i}", i)
                clock.advance(1.0)
                if variant == "sweepcache + sweeper":
                    await cache.sweep()
                samples.append(rss_bytes())
        elif variant.startswith("seed"):
            seed = adapters.SeedCache()
            for tick in range(ticks):
                for i in range(per_tick):
                    await seed.set(f"session:{tick}:{i}", i, ttl=10.0)
                samples.append(rss_bytes())
        else:
            import cachetools  # an optional peer, only needed here

            ttl_cache: Any = cachetools.TTLCache(maxsize=sys.maxsize, ttl=10.0, timer=clock)
            for tick in range(ticks):
                for i in range(per_tick):
                    ttl_cache[f"session:{tick}:{i}"] = i
                clock.advance(1.0)
                samples.append(rss_bytes())

    asyncio.run(main())
    return samples


def _subprocess(*args: str) -> Any:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench_memory", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(completed.stdout)


def run(config: Config, progress: Progress) -> dict[str, Any]:
    """Probe every contender in its own interpreter; run the churn variants."""
    size = config.pick(smoke=5_000, quick=100_000, full=1_000_000)
    # Pure-Python peers are 5-20x slower to fill under tracemalloc; cap them
    # so the full run stays in budget (the figure is per entry either way).
    slow_size = min(size, config.pick(smoke=5_000, quick=40_000, full=200_000))
    live, ticks = config.pick(smoke=(2_000, 5), quick=(50_000, 20), full=(100_000, 40))
    contenders = _contenders()
    progress.start(NAME, len(contenders) + len(CHURN_VARIANTS))
    rows: list[dict[str, Any]] = []
    for contender in contenders:
        entries = slow_size if contender.name in SLOW else size
        row: dict[str, Any] = {
            "contender": contender.name,
            "role": contender.role,
            "native": contender.native,
            "entries": entries,
        }
        if contender.build is None:
            row["na"] = na(contender.missing or adapters.NOT_INSTALLED)
        else:
            row["tracemalloc_B"] = _subprocess("probe", contender.name, str(entries), "tracemalloc")
            row["rss_B"] = _subprocess("probe", contender.name, str(entries), "rss")
            row["per_entry_B"] = row["rss_B"] if contender.native else row["tracemalloc_B"]
        rows.append(row)
        progress.step(contender.name)
    churn: list[dict[str, Any]] = []
    for variant in CHURN_VARIANTS:
        if variant.startswith("cachetools") and optional_import("cachetools") is None:
            churn.append({"variant": variant, "na": na(adapters.NOT_INSTALLED)})
        else:
            samples = _subprocess("churn", variant, str(live), str(ticks))
            churn.append(
                {
                    "variant": variant,
                    "rss_B": samples,
                    "growth_after_warmup_B": samples[-1] - samples[min(10, len(samples) - 1)],
                }
            )
        progress.step(f"churn: {variant}")
    progress.finish()
    return {
        "suite": NAME,
        "title": TITLE,
        "parameters": {"entries": size, "churn_live": live, "churn_ticks": ticks},
        "rows": rows,
        "churn": churn,
        "targets": _targets(rows),
        "summary": _summary(rows),
        "notes": [
            "Per entry = growth / entries with keys and values built before the baseline; "
            "tracemalloc for pure-Python caches, RSS for native ones (tracemalloc cannot see "
            "Rust allocations).",
            "aiocache's figure includes its one timer handle per key (that is how it expires).",
            "aiocache, cashews and cachetools are measured at <= 200,000 entries: under "
            "tracemalloc they take minutes to fill 1M.",
            "10M entries: not run (1M already shows the per-entry cost; 10M adds ~2 min per "
            "contender).",
        ],
    }


def _targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for row in rows:
        if row["role"] != "sweepcache" or "na" in row:
            continue
        value = row["per_entry_B"]
        if "tag" in row["contender"]:
            continue  # reported, not a target: what a tag membership costs
        limit = BOUNDED_TARGET_BYTES if "maxsize" in row["contender"] else TARGET_BYTES
        found.append(
            {
                "target": f"memory: {row['contender']} <= {limit} B per entry "
                f"({row['entries']:,} entries, tracemalloc)",
                "measured": value,
                "display": f"{value:.0f} B",
                "met": value <= limit,
            }
        )
    return found


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {row["contender"]: row for row in rows if "na" not in row}
    mine, floor, seed = (
        by_name.get("sweepcache Cache"),
        by_name.get("floor (async)"),
        by_name.get("seed design"),
    )
    peers = [row for row in by_name.values() if row["role"] == "peer"]
    best = min(peers, key=lambda row: row["per_entry_B"], default=None)
    return [
        {
            "metric": "bytes per entry beyond keys and values",
            "unit": "B",
            "lower_is_better": True,
            "sweepcache": None if mine is None else mine["per_entry_B"],
            "floor": None if floor is None else floor["per_entry_B"],
            "floor_name": "dict + tuple",
            "seed": None if seed is None else seed["per_entry_B"],
            "best_peer": None if best is None else best["per_entry_B"],
            "best_peer_name": None if best is None else best["contender"],
        }
    ]


def main(argv: list[str]) -> None:
    """Entry point of the probe processes (not for direct use)."""
    if argv[0] == "probe":
        print(json.dumps(_probe(argv[1], int(argv[2]), argv[3])))
    elif argv[0] == "churn":
        print(json.dumps(_churn(argv[1], int(argv[2]), int(argv[3]))))
    else:
        raise SystemExit(f"unknown probe {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
