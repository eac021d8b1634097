"""Zipf-distributed key sequences (hot keys), reproducible from a seed."""

from __future__ import annotations

import itertools
import random


def zipf_keys(count: int, universe: int, *, exponent: float = 1.1, seed: int = 7) -> list[str]:
    """``count`` keys drawn from ``universe`` keys, key ``i`` with weight ``1 / i**exponent``."""
    rng = random.Random(seed)
    weights = itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, universe + 1))
    names = [f"item:{rank}" for rank in range(universe)]
    return rng.choices(names, cum_weights=list(weights), k=count)


def write_mask(count: int, write_share: float, *, seed: int = 11) -> list[bool]:
    """``count`` flags, each ``True`` (a write) with probability ``write_share``."""
    rng = random.Random(seed)
    return [rng.random() < write_share for _ in range(count)]
