"""Deterministic synthetic request traces for the hit-ratio suite.

Every trace is a list of int keys built from a seed, so two runs (and two
machines) replay exactly the same requests. Keys are ints on purpose: their
``hash`` is the int itself, consecutive and unmixed, which is what services
keyed by database ids give a cache, and what a policy hashing keys must cope
with. Hot ranks are scattered over the key space by a seeded permutation, so
no policy can profit from key order.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Workload:
    """A named trace family; ``build(universe, length, capacity)`` returns the trace."""

    name: str
    description: str
    build: Callable[[int, int, int], list[int]]


def _permuted(universe: int, seed: int) -> list[int]:
    keys = list(range(universe))
    random.Random(seed).shuffle(keys)
    return keys


def _zipf_cum_weights(universe: int, alpha: float) -> list[float]:
    return list(itertools.accumulate(1.0 / rank**alpha for rank in range(1, universe + 1)))


def zipf(universe: int, length: int, alpha: float, *, seed: int = 1) -> list[int]:
    """``length`` draws from ``universe`` keys, rank ``r`` with weight ``1 / r**alpha``."""
    rng = random.Random(seed)
    keys = _permuted(universe, seed + 1)
    return rng.choices(keys, cum_weights=_zipf_cum_weights(universe, alpha), k=length)


def scan_polluted(universe: int, length: int, *, alpha: float = 0.8, seed: int = 2) -> list[int]:
    """Zipf ``alpha`` traffic interrupted by one-time scans.

    Blocks of ``3 * universe / 10`` Zipf requests alternate with scans of
    ``universe / 10`` fresh keys, each requested once and never again (a
    batch job or a crawler walking every record): a quarter of all requests.
    A scan is as long as the largest cache in the suite, so it flushes an LRU.
    """
    scan = max(1, universe // 10)
    block = 3 * scan
    base = zipf(universe, length, alpha, seed=seed)
    trace: list[int] = []
    fresh = itertools.count(universe)
    position = 0
    while len(trace) < length:
        trace.extend(base[position : position + block])
        position += block
        trace.extend(itertools.islice(fresh, scan))
    return trace[:length]


def loop(length: int, capacity: int) -> list[int]:
    """A loop over ``1.2 * capacity`` keys, in the same order every time.

    LRU, FIFO and SIEVE hit nothing; the best possible (Belady) keeps a fixed
    ``capacity - 1`` of the keys and hits about ``1 / 1.2`` of the requests.
    """
    size = max(2, math.ceil(1.2 * capacity))
    return [i % size for i in range(length)]


def shifting(
    universe: int, length: int, *, alpha: float = 1.0, phases: int = 10, seed: int = 3
) -> list[int]:
    """Zipf ``alpha`` whose popularity ranking is reshuffled ``phases`` times.

    Every ``length / phases`` requests the keys get a fresh random ranking:
    yesterday's hot keys turn cold at once, so a policy must forget
    (frequency aging) as well as learn.
    """
    rng = random.Random(seed)
    cum_weights = _zipf_cum_weights(universe, alpha)
    per_phase = max(1, length // phases)
    trace: list[int] = []
    while len(trace) < length:
        keys = list(range(universe))
        rng.shuffle(keys)
        trace.extend(rng.choices(keys, cum_weights=cum_weights, k=per_phase))
    return trace[:length]


def recency(length: int, *, start: int = 0, new_share: float = 0.25, seed: int = 4) -> list[int]:
    """A recency-heavy trace: most requests repeat a key requested a short while ago.

    Each request is a fresh key with probability ``new_share``; otherwise it
    repeats the request made ``d`` requests earlier, ``d`` drawn from a
    power law (``P(d > x) ~ x ** -0.5``), so recent keys are the likeliest to
    come back and frequency says little. LRU does well here and a small
    admission window does badly: the stand-in for Caffeine's "corda" trace
    (see :func:`adaptivity`).
    """
    rng = random.Random(seed)
    trace: list[int] = []
    fresh = itertools.count(start)
    for _ in range(length):
        if not trace or rng.random() < new_share:
            trace.append(next(fresh))
        else:
            distance = int((1.0 - rng.random()) ** -2.0)  # Pareto, shape 0.5, >= 1
            trace.append(trace[-min(distance, len(trace))])
    return trace


def adaptivity(length: int, capacity: int) -> list[int]:
    """Caffeine's adaptivity test, with synthetic stand-ins for its traces.

    Caffeine replays the "corda" trace (recency-biased), then a LIRS loop
    trace five times, then "corda" again, so that a policy must move from
    favouring recency to favouring frequency and back. Here "corda" is
    approximated by :func:`recency` (fresh keys in each phase) and the loop
    by five passes of a :func:`loop` block over ``1.2 * capacity`` keys.
    """
    third = max(1, length // 3)
    first = recency(third, start=0, seed=5)
    size = max(2, math.ceil(1.2 * capacity))
    base = 10 * third + 10  # loop keys, disjoint from both recency phases
    block = max(size, third // 5)
    looping = [base + i % size for i in range(block)] * 5
    second = recency(length - len(first) - len(looping), start=20 * third + 20, seed=6)
    return first + looping + second


def _zipf_builder(alpha: float) -> Callable[[int, int, int], list[int]]:
    def build(universe: int, length: int, _capacity: int) -> list[int]:
        return zipf(universe, length, alpha)

    return build


def workloads() -> list[Workload]:
    """The suite's workloads, in table order."""
    found = [
        Workload(f"zipf {alpha}", f"Zipf, alpha {alpha}", _zipf_builder(alpha))
        for alpha in (0.6, 0.8, 1.0, 1.2)
    ]
    found += [
        Workload(
            "scan",
            "Zipf 0.8 with one-time scans of 10% of the keys, a quarter of requests",
            lambda universe, length, _capacity: scan_polluted(universe, length),
        ),
        Workload(
            "loop",
            "a loop over 1.2x the cache size",
            lambda _universe, length, capacity: loop(length, capacity),
        ),
        Workload(
            "shifting",
            "Zipf 1.0, ranking reshuffled every tenth of the trace",
            lambda universe, length, _capacity: shifting(universe, length),
        ),
        Workload(
            "adaptivity",
            'recency ("corda" stand-in), 5x a loop over 1.2x the cache, recency',
            lambda _universe, length, capacity: adaptivity(length, capacity),
        ),
    ]
    return found
