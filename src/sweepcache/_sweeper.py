"""The sweeper: reclaims expired entries in bounded slices.

A pass walks the shards one at a time. In each it first empties the due
buckets (every key filed there has expired), then scans the bucket that the
current instant falls in for the keys that expired within it. Each step
holds one shard's lock for at most ``SLICE_KEYS`` index slots (tens of
microseconds); after about ``SLICE_SECONDS`` (0.25 ms) of work the pass yields
to the event loop, so a 1M-key pass never stalls the loop for more than about
a millisecond (the ``sweeper`` benchmark suite measures the longest stall).
"""

from __future__ import annotations

import logging
import math
from time import perf_counter
from typing import TYPE_CHECKING, Final, NoReturn

import anyio
from anyio.lowlevel import checkpoint

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence

    from anyio.abc import TaskStatus

    from ._expiry import Entry, K, V
    from ._shards import Shard

logger = logging.getLogger("sweepcache")

#: Index slots examined under one lock acquisition.
SLICE_KEYS: Final = 256
#: Real time a pass works before it yields to the event loop. A quarter of a
#: millisecond, because a task whose timer fires mid-pass may wait for a few
#: slices (asyncio first runs what the previous loop iteration queued; trio
#: shuffles each batch): the sweeper suite measured a longest stall of
#: 1.8-2.4 ms with 0.5 ms slices and 1.0-1.2 ms with 0.25 ms, against a 2 ms
#: target, at no cost in time to reclaim.
SLICE_SECONDS: Final = 0.00025
#: Longest backoff after failed passes, in sweep intervals.
MAX_BACKOFF_INTERVALS: Final = 60


def sweep_steps(
    shards: Sequence[Shard[K, V]], data: dict[K, Entry[V]], now: float, current: float
) -> Iterator[int]:
    """Yield the number of entries reclaimed by each locked step of one pass.

    ``now`` is the instant the pass judges expiry by; ``current`` is the
    bucket it falls in. No lock is held while the generator is suspended.
    """
    for shard in shards:
        lock = shard.lock
        if shard.has_due(current):
            done = False
            while not done:
                with lock:
                    reclaimed, done = shard.reclaim_due(current, now, SLICE_KEYS, data)
                yield reclaimed
        position = 0
        while position >= 0:
            with lock:
                reclaimed, position = shard.reclaim_current(
                    current, position, now, SLICE_KEYS, data
                )
            yield reclaimed


async def sweep_with_checkpoints(steps: Iterable[int]) -> int:
    """Run ``steps`` to the end, yielding to the loop every ``SLICE_SECONDS``."""
    reclaimed = 0
    deadline = perf_counter() + SLICE_SECONDS
    for count in steps:
        reclaimed += count
        if perf_counter() >= deadline:
            await checkpoint()
            deadline = perf_counter() + SLICE_SECONDS
    return reclaimed


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
