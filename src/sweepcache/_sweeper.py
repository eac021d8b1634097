"""The sweeper: reclaims expired entries in bounded slices.

A pass walks the shards one at a time. In each it first empties the due
buckets (every key filed there has expired), then scans the bucket that the
current instant falls in for the keys that expired within it. Each step
holds one shard's lock for at most ``SLICE_KEYS`` index slots (tens of
microseconds) and frees nothing under it; what the step removed is then
released (and reported to a removal listener) outside the lock, one entry at
a time. After about ``SLICE_SECONDS`` of work, freeing included, the pass
yields to the event loop, so neither a million expired keys nor values that
are slow to free stall the loop for long (the ``sweeper`` and ``stalls``
benchmark suites measure the longest stall).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final, NoReturn

import anyio
from anyio.lowlevel import checkpoint

from ._expiry import Bucket
from ._removal import notify, release

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence

    from anyio.abc import TaskStatus

    from ._removal import Removal, RemovalCause
    from ._shards import Shard

logger = logging.getLogger("sweepcache")

#: Index slots examined under one lock acquisition.
SLICE_KEYS: Final = 256
#: Real time a pass works before it yields to the event loop. A quarter of a
#: millisecond, because a task whose timer fires mid-pass may wait for a few
#: slices (asyncio first runs what the previous loop iteration queued; trio
#: shuffles each batch): with 0.5 ms slices the sweeper suite measured longest
#: stalls of 1.8-2.4 ms, against a 2 ms target; 0.25 ms slices brought them
#: down (see bench/results/sweeper.json) at no cost in time to reclaim.
SLICE_SECONDS: Final = 0.00025
#: Entries released between two looks at the clock.
RELEASE_BATCH: Final = 8
#: Longest backoff after failed passes, in sweep intervals.
MAX_BACKOFF_INTERVALS: Final = 60


def sweep_steps(
    shards: Sequence[Shard[Any, Any]],
    now: float,
    current: float,
    removed: list[Removal],
    dropped: list[object],
) -> Iterator[None]:
    """Run one pass, one locked step per ``next()``, filling ``removed`` and ``dropped``.

    ``now`` is the instant the pass judges expiry by; ``current`` is the
    bucket it falls in. No lock is held while the generator is suspended.
    """
    for shard in shards:
        if shard.has_due(current):
            done = False
            while not done:
                with shard.lock:
                    done = shard.sweep_due(current, now, SLICE_KEYS, removed, dropped)
                yield
        position = 0
        while position >= 0:
            with shard.lock:
                position = shard.sweep_current(current, position, now, SLICE_KEYS, removed, dropped)
            yield


async def run_in_slices(
    steps: Iterable[None],
    removed: list[Removal],
    dropped: list[object],
    listener: Callable[[Any, Any, RemovalCause], object] | None,
    count: Callable[[list[Removal]], object] | None = None,
) -> int:
    """Run ``steps`` to the end, releasing what each removed; return how many entries.

    ``count``, if given, sees what each step removed before it is released.

    Yields to the loop every ``SLICE_SECONDS`` of work, counting the time
    spent freeing values and in the listener.
    """
    reclaimed = 0
    deadline = perf_counter() + SLICE_SECONDS
    try:
        for _ in steps:
            if removed or dropped:
                reclaimed += len(removed)
                if count is not None:
                    count(removed)
                deadline = await release_in_slices(removed, dropped, listener, deadline)
            if perf_counter() >= deadline:
                await checkpoint()
                deadline = perf_counter() + SLICE_SECONDS
    finally:
        # Cancelled mid-release: what was removed is still reported, once.
        release(listener, removed, dropped)
    return reclaimed


#: References dropped per step when old containers are taken apart.
DISMANTLE_STEP: Final = 512


def dismantle(garbage: list[object]) -> Iterator[None]:
    """Take ``garbage`` (old index, tag sets, policy queues) apart, yielding every few hundred.

    Dropping a whole old expiry index at once frees every key its buckets
    hold last: 30,000 keys per shard at 500,000 entries, 0.4 ms each, and a
    million in one bucket of a one-shard cache. Here containers are emptied
    from the end, ``DISMANTLE_STEP`` references at a time, so that the caller
    can look at the clock between steps. Items of other types are dropped as
    they are. ``garbage`` is consumed.
    """
    budget = DISMANTLE_STEP
    stack = garbage
    while stack:
        item: Any = stack.pop()
        if item.__class__ is tuple:
            stack.extend(item)
        elif isinstance(item, Bucket):
            stack.extend((item.keys, item.pending, item.seen))
        elif isinstance(item, (list, deque)):
            count = min(len(item), budget)
            if item.__class__ is list:
                del item[len(item) - count :]
            else:
                for _ in range(count):
                    item.pop()
            budget -= count
            if item:
                stack.append(item)
        elif isinstance(item, set):
            count = min(len(item), budget)
            for _ in range(count):
                item.pop()
            budget -= count
            if item:
                stack.append(item)
        elif isinstance(item, dict):  # buckets or tag sets: taken apart in turn
            count = min(len(item), budget)
            for _ in range(count):
                stack.append(item.popitem()[1])
            budget -= count
            if item:
                stack.append(item)
        budget -= 1
        del item
        if budget <= 0:
            yield
            budget = DISMANTLE_STEP


async def release_in_slices(
    removed: list[Removal],
    dropped: list[object],
    listener: Callable[[Any, Any, RemovalCause], object] | None,
    deadline: float,
) -> float:
    """Notify ``listener`` of ``removed`` and drop both lists' items, a batch at a time.

    Returns the deadline of the current slice (it may have yielded). If
    cancelled at a checkpoint, what is left stays in the lists, in order.
    """
    removed.reverse()  # pop from the end, in removal order
    try:
        deadline = await _release_reversed(removed, listener, deadline)
    finally:
        removed.reverse()
    while dropped:
        for _ in range(RELEASE_BATCH):
            if not dropped:
                break
            dropped.pop()
        if perf_counter() >= deadline:
            await checkpoint()
            deadline = perf_counter() + SLICE_SECONDS
    return deadline


async def _release_reversed(
    removed: list[Removal],
    listener: Callable[[Any, Any, RemovalCause], object] | None,
    deadline: float,
) -> float:
    while removed:
        for _ in range(RELEASE_BATCH):
            if not removed:
                break
            removal = removed.pop()
            notify(listener, removal)
            del removal  # the value may be slow to free: that counts in this slice
        if perf_counter() >= deadline:
            await checkpoint()
            deadline = perf_counter() + SLICE_SECONDS
    return deadline


async def run_sweeper(
    sweep: Callable[[], Awaitable[int]], interval: float, task_status: TaskStatus[None]
) -> NoReturn:
    """Call ``sweep`` every ``interval`` seconds, forever.

    A failing pass is logged (with its traceback) on the ``sweepcache``
    logger and retried after ``interval * 2**failures`` seconds, capped at
    ``MAX_BACKOFF_INTERVALS`` intervals; one success resets the backoff.
    Cancellation is never caught.
    """
    task_status.started()
    failures = 0
    while True:
        delay = interval * min(2.0**failures, MAX_BACKOFF_INTERVALS)
        await anyio.sleep(delay)
        try:
            await sweep()
        except Exception:
            failures = min(failures + 1, math.ceil(math.log2(MAX_BACKOFF_INTERVALS)))
            logger.exception(
                "sweepcache: sweep pass failed; retrying in %.3g s",
                interval * min(2.0**failures, MAX_BACKOFF_INTERVALS),
            )
        else:
            failures = 0
