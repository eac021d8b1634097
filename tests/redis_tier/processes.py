"""Drive several worker processes (``worker.py``) from a test or a benchmark."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """``count`` worker processes, each with its own TieredCache on one prefix."""

    def __init__(self, url: str, prefix: str, backend: str, count: int, *extra: str) -> None:
        self.processes = [
            subprocess.Popen(
                [sys.executable, str(WORKER), url, prefix, backend, *extra],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(count)
        ]
        for index in range(count):
            assert self.read(index) == {"ready": True}

    def send(self, index: int, line: str) -> None:
        stdin = self.processes[index].stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()

    def read(self, index: int) -> Any:
        stdout = self.processes[index].stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"worker {index} exited ({self.processes[index].wait()})")
        return json.loads(line)

    def ask(self, index: int, line: str) -> Any:
        self.send(index, line)
        return self.read(index)

    def broadcast(self, line: str) -> list[Any]:
        for index in range(len(self.processes)):
            self.send(index, line)
        return [self.read(index) for index in range(len(self.processes))]

    def close(self) -> None:
        for index in range(len(self.processes)):
            with contextlib.suppress(OSError):
                self.send(index, "quit")
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()


def invalidation_delays(workers: Workers, rounds: int) -> list[float]:
    """Seconds from just before a write in worker 0 to the drop in each other's L1."""
    delays: list[float] = []
    others = range(1, len(workers.processes))
    for round_number in range(rounds):
        key = f"inv{round_number}"
        workers.ask(0, f"write {key} v1")
        for index in others:
            assert workers.ask(index, f"fill {key}") == {"ok": True}
        before = workers.ask(0, f"write {key} v2")["before"]
        delays.extend(workers.ask(index, f"drop {key}")["at"] - before for index in others)
    return delays


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]
