"""Thread safety of ``Cache`` and its independence from any one event loop.

* Real threads hammer a small key set through the sync API (and the async
  one through a blocking portal) while one thread moves a ``FakeClock`` and
  another sweeps, both paced by the workers' progress rather than by sleeps.
  Afterwards: no thread raised, every value read for a key is one that some
  thread wrote for that key (no torn or mixed entries), the expiry index is
  consistent with the entries, and a final sweep leaves exactly the live keys.
* ``anyio.to_thread.run_sync`` workers use the sync API (and call back into
  the loop with ``anyio.from_thread``) while the event loop keeps writing and
  sweeping, on every backend.
* A ``Cache`` built at import time works in several later ``anyio.run`` calls
  on asyncio, asyncio+uvloop and trio, a new loop each time, with
  ``async with cache:`` in each.
"""

from __future__ import annotations

import random
import sys
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
from anyio.from_thread import start_blocking_portal

from index_checks import assert_index_consistent, entries, sweep_step_counts
from sweepcache import Cache
from sweepcache.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

NEVER: Final = float("inf")

#: A written value names its key and its writer, so a read can be traced back.
Value = tuple[str, int, int]

KEYS: Final = [f"k{i}" for i in range(6)]
TTLS: Final[list[float | None]] = [None, 0.0, 0.005, 0.05, 0.3, 1.0, 5.0]
THREADS: Final = 8
OPS_PER_THREAD: Final = 4_000


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads every 10 µs instead of 5 ms, so operations interleave finely."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class Hammer:
    """Shared state of one hammering run: the cache, its pacing and what was seen."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, shards: int) -> None:
        self.portal = portal
        self.clock = FakeClock(start=1000.0)
        self.cache: Cache[str, Value] = Cache(
            default_ttl=1.0, shards=shards, sweep_interval=0.2, clock=self.clock
        )
        self.ticks = threading.Semaphore(0)  # one per clock step the workers earned
        self.sweeps = threading.Semaphore(0)  # one per sweep the workers earned
        self.finished = threading.Event()
        self.errors: list[BaseException] = []
        self.written: list[set[Value]] = [set() for _ in range(THREADS)]
        self.read: list[list[tuple[str, Value]]] = [[] for _ in range(THREADS)]
        self.expire_results: Counter[bool] = Counter()
        self.reclaimed = 0
        self.sweep_passes = 0

    def worker(self, number: int) -> None:
        cache, portal = self.cache, self.portal
        rng = random.Random(number)
        written, read = self.written[number], self.read[number]
        try:
            for sequence in range(OPS_PER_THREAD):
                key = rng.choice(KEYS)
                choice = rng.random()
                if choice < 0.4:
                    value = (key, number, sequence)
                    written.add(value)
                    cache.set_nowait(key, value, rng.choice(TTLS))
                elif choice < 0.7:
                    got = cache.get_nowait(key)
                    if got is not None:
                        read.append((key, got))
                elif choice < 0.8:
                    cache.delete_nowait(key)
                elif choice < 0.9:
                    _ = key in cache
                elif choice < 0.95:
                    ttl = rng.choice([None, 0.0, 0.1, 2.0])
                    self.expire_results[portal.call(cache.expire, key, ttl)] += 1
                elif choice < 0.999:
                    wanted = rng.sample(KEYS, 3)
                    values = portal.call(cache.get_many, wanted)
                    read.extend(
                        (k, v) for k, v in zip(wanted, values, strict=True) if v is not None
                    )
                else:
                    cache.clear_nowait()
                if sequence % 25 == 0:
                    self.ticks.release()
                if sequence % 100 == 0:
                    self.sweeps.release()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.errors.append(exc)

    def clock_mover(self) -> None:
        try:
            while True:
                self.ticks.acquire()
                if self.finished.is_set():
                    return
                self.clock.advance(0.01)
        except BaseException as exc:
            self.errors.append(exc)

    def sweeper(self) -> None:
        try:
            while True:
                self.sweeps.acquire()
                if self.finished.is_set():
                    return
                self.sweep_passes += 1
                if self.sweep_passes % 10 == 0:
                    # A whole event loop of its own, alternating backends.
                    backend = "trio" if self.sweep_passes % 20 == 0 else "asyncio"
                    self.reclaimed += anyio.run(self.cache.sweep, backend=backend)
                else:
                    self.reclaimed += sum(sweep_step_counts(self.cache))
        except BaseException as exc:
            self.errors.append(exc)


@pytest.mark.usefixtures("busy_switching")
@pytest.mark.parametrize("shards", [1, 4])
@pytest.mark.parametrize("portal_backend", ["asyncio", "trio"])
def test_threads_hammer_shared_keys(portal_backend: str, shards: int) -> None:
    """Eight writers/readers, a clock mover and a sweeper share six keys."""
    with start_blocking_portal(portal_backend) as portal:
        hammer = Hammer(portal, shards)
        workers = [
            threading.Thread(target=hammer.worker, args=(n,), name=f"worker-{n}")
            for n in range(THREADS)
        ]
        helpers = [
            threading.Thread(target=hammer.clock_mover, name="clock"),
            threading.Thread(target=hammer.sweeper, name="sweeper"),
        ]
        for thread in workers + helpers:
            thread.start()
        for thread in workers:
            thread.join(timeout=60)
        hammer.finished.set()
        hammer.ticks.release()
        hammer.sweeps.release()
        for thread in helpers:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in workers + helpers)

    assert hammer.errors == []
    cache, clock = hammer.cache, hammer.clock

    # The run did what it claims: time moved, sweeps ran, expiry and reads happened.
    assert clock.now > 1005.0
    assert hammer.sweep_passes > 100
    assert hammer.reclaimed > 0
    assert hammer.expire_results[True] > 0
    assert hammer.expire_results[False] > 0

    # Every value read was written, for that very key, by some thread.
    written = set().union(*hammer.written)
    reads = [pair for per_thread in hammer.read for pair in per_thread]
    assert len(reads) > 1_000
    for key, value in reads:
        assert value[0] == key
        assert value in written
    for key, (value, *_) in entries(cache).items():
        assert value[0] == key
        assert value in written

    assert_index_consistent(cache)
    now = clock.now
    live = sum(1 for entry in entries(cache).values() if now < entry[1])
    expired = len(cache) - live
    assert anyio.run(cache.sweep) == expired
    assert len(cache) == live
    assert all(now < entry[1] for entry in entries(cache).values())
    assert_index_consistent(cache)


@pytest.mark.anyio
@pytest.mark.usefixtures("busy_switching")
async def test_to_thread_workers_share_the_cache() -> None:
    """Worker threads use the sync API while the event loop writes and sweeps."""
    clock = FakeClock(start=1000.0)
    cache: Cache[str, Value] = Cache(default_ttl=0.5, shards=4, clock=clock)
    written: set[Value] = set()
    reads: list[tuple[str, Value]] = []
    loop_calls: Counter[str] = Counter()

    def worker(number: int) -> None:
        rng = random.Random(number)
        for sequence in range(1_000):
            key = rng.choice(KEYS)
            choice = rng.random()
            if choice < 0.45:
                value = (key, number, sequence)
                written.add(value)
                cache.set_nowait(key, value, rng.choice(TTLS))
            elif choice < 0.85:
                got = cache.get_nowait(key)
                if got is not None:
                    reads.append((key, got))
            elif choice < 0.95:
                cache.delete_nowait(key)
            else:
                # Back into the event loop from the worker thread.
                anyio.from_thread.run(cache.expire, key, 1.0)
                loop_calls["expire"] += 1
            if sequence % 20 == 0:
                clock.advance(0.01)

    done = anyio.Event()

    async def run_workers() -> None:
        async with anyio.create_task_group() as workers:
            for number in range(4):
                workers.start_soon(anyio.to_thread.run_sync, worker, number)
        done.set()

    reclaimed = 0
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(run_workers)
        sequence = 0
        while not done.is_set():
            sequence += 1
            value = ("k0", -1, sequence)
            written.add(value)
            await cache.set("k0", value)
            got = await cache.get("k0")
            if got is not None:
                reads.append(("k0", got))
            reclaimed += await cache.sweep()
            loop_calls["loop"] += 1
            await anyio.lowlevel.checkpoint()

    assert loop_calls["expire"] > 0
    assert loop_calls["loop"] > 0
    assert len(reads) > 500
    for key, got in reads:
        assert got[0] == key
        assert got in written
    assert_index_consistent(cache)
    now = clock.now
    live = sum(1 for entry in entries(cache).values() if now < entry[1])
    await cache.sweep()
    assert len(cache) == live
    assert_index_consistent(cache)


class MeddlingClock:
    """A ``FakeClock`` that runs a hook (another "thread's" write) on its next reading.

    Reads consult the clock between finding an entry and discarding it as
    expired, so the hook lands exactly in the window a real thread could.
    """

    def __init__(self) -> None:
        self.clock = FakeClock(start=1000.0)
        self.hook: Callable[[], object] | None = None
        self.hooks_run = 0

    def __call__(self) -> float:
        hook, self.hook = self.hook, None
        if hook is not None:
            self.hooks_run += 1
            hook()
        return self.clock()


def read_expired(read: str, cache: Cache[str, str]) -> object:
    """Read ``"k"`` through one of the paths that discard an expired entry."""
    if read == "get_nowait":
        return cache.get_nowait("k", "miss")
    if read == "get":
        return anyio.run(cache.get, "k", "miss")
    with pytest.raises(KeyError):
        anyio.run(cache.ttl, "k")
    return "miss"


@pytest.mark.parametrize("read", ["get_nowait", "get", "ttl"])
@pytest.mark.parametrize("new_ttl", [None, 0.1, 5.0])
def test_read_never_discards_an_entry_written_after_it_looked(
    read: str, new_ttl: float | None
) -> None:
    """A read that finds an expired entry drops it only if no writer replaced it meanwhile."""
    meddler = MeddlingClock()
    cache: Cache[str, str] = Cache(shards=1, sweep_interval=1.0, clock=meddler)
    cache.set_nowait("k", "old", ttl=1.0)
    meddler.clock.advance(1.0)
    meddler.hook = lambda: cache.set_nowait("k", "new", ttl=new_ttl)
    assert read_expired(read, cache) == "miss"  # judged by the entry it found
    assert meddler.hooks_run == 1  # the write really happened inside the read
    assert cache.get_nowait("k") == "new"
    assert len(cache) == 1
    assert_index_consistent(cache)


def test_read_discard_after_a_concurrent_delete_is_harmless() -> None:
    """A read whose expired entry was deleted meanwhile leaves the index consistent."""
    meddler = MeddlingClock()
    cache: Cache[str, str] = Cache(shards=1, clock=meddler)
    cache.set_nowait("k", "old", ttl=1.0)
    cache.set_nowait("other", "x", ttl=1.0)
    meddler.clock.advance(1.0)
    meddler.hook = lambda: cache.delete_nowait("k")
    assert cache.get_nowait("k", "miss") == "miss"
    assert meddler.hooks_run == 1
    assert "k" not in entries(cache)
    assert_index_consistent(cache)


# A module-level singleton, as the seed's ``user_cache``: built with no event loop running.
MODULE_CLOCK: Final = FakeClock(start=1000.0)
MODULE_CACHE: Final[Cache[str, int]] = Cache(default_ttl=10.0, clock=MODULE_CLOCK)

LOOPS: Final[list[tuple[str, dict[str, Any]]]] = [
    ("asyncio", {}),
    ("asyncio", {"use_uvloop": True}),
    ("trio", {}),
]


async def use_module_cache(run: int) -> tuple[int | None, int]:
    """One service lifetime: start the sweeper, use the cache, expire an entry."""
    async with MODULE_CACHE as cache:
        assert cache is MODULE_CACHE
        assert cache._task_group is not None  # the sweeper runs in this loop
        previous = await cache.get("last-run")
        await cache.set("last-run", run, ttl=None)
        await cache.set(f"short-{run}", run, ttl=1.0)
        assert await cache.get(f"short-{run}") == run
        MODULE_CLOCK.advance(1.0)
        assert await cache.get(f"short-{run}", -1) == -1  # expired, and dropped on read
        await cache.set(f"doomed-{run}", run, ttl=0.5)
        MODULE_CLOCK.advance(0.5)
        reclaimed = await cache.sweep()
        # The sweeper task can also be started in a task group of the caller's.
        async with anyio.create_task_group() as task_group:
            await task_group.start(cache.run_sweeper)
            task_group.cancel_scope.cancel()
    assert MODULE_CACHE._task_group is None
    return previous, reclaimed


def test_module_level_cache_survives_many_event_loops() -> None:
    """The import-time cache serves six loops in turn; entries outlive each loop."""
    MODULE_CACHE.clear_nowait()
    run = 0
    for _ in range(2):
        for backend, options in LOOPS:
            previous, reclaimed = anyio.run(
                use_module_cache, run, backend=backend, backend_options=options
            )
            assert previous == (run - 1 if run else None)
            assert reclaimed == 1
            run += 1
    assert MODULE_CACHE.get_nowait("last-run") == run - 1
    assert len(MODULE_CACHE) == 1  # short-n went on read, doomed-n in each sweep
