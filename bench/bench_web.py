"""Suite 7, web: the example users service on PostgreSQL under uvicorn, with and without cache.

Checks the web targets: with the cache, at least 5x fewer database queries
per request and a better p99 latency than without it, on the same load; in a
cold-start stampede, one query per cold key.

The service (``examples/users_service``) runs in its own process under
uvicorn on 127.0.0.1, in a fresh schema of the local PostgreSQL, once with
its caches (three repository caches and the HTTP response cache) and once
without (``--no-cache``). In this process, N concurrent HTTP clients (httpx,
one connection each) send requests for a bounded time: 98% reads (by id
40%, by e-mail 20%, profile 20%, a page of the list 18%) and 2% writes
(``PATCH`` of a user's name), users drawn by Zipf's law (exponent 1.0).
First, not measured, every view of every user is requested once (the state
of a service that has been up for a while; the stampede measures a cold
start) and the load runs for a warm-up. Each request's latency is timed
around the awaited call; the database queries come from the service's
``users_service_db_queries_total`` (SQLAlchemy's ``before_cursor_execute``
count), read from ``/metrics`` before and after.

A write costs about six queries with the cache (two for the write, then
one reload of each view it invalidated: by id, by e-mail, profile, list
page) against two without, so the ratio of queries falls as writes grow:
about 8x at 2% writes, under 4x at 5%.

The stampede starts a fresh server and sends ``clients`` requests at once
for each of ``keys`` users that nobody asked for yet (``GET /users/{id}``),
over ``connections`` connections, then reports the queries they cost.

The client and the server share the machine's cores, so requests/s is a
floor of what the server does alone; both variants pay the same client.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from ._harness import Config, Progress, na, optional_import, percentile

if TYPE_CHECKING:
    from collections.abc import Iterator

NAME = "web"
TITLE = "Web service: users on PostgreSQL under uvicorn, with and without the cache"
ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("no cache", "sweepcache")
#: Share of each request kind in the load (writes last).
MIX = (("by id", 0.40), ("by email", 0.20), ("profile", 0.20), ("list page", 0.18), ("write", 0.02))
PAGE = 20


def _database_url() -> str:
    from examples.users_service.settings import DEFAULT_DATABASE_URL

    return os.environ.get("USERS_SERVICE_DATABASE_URL", DEFAULT_DATABASE_URL)


def _postgres_unreachable() -> str | None:
    """Why the database cannot be reached, or ``None`` when it can."""
    parts = urlsplit(_database_url())
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return None
    except OSError as exc:
        return f"PostgreSQL not reachable at {parts.hostname}:{parts.port}: {exc.strerror}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``python -m examples.users_service`` in a child process, stopped (and cleaned) on exit."""

    def __init__(self, *, cache: bool, users: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "examples.users_service",
            "--port",
            str(self.port),
            "--users",
            str(users),
        ]
        if not cache:
            command.append("--no-cache")
        # A file, not a pipe: nobody reads while it runs, and a full pipe would block it.
        self.errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.errors, text=True
        )

    async def ready(self, client: Any) -> None:
        """Wait (bounded) until ``/healthz`` answers."""
        with anyio.fail_after(60):
            while True:
                if self.process.poll() is not None:
                    self.errors.seek(0)
                    raise RuntimeError(f"the service did not start:\n{self.errors.read()}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except OSError:
                    pass
                except Exception as exc:  # httpx's connection errors
                    if "connect" not in type(exc).__name__.lower():
                        raise
                await anyio.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: the service stops gracefully and drops its schema."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                self.process.kill()
                self.process.wait()
        self.errors.close()


async def _queries(client: Any, url: str) -> int:
    text = (await client.get(f"{url}/metrics")).text
    found = re.search(r"^users_service_db_queries_total (\S+)$", text, re.MULTILINE)
    assert found is not None, "no users_service_db_queries_total in /metrics"
    return int(float(found[1]))


def _requests(seed: int, users: int) -> Iterator[tuple[str, str, dict[str, str] | None]]:
    """An endless stream of (method, path, json body) from the mix, Zipf users."""
    rng = random.Random(seed)
    weights = list(itertools.accumulate(1.0 / rank for rank in range(1, users + 1)))
    kinds = [kind for kind, _ in MIX]
    shares = [share for _, share in MIX]
    pages = max(1, users // PAGE)
    page_weights = list(itertools.accumulate(1.0 / rank for rank in range(1, pages + 1)))
    for number in itertools.count():
        kind = rng.choices(kinds, shares)[0]
        user = rng.choices(range(1, users + 1), cum_weights=weights)[0]
        if kind == "by id":
            yield "GET", f"/users/{user}", None
        elif kind == "by email":
            yield "GET", f"/users/by-email/user{user}@example.com", None
        elif kind == "profile":
            yield "GET", f"/users/{user}/profile", None
        elif kind == "list page":
            page = rng.choices(range(pages), cum_weights=page_weights)[0]
            yield "GET", f"/users?limit={PAGE}&offset={page * PAGE}", None
        else:
            yield "PATCH", f"/users/{user}", {"name": f"User {user} ({seed}.{number})"}


def _clients(count: int, timeout: float) -> list[Any]:
    """``count`` httpx clients of one connection each (no shared pool to queue in)."""
    import httpx

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return [httpx.AsyncClient(limits=limits, timeout=timeout) for _ in range(count)]


async def _close(clients: list[Any]) -> None:
    for client in clients:
        await client.aclose()


async def _load(
    clients: list[Any], url: str, seconds: float, users: int, seed: int
) -> dict[str, Any]:
    """One worker per client sending the mix for ``seconds``; latencies of the answered ones."""
    latencies: list[float] = []
    errors = 0
    deadline = perf_counter() + seconds

    async def worker(index: int) -> None:
        nonlocal errors
        client = clients[index]
        for method, path, body in _requests(seed * 1000 + index, users):
            if perf_counter() >= deadline:
                return
            start = perf_counter()
            response = await client.request(method, url + path, json=body)
            latencies.append(perf_counter() - start)
            if response.status_code >= 400:
                errors += 1

    started = perf_counter()
    async with anyio.create_task_group() as tg:
        for index in range(len(clients)):
            tg.start_soon(worker, index)
    wall = perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "wall_s": wall,
        "rps": len(latencies) / wall,
        "p50_s": percentile(latencies, 0.50),
        "p99_s": percentile(latencies, 0.99),
    }


async def _prefetch(clients: list[Any], url: str, users: int) -> None:
    """Request every view of every user (and every list page) once."""
    views = ("/users/{0}", "/users/by-email/user{0}@example.com", "/users/{0}/profile")
    paths = [view.format(user) for user in range(1, users + 1) for view in views]
    paths += [f"/users?limit={PAGE}&offset={page * PAGE}" for page in range(users // PAGE)]

    async def worker(index: int) -> None:
        for path in paths[index :: len(clients)]:
            await clients[index].get(url + path)

    async with anyio.create_task_group() as tg:
        for index in range(len(clients)):
            tg.start_soon(worker, index)


async def _steady(cache: bool, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    server = Server(cache=cache, users=params["users"])
    clients = _clients(params["clients"], 60)
    try:
        await server.ready(clients[0])
        await _prefetch(clients, server.url, params["users"])
        await _load(clients, server.url, params["warmup_s"], params["users"], 1)
        before = await _queries(clients[0], server.url)
        result = await _load(clients, server.url, params["seconds"], params["users"], 2)
        result["queries"] = await _queries(clients[0], server.url) - before
    finally:
        await _close(clients)
        server.stop()
    result["queries_per_request"] = result["queries"] / max(1, result["requests"])
    progress.step(f"steady load, {VARIANTS[cache]}")
    return result


async def _stampede(cache: bool, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    keys, clients = params["stampede_keys"], params["stampede_clients"]
    server = Server(cache=cache, users=params["users"])
    connections = _clients(params["stampede_connections"], 120)
    latencies: list[float] = []
    errors = 0
    try:
        await server.ready(connections[0])
        before = await _queries(connections[0], server.url)
        go = anyio.Event()

        async def one(number: int, user: int) -> None:
            nonlocal errors
            client = connections[number % len(connections)]
            await go.wait()
            start = perf_counter()
            response = await client.get(f"{server.url}/users/{user}")
            latencies.append(perf_counter() - start)
            errors += response.status_code != 200

        async with anyio.create_task_group() as tg:
            numbers = itertools.count()
            for _ in range(clients):
                for user in range(1, keys + 1):
                    tg.start_soon(one, next(numbers), user)
            await anyio.wait_all_tasks_blocked()
            started = perf_counter()
            go.set()
        wall = perf_counter() - started
        queries = await _queries(connections[0], server.url) - before
    finally:
        await _close(connections)
        server.stop()
    latencies.sort()
    progress.step(f"stampede, {VARIANTS[cache]}")
    return {
        "keys": keys,
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "queries": queries,
        "queries_per_key": queries / keys,
        "wall_s": wall,
        "p50_s": percentile(latencies, 0.50),
        "p99_s": percentile(latencies, 0.99),
    }


async def _measure(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    steady = {VARIANTS[cache]: await _steady(cache, params, progress) for cache in (False, True)}
    stampede = {
        VARIANTS[cache]: await _stampede(cache, params, progress) for cache in (False, True)
    }
    return {"steady": steady, "stampede": stampede}


def run(config: Config, progress: Progress) -> dict[str, Any]:
    """Run the steady load and the stampede, with and without the cache."""
    params: dict[str, Any] = {
        "clients": config.pick(smoke=4, quick=16, full=32),
        "seconds": config.pick(smoke=1.0, quick=5.0, full=15.0),
        "warmup_s": config.pick(smoke=0.5, quick=2.0, full=5.0),
        "users": config.pick(smoke=100, quick=1_000, full=2_000),
        "stampede_keys": config.pick(smoke=5, quick=50, full=100),
        "stampede_clients": config.pick(smoke=10, quick=20, full=20),
        "stampede_connections": config.pick(smoke=20, quick=100, full=100),
        "mix": dict(MIX),
        "zipf_exponent": 1.0,
    }
    progress.start(NAME, 4)
    missing = _postgres_unreachable() or (
        "httpx or uvicorn not installed"
        if optional_import("httpx") is None or optional_import("uvicorn") is None
        else None
    )
    if missing is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"the web suite needs PostgreSQL under CI=true: {missing}")
        rows: list[dict[str, Any]] = [
            {"part": part, "variant": variant, "na": na(missing)}
            for part in ("steady", "stampede")
            for variant in VARIANTS
        ]
        return _result(params, rows, [], [])
    uvloop = optional_import("uvloop")
    options = {"loop_factory": uvloop.new_event_loop} if uvloop is not None else {}
    measured = anyio.run(_measure, params, progress, backend="asyncio", backend_options=options)
    progress.finish()
    rows = [
        {"part": part, "variant": variant, **measured[part][variant]}
        for part in ("steady", "stampede")
        for variant in VARIANTS
    ]
    return _result(params, rows, _targets(measured), _summary(measured))


def _result(
    params: dict[str, Any],
    rows: list[dict[str, Any]],
    targets: list[dict[str, Any]],
    summary: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "suite": NAME,
        "title": TITLE,
        "parameters": params,
        "rows": rows,
        "targets": targets,
        "summary": summary,
        "notes": [
            f"{params['clients']} HTTP clients for {params['seconds']:g} s (after every "
            f"user's views once and {params['warmup_s']:g} s of warm-up), "
            f"{params['users']:,} users; mix: "
            + ", ".join(f"{kind} {share:.0%}" for kind, share in MIX)
            + "; Zipf users (exponent 1.0).",
            "The service runs under uvicorn in its own process on 127.0.0.1; the clients "
            "(httpx, in the benchmark's process) share the same cores (and PostgreSQL), so "
            "requests/s is a floor and latency includes the clients' own queueing.",
            "A write costs about 6 queries with the cache (2 for the write, then a reload of "
            "each view it invalidated) against 2 without: the query ratio falls as the write "
            "share grows (about 8x at 2% writes, under 4x at 5%).",
            f"Stampede: {params['stampede_clients']} requests at once for each of "
            f"{params['stampede_keys']} cold users (GET /users/{{id}}) on a fresh server, "
            f"through {params['stampede_connections']} connections.",
        ],
    }


def _targets(measured: dict[str, Any]) -> list[dict[str, Any]]:
    plain, cached = measured["steady"]["no cache"], measured["steady"]["sweepcache"]
    ratio = plain["queries_per_request"] / max(cached["queries_per_request"], 1e-9)
    stampede = measured["stampede"]["sweepcache"]
    return [
        {
            "target": "web: at least 5x fewer database queries per request with the cache",
            "measured": ratio,
            "display": f"{ratio:.1f}x fewer ({cached['queries_per_request']:.3f} vs "
            f"{plain['queries_per_request']:.3f} per request)",
            "met": ratio >= 5.0,
        },
        {
            "target": "web: better p99 latency with the cache than without",
            "measured": cached["p99_s"] / plain["p99_s"],
            "display": f"{cached['p99_s'] * 1e3:.1f} vs {plain['p99_s'] * 1e3:.1f} ms",
            "met": cached["p99_s"] < plain["p99_s"],
        },
        {
            "target": "web: cold-start stampede costs one query per cold key",
            "measured": stampede["queries_per_key"],
            "display": f"{stampede['queries']} queries for {stampede['keys']} keys "
            f"({stampede['requests']} requests)",
            "met": stampede["queries"] == stampede["keys"],
        },
    ]


def _summary(measured: dict[str, Any]) -> list[dict[str, Any]]:
    plain, cached = measured["steady"]["no cache"], measured["steady"]["sweepcache"]
    return [
        {
            "metric": "web p99 latency (steady load)",
            "unit": "s",
            "lower_is_better": True,
            "sweepcache": cached["p99_s"],
            "floor": plain["p99_s"],
            "floor_name": "no cache",
        },
        {
            "metric": "web requests/s (steady load)",
            "unit": "req/s",
            "lower_is_better": False,
            "sweepcache": cached["rps"],
            "floor": plain["rps"],
            "floor_name": "no cache",
        },
    ]


# -- report: table and plot (report.py dispatches here) ---------------------------


def table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Steady load and stampede side by side, one row per variant."""
    headers = ["part", "variant", "requests", "req/s", "p50 ms", "p99 ms", "DB queries / req"]
    rows: list[list[str]] = []
    for row in result["rows"]:
        head = [row["part"], row["variant"]]
        if "na" in row:
            rows.append([*head, row["na"], "", "", "", ""])
            continue
        if row["part"] == "steady":
            per = f"{row['queries_per_request']:.3f}"
            rate = f"{row['rps']:,.0f}"
        else:
            per = f"{row['queries'] / max(1, row['requests']):.3f}"
            per += f" ({row['queries']} for {row['keys']} keys)"
            rate = f"{row['requests'] / row['wall_s']:,.0f}"
        rows.append(
            [
                *head,
                f"{row['requests']:,}" + (f" ({row['errors']} errors)" if row["errors"] else ""),
                rate,
                f"{row['p50_s'] * 1e3:.1f}",
                f"{row['p99_s'] * 1e3:.1f}",
                per,
            ]
        )
    return headers, rows


#: Fixed colours: the same variant is the same colour in every panel and run.
COLOURS = {"no cache": "#8c564b", "sweepcache": "#1f77b4"}


def plot(pyplot: Any, result: dict[str, Any]) -> Any:
    """Four panels: requests/s, latency, queries per request, stampede queries."""
    figure, axes = pyplot.subplots(1, 4, figsize=(17, 4.8))
    steady = {r["variant"]: r for r in result["rows"] if r["part"] == "steady" and "na" not in r}
    stampede = {
        r["variant"]: r for r in result["rows"] if r["part"] == "stampede" and "na" not in r
    }
    names = [v for v in VARIANTS if v in steady]
    colours = [COLOURS[name] for name in names]

    def bars(axis: Any, values: list[float], label: str, fmt: str) -> None:
        drawn = axis.bar(names, values, color=colours)
        axis.bar_label(drawn, labels=[fmt.format(v) for v in values], padding=2)
        axis.set_ylabel(label)
        axis.margins(y=0.15)

    bars(axes[0], [steady[n]["rps"] for n in names], "requests per second", "{:,.0f}")
    axes[0].set_title("Throughput")
    width = 0.38
    for offset, metric, hatch in ((-width / 2, "p50_s", ""), (width / 2, "p99_s", "//")):
        values = [steady[n][metric] * 1e3 for n in names]
        drawn = axes[1].bar(
            [i + offset for i in range(len(names))],
            values,
            width,
            color=colours,
            hatch=hatch,
            edgecolor="white",
            label=metric[:3],
        )
        axes[1].bar_label(drawn, labels=[f"{v:.1f}" for v in values], padding=2)
    axes[1].set_xticks(range(len(names)), names)
    axes[1].set_ylabel("latency, ms")
    axes[1].set_title("Latency: p50 (plain), p99 (hatched)")
    axes[1].margins(y=0.15)
    bars(
        axes[2],
        [steady[n]["queries_per_request"] for n in names],
        "DB queries per request",
        "{:.3f}",
    )
    axes[2].set_title("Database queries per request")
    cold = [v for v in VARIANTS if v in stampede]
    drawn = axes[3].bar(
        cold, [stampede[n]["queries"] for n in cold], color=[COLOURS[n] for n in cold]
    )
    axes[3].bar_label(drawn, padding=2)
    if cold:
        keys = stampede[cold[0]]["keys"]
        axes[3].axhline(keys, color="#2ca02c", linestyle="--", label=f"one per key ({keys})")
        axes[3].legend(loc="upper right")
    axes[3].set_yscale("log")
    axes[3].set_ylabel("DB queries (log scale)")
    axes[3].set_title("Cold-start stampede")
    axes[3].margins(y=0.2)
    return figure
