"""Shared measurement plumbing: scales, backends, statistics, progress, metadata."""

from __future__ import annotations

import dataclasses
import gc
import importlib
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Sequence

T = TypeVar("T")

Scale = Literal["smoke", "quick", "full"]

#: Distributions whose versions every result file records.
LIBRARIES: tuple[str, ...] = (
    "sweepcache",
    "anyio",
    "trio",
    "uvloop",
    "aiocache",
    "cashews",
    "cachetools",
    "theine",
    "cachebox",
    "async-lru",
    "matplotlib",
    "pytest-benchmark",
)


@dataclasses.dataclass(frozen=True)
class Config:
    """How big a run is.

    ``smoke`` is for the test suite (tiny sizes, seconds in all), ``quick``
    for a first look (about a minute and a half on 2 cores, written to
    ``bench/results-quick/``), ``full`` for the published figures.
    """

    scale: Scale = "full"
    #: Also run the 10M-key sizes (sweeper, memory); off by default: see notes.
    huge: bool = False

    def pick(self, *, smoke: T, quick: T, full: T) -> T:
        """Return the value for this scale."""
        return {"smoke": smoke, "quick": quick, "full": full}[self.scale]


@dataclasses.dataclass(frozen=True)
class Backend:
    """An AnyIO backend and its options, as the tests' ``anyio_backend`` fixture has them."""

    name: str
    backend: str
    options: dict[str, Any]

    def run(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``func(*args)`` in a new event loop of this backend."""
        return anyio.run(func, *args, backend=self.backend, backend_options=self.options)


def backends() -> list[Backend]:
    """asyncio, asyncio+uvloop (when installed) and trio (when installed)."""
    found = [Backend("asyncio", "asyncio", {})]
    uvloop = optional_import("uvloop")
    if uvloop is not None:
        found.append(Backend("uvloop", "asyncio", {"loop_factory": uvloop.new_event_loop}))
    if optional_import("trio") is not None:
        found.append(Backend("trio", "trio", {}))
    return found


#: Modules a test may hide to check the "n/a (not installed)" path.
HIDDEN_MODULES: set[str] = set()


def optional_import(name: str) -> Any:
    """Import a peer lazily; ``None`` when it is not installed (or hidden by a test)."""
    if name in HIDDEN_MODULES:
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def version_of(distribution: str) -> str | None:
    """Installed version of ``distribution``, or ``None``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """What every result file records about where it was measured."""
    gil = getattr(sys, "_is_gil_enabled", None)
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "gil_enabled": True if gil is None else bool(gil()),
        "libraries": {name: version_of(name) for name in LIBRARIES},
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * page_size / 2**30, 1)


def rss_bytes() -> int:
    """Current resident set size (Linux ``/proc``; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource  # POSIX only, and only needed as a fallback

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


# -- statistics -------------------------------------------------------------


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Median, quartiles and range of ``samples``."""
    ordered = sorted(samples)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "median": statistics.median(ordered),
        "q1": q1,
        "q3": q3,
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted ``ordered`` (fraction in 0..1)."""
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``, or ``None`` when either is missing."""
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect, then keep the cyclic GC off, so no collection lands in a timed batch."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# -- progress ---------------------------------------------------------------


class Progress:
    """Progress lines on stderr: an in-place counter on a terminal, plain lines otherwise."""

    def __init__(self, *, quiet: bool = False) -> None:
        self._quiet = quiet
        self._tty = sys.stderr.isatty()
        self._suite = ""
        self._total = 0
        self._done = 0
        self._started = time.perf_counter()

    def start(self, suite: str, total: int) -> None:
        """Begin a suite of ``total`` steps."""
        self._suite, self._total, self._done = suite, max(total, 1), 0
        self._started = time.perf_counter()
        self._write(f"[{suite}] starting ({total} steps)", final=not self._tty)

    def step(self, label: str) -> None:
        """Record one finished step."""
        self._done += 1
        elapsed = time.perf_counter() - self._started
        self._write(
            f"[{self._suite}] {self._done}/{self._total} {elapsed:6.1f}s  {label}",
            final=not self._tty,
        )

    def finish(self) -> None:
        """End the suite's progress line."""
        elapsed = time.perf_counter() - self._started
        self._write(f"[{self._suite}] done in {elapsed:.1f}s", final=True)

    def note(self, message: str) -> None:
        """A line that stays."""
        self._write(message, final=True)

    def _write(self, text: str, *, final: bool) -> None:
        if self._quiet:
            return
        if self._tty:
            sys.stderr.write("\r\x1b[2K" + text[:160] + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


def na(reason: str) -> str:
    """The marker every table shows instead of a silent gap."""
    return f"n/a ({reason})"
