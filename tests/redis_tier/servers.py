"""Private ``redis-server`` processes on free loopback ports, for tests and benchmarks.

Tests never touch another test's keys: each uses its own server or its own
prefix, and stops what it started. Under ``CI=true`` a missing
``redis-server`` fails the test; elsewhere it skips, saying why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def require_redis() -> None:
    """Skip (or, under ``CI=true``, fail) when the Redis binaries are missing."""
    if REDIS_SERVER and REDIS_CLI:
        return
    message = "redis-server/redis-cli not found on PATH (apt-get install redis-server)"
    if os.environ.get("CI"):
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One private ``redis-server`` on 127.0.0.1, in its own temporary directory."""

    def __init__(self, *extra: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="sweepcache-redis-"))
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--enable-debug-command",
                "local",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.cli("PING", check=False) == "PONG":
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited")
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def cli(self, *args: str, check: bool = True) -> str:
        assert REDIS_CLI is not None
        done = subprocess.run(
            [REDIS_CLI, "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if check and done.returncode:
            raise RuntimeError(done.stderr)
        return done.stdout.strip()

    def kill(self) -> None:
        """``kill -9`` and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def running_server(*extra: str) -> Iterator[RedisServer]:
    """A started private server, stopped at the end."""
    require_redis()
    server = RedisServer(*extra)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        with socket.socket() as probe, socket.socket() as bus:
            port = 20_000 + int.from_bytes(os.urandom(2), "big") % 30_000
            try:
                probe.bind(("127.0.0.1", port))
                bus.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
            return port
    raise RuntimeError("no free pair of ports for a cluster node")


class RedisClusterNodes:
    """Three ``--cluster-enabled yes`` primaries joined by ``redis-cli --cluster create``."""

    def __init__(self) -> None:
        self.servers = [
            RedisServer(
                "--cluster-enabled",
                "yes",
                "--cluster-node-timeout",
                "2000",
                port=free_cluster_port(),
            )
            for _ in range(3)
        ]
        for server in self.servers:
            server.extra = (
                *server.extra,
                "--cluster-config-file",
                str(server.directory / "nodes.conf"),
            )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.servers[0].port}"

    def start(self) -> None:
        for server in self.servers:
            server.start()
        assert REDIS_CLI is not None
        subprocess.run(
            [
                REDIS_CLI,
                "--cluster",
                "create",
                *(f"127.0.0.1:{server.port}" for server in self.servers),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            check=True,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = [server.cli("CLUSTER", "INFO", check=False) for server in self.servers]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
