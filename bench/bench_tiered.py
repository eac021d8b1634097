"""Suite 7, tiered: the Redis second tier against its floor and the Redis-backed peers.

Checks the Redis tier's targets: an L2 hit (TieredCache, L1 miss, L2 hit)
<= 1.3x a raw coredis ``GET`` round trip; an L1 hit within 10% of a plain
``Cache`` hit; invalidation p99 <= 5 ms on loopback; and a fleet stampede
(4 processes x 250 concurrent requests over 100 cold keys) making exactly
100 loads.

Everything runs against a private ``redis-server`` the suite starts on a free
loopback port (none installed: every row is "n/a"). Per backend, each
operation is timed as the mean of a batch of sequential awaits (median over
repeats): a plain ``Cache`` hit, a ``TieredCache`` L1 hit, an L2 hit (a tier
whose L1 is never filled), a miss plus a load (``get_or_load`` of a fresh key,
the loader returning at once), ``RedisCache.get``, the floor (coredis
``GET``), redis-py's asyncio ``GET``, aiocache's ``RedisCache`` and cashews'
``redis://`` with and without its client-side cache (asyncio only). The
invalidation delay and the stampede use real worker processes
(``tests/redis_tier/worker.py``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ._harness import Backend, Config, Progress, backends, na, optional_import, summarize

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator
    from types import ModuleType

NAME = "tiered"
TITLE = "Redis tier: L1 / L2 hits, miss + load, vs coredis GET and Redis-backed peers"
ROOT = Path(__file__).resolve().parent.parent
NOT_INSTALLED = "not installed"

#: (name, role) of every row, in table order.
CONTENDERS: tuple[tuple[str, str], ...] = (
    ("Cache hit (plain, local)", "reference"),
    ("TieredCache L1 hit", "sweepcache"),
    ("TieredCache L2 hit", "sweepcache"),
    ("TieredCache miss + load", "sweepcache"),
    ("RedisCache get (hit)", "sweepcache"),
    ("coredis GET (floor)", "floor"),
    ("redis-py asyncio GET", "peer"),
    ("aiocache RedisCache get", "peer"),
    ("cashews redis:// get", "peer"),
    ("cashews redis:// client-side get", "peer"),
)
ASYNCIO_ONLY = {
    "redis-py asyncio GET",
    "aiocache RedisCache get",
    "cashews redis:// get",
    "cashews redis:// client-side get",
}
NEEDS = {
    "redis-py asyncio GET": "redis",
    "aiocache RedisCache get": "aiocache",
    "cashews redis:// get": "cashews",
    "cashews redis:// client-side get": "cashews",
}


@contextlib.contextmanager
def private_redis() -> Iterator[int | None]:
    """A private ``redis-server`` on a free port (``None`` when it is not installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    directory = tempfile.mkdtemp(prefix="sweepcache-bench-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


async def _time_batch(op: Callable[[int], Awaitable[Any]], count: int) -> float:
    """Mean seconds of ``await op(i)`` over ``count`` sequential calls."""
    started = time.perf_counter()
    for index in range(count):
        await op(index)
    return (time.perf_counter() - started) / count


async def _measure(
    backend: Backend, port: int, counts: tuple[int, int], repeats: int
) -> dict[str, list[float]]:
    """Seconds per operation of every runnable contender, ``repeats`` batches each."""
    from sweepcache import Cache
    from sweepcache.redis import RedisCache, TieredCache

    local_count, redis_count = counts
    url = f"redis://127.0.0.1:{port}/0"
    prefix = f"bench:{os.getpid()}:{backend.name}:"
    samples: dict[str, list[float]] = {}
    plain: Cache[str, Any] = Cache(default_ttl=600)
    plain.set_nowait("hot", {"id": 1})
    tiered = TieredCache[str, Any](l1=Cache(default_ttl=600), l2=RedisCache(url=url, prefix=prefix))
    # A tier that is never run keeps its L1 empty: every read is an L2 hit.
    cold = TieredCache[str, Any](l1=Cache(), l2=RedisCache(url=url, prefix=prefix))
    async with tiered, cold.l2.client:
        with anyio.fail_after(10):
            while not tiered.link_up:  # noqa: ASYNC110 - no event for the link state
                await anyio.sleep(0.005)
        await tiered.set("hot", {"id": 1}, ttl=600)
        with anyio.fail_after(10):
            while tiered.get_nowait("hot") is None:
                await tiered.get("hot")
                await anyio.sleep(0.005)
        client = tiered.l2.client
        fresh = 0

        async def load() -> dict[str, int]:
            return {"id": 2}

        async def miss_and_load(index: int) -> Any:
            nonlocal fresh
            fresh += 1
            return await tiered.get_or_load(f"fresh{fresh}", load, ttl=600)

        operations: dict[str, tuple[Callable[[int], Awaitable[Any]], int]] = {
            "Cache hit (plain, local)": (lambda _: plain.get("hot"), local_count),
            "TieredCache L1 hit": (lambda _: tiered.get("hot"), local_count),
            "TieredCache L2 hit": (lambda _: cold.get("hot"), redis_count),
            "TieredCache miss + load": (miss_and_load, redis_count),
            "RedisCache get (hit)": (lambda _: tiered.l2.get("hot"), redis_count),
            "coredis GET (floor)": (lambda _: client.get(prefix.encode() + b"hot"), redis_count),
        }
        peers = await _peers(url, prefix, redis_count) if backend.backend == "asyncio" else {}
        try:
            for name, (op, count) in {**operations, **peers}.items():
                await _time_batch(op, max(1, count // 10))  # warm-up
                samples[name] = [await _time_batch(op, count) for _ in range(repeats)]
        finally:
            for closer in _PEER_CLOSERS:
                with contextlib.suppress(Exception):
                    await closer()
            _PEER_CLOSERS.clear()
        await tiered.clear()
    return samples


_PEER_CLOSERS: list[Callable[[], Awaitable[Any]]] = []


async def _peers(
    url: str, prefix: str, count: int
) -> dict[str, tuple[Callable[[int], Awaitable[Any]], int]]:
    """The asyncio-only peers that are installed, each reading one stored key."""
    found: dict[str, tuple[Callable[[int], Awaitable[Any]], int]] = {}
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    redis_asyncio = optional_import("redis.asyncio")
    if redis_asyncio is not None:
        client = redis_asyncio.Redis(host="127.0.0.1", port=port)
        await client.set(prefix + "peer", b"1")
        _PEER_CLOSERS.append(client.aclose)
        found["redis-py asyncio GET"] = (lambda _: client.get(prefix + "peer"), count)
    aiocache = optional_import("aiocache")
    if aiocache is not None and redis_asyncio is not None:
        cache = aiocache.RedisCache(endpoint="127.0.0.1", port=port, namespace=prefix + "aio")
        await cache.set("peer", {"id": 1})
        _PEER_CLOSERS.append(cache.close)
        found["aiocache RedisCache get"] = (lambda _: cache.get("peer"), count)
    cashews = optional_import("cashews")
    if cashews is not None and redis_asyncio is not None:
        for name, client_side in (
            ("cashews redis:// get", False),
            ("cashews redis:// client-side get", True),
        ):
            peer = cashews.Cache()
            peer.setup(url, client_side=client_side)
            await peer.set(prefix + "cashews", {"id": 1}, expire=600)
            _PEER_CLOSERS.append(peer.close)
            found[name] = (_bind_get(peer, prefix + "cashews"), count)
    return found


def _bind_get(peer: Any, key: str) -> Callable[[int], Awaitable[Any]]:
    return lambda _: peer.get(key)


def _processes_module() -> ModuleType:
    """``tests/redis_tier/processes.py`` (worker driver), loaded by path."""
    path = ROOT / "tests" / "redis_tier" / "processes.py"
    spec = importlib.util.spec_from_file_location("sweepcache_bench_processes", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fleet(port: int, backend: str, workers: int, rounds: int, requests: int) -> dict[str, Any]:
    """Invalidation delays and a fleet stampede with ``workers`` real processes."""
    processes = _processes_module()
    url = f"redis://127.0.0.1:{port}/0"
    group = processes.Workers(url, f"fleet:{backend}:{time.time_ns()}:", backend, workers, "2.0")
    try:
        delays = processes.invalidation_delays(group, rounds)
        started = time.perf_counter()
        results = group.broadcast(f"stampede {requests} 100 20")
        wall = time.perf_counter() - started
    finally:
        group.close()
    ordered = sorted(delays)
    return {
        "workers": workers,
        "invalidation_p50_s": processes.percentile(ordered, 0.50),
        "invalidation_p99_s": processes.percentile(ordered, 0.99),
        "invalidation_samples": len(ordered),
        "stampede_requests": workers * requests,
        "stampede_keys": min(100, requests),
        "stampede_loads": sum(int(result["loads"]) for result in results),
        "stampede_wall_s": wall,
    }


def run(config: Config, progress: Progress) -> dict[str, Any]:
    """Run every contender on every backend it supports, then the fleet measurements."""
    counts = config.pick(smoke=(200, 20), quick=(20_000, 500), full=(200_000, 3_000))
    repeats = config.pick(smoke=1, quick=3, full=7)
    workers, rounds, requests = config.pick(
        smoke=(2, 3, 20), quick=(4, 50, 250), full=(4, 200, 250)
    )
    all_backends = [b for b in backends() if b.name != "uvloop" or config.scale != "smoke"]
    fleet_backends = ["asyncio", "trio"] if config.scale != "smoke" else ["asyncio"]
    progress.start(NAME, len(all_backends) + len(fleet_backends))
    rows: list[dict[str, Any]] = []
    fleet: list[dict[str, Any]] = []
    with private_redis() as port:
        for backend in all_backends:
            samples = (
                backend.run(_measure, backend, port, counts, repeats) if port is not None else {}
            )
            for name, role in CONTENDERS:
                row: dict[str, Any] = {"backend": backend.name, "contender": name, "role": role}
                if port is None:
                    row["na"] = na("redis-server not installed")
                elif name in ASYNCIO_ONLY and backend.backend != "asyncio":
                    row["na"] = na("asyncio only")
                elif name not in samples:
                    row["na"] = na(NOT_INSTALLED)
                else:
                    row["op_s"] = summarize(samples[name])
                rows.append(row)
            progress.step(backend.name)
        for backend_name in fleet_backends:
            if port is None:
                fleet.append({"backend": backend_name, "na": na("redis-server not installed")})
            else:
                fleet.append(
                    {
                        "backend": backend_name,
                        **_fleet(port, backend_name, workers, rounds, requests),
                    }
                )
            progress.step(f"fleet {backend_name}")
    progress.finish()
    return {
        "suite": NAME,
        "title": TITLE,
        "parameters": {
            "local_ops_per_batch": counts[0],
            "redis_ops_per_batch": counts[1],
            "repeats": repeats,
            "fleet_workers": workers,
            "invalidation_rounds": rounds,
            "stampede_requests_per_worker": requests,
        },
        "rows": rows,
        "fleet": fleet,
        "targets": _targets(rows, fleet),
        "summary": _summary(rows),
        "notes": [
            "Each figure is the mean time of one await over a batch of sequential calls "
            "(median over repeats; Redis on loopback, a private server).",
            "The L2 hit reads value and PTTL in one round trip (a script) and tries to fill "
            "L1 (a tier never run has no link, so it never fills: each read is an L2 hit).",
            "Invalidation delay: from just before a write in one process to the drop of the "
            "key from another process's L1 (real processes, one Redis, loopback).",
            "aiocache, cashews and redis-py's asyncio client do not run under trio.",
        ],
    }


def _median(rows: list[dict[str, Any]], backend: str, name: str) -> float | None:
    for row in rows:
        if row["backend"] == backend and row["contender"] == name and "op_s" in row:
            return float(row["op_s"]["median"])
    return None


def _targets(rows: list[dict[str, Any]], fleet: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for backend in dict.fromkeys(row["backend"] for row in rows):
        l1 = _median(rows, backend, "TieredCache L1 hit")
        plain = _median(rows, backend, "Cache hit (plain, local)")
        l2 = _median(rows, backend, "TieredCache L2 hit")
        floor = _median(rows, backend, "coredis GET (floor)")
        if l1 is not None and plain is not None:
            found.append(
                {
                    "target": f"{backend}: TieredCache L1 hit within 10% of a plain Cache hit",
                    "measured": l1 / plain,
                    "display": f"{l1 / plain:.2f}x ({l1 * 1e9:,.0f} vs {plain * 1e9:,.0f} ns)",
                    "met": l1 <= 1.10 * plain,
                }
            )
        if l2 is not None and floor is not None:
            found.append(
                {
                    "target": f"{backend}: TieredCache L2 hit <= 1.3x a coredis GET",
                    "measured": l2 / floor,
                    "display": f"{l2 / floor:.2f}x ({l2 * 1e6:,.0f} vs {floor * 1e6:,.0f} us)",
                    "met": l2 <= 1.3 * floor,
                }
            )
    for item in fleet:
        if "na" in item:
            continue
        p99 = item["invalidation_p99_s"]
        found.append(
            {
                "target": f"{item['backend']}: invalidation p99 <= 5 ms on loopback",
                "measured": p99,
                "display": f"{p99 * 1e3:.2f} ms (p50 {item['invalidation_p50_s'] * 1e3:.2f} ms)",
                "met": p99 <= 0.005,
            }
        )
        keys = item["stampede_keys"]
        found.append(
            {
                "target": f"{item['backend']}: fleet stampede makes exactly {keys} loads "
                f"({item['workers']} processes x {item['stampede_requests'] // item['workers']} "
                f"requests, {keys} cold keys)",
                "measured": item["stampede_loads"],
                "display": f"{item['stampede_loads']} loads, {item['stampede_wall_s']:.2f} s",
                "met": item["stampede_loads"] == keys,
            }
        )
    return found


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summary = []
    for backend in dict.fromkeys(row["backend"] for row in rows):
        l2 = _median(rows, backend, "TieredCache L2 hit")
        peers = [
            (row["contender"], row["op_s"]["median"])
            for row in rows
            if row["backend"] == backend and row["role"] == "peer" and "op_s" in row
        ]
        best = min(peers, key=lambda item: item[1], default=None)
        summary.append(
            {
                "metric": f"L2 hit [{backend}]",
                "unit": "s",
                "lower_is_better": True,
                "sweepcache": l2,
                "floor": _median(rows, backend, "coredis GET (floor)"),
                "floor_name": "coredis GET",
                "seed": None,
                "seed_na": "n/a (no Redis tier)",
                "best_peer": None if best is None else best[1],
                "best_peer_name": None if best is None else best[0],
            }
        )
    return summary


def table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The suite's table: one row per contender and backend, then the fleet figures."""
    headers = ["backend", "contender", "per op (median)", "q1-q3", "vs coredis GET"]
    body: list[list[str]] = []
    for row in result["rows"]:
        if "na" in row:
            body.append([row["backend"], row["contender"], row["na"], "", ""])
            continue
        stats = row["op_s"]
        floor = _median(result["rows"], row["backend"], "coredis GET (floor)")
        body.append(
            [
                row["backend"],
                row["contender"],
                _duration(stats["median"]),
                f"{_duration(stats['q1'])} - {_duration(stats['q3'])}",
                f"{stats['median'] / floor:.2f}x" if floor else "-",
            ]
        )
    for item in result.get("fleet", []):
        if "na" in item:
            body.append([item["backend"], "fleet (processes)", item["na"], "", ""])
            continue
        body.append(
            [
                item["backend"],
                f"invalidation delay, {item['workers']} processes",
                f"p50 {item['invalidation_p50_s'] * 1e3:.2f} ms",
                f"p99 {item['invalidation_p99_s'] * 1e3:.2f} ms",
                "",
            ]
        )
        body.append(
            [
                item["backend"],
                f"fleet stampede, {item['stampede_requests']} requests / "
                f"{item['stampede_keys']} keys",
                f"{item['stampede_loads']} loads",
                f"{item['stampede_wall_s']:.2f} s wall",
                "",
            ]
        )
    return headers, body


def _duration(seconds: float) -> str:
    if seconds < 1e-5:
        return f"{seconds * 1e9:,.0f} ns"
    return f"{seconds * 1e6:,.1f} us"


def plot(pyplot: Any, result: dict[str, Any]) -> Any:
    """Per-op time of every contender, one panel per backend (log scale)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in result["rows"]:
        if "op_s" in row:
            grouped.setdefault(row["backend"], []).append(row)
    panels = max(1, len(grouped))
    figure, axes = pyplot.subplots(1, panels, figsize=(6 * panels, 6), squeeze=False)
    for axis, (backend, rows) in zip(axes[0], grouped.items(), strict=False):
        names = [row["contender"] for row in rows]
        values = [row["op_s"]["median"] * 1e6 for row in rows]
        axis.barh(names, values, color="tab:blue")
        axis.set_xscale("log")
        axis.set_xlabel("microseconds per operation (log)")
        axis.set_title(backend)
        axis.invert_yaxis()
    return figure
