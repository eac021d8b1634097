"""What bounding the size costs per insert of a new key, from the cheapest bound up.

``make bench-micro`` runs these beside the hot path's. Compare, per new key:

* ``store``: a plain dict store in a function (the floor);
* ``store+fifo``: the same with a FIFO bound (a deque of keys), the cheapest
  bound there is, and one that hits nothing on a loop slightly larger than
  the cache;
* ``store+sketch``: the same with only the count-min sketch update that
  TinyLFU admission makes on every new key (two rows, conservative update,
  as ``sweepcache._eviction``);
* ``cache``, ``cache maxsize`` and ``cache maxsize, evicting``: the real
  ``Cache.set_nowait``, unbounded, bounded while filling, and full.

The ``hotpath`` suite's target for a bounded ``set`` is 1.3x the 0.1.0 core's
unbounded one; the sketch update alone takes more than that 30%.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import pytest

import sweepcache

if TYPE_CHECKING:
    from collections.abc import Callable

N = 20_000
KEYS = [f"user:{i}" for i in range(N)]
VALUE = {"id": 1}
_GOLDEN = 0x9E3779B97F4A7C15
_LOW64 = (1 << 64) - 1


def _store() -> Callable[[str, object], None]:
    data: dict[str, tuple[object, float, str]] = {}

    def store(key: str, value: object) -> None:
        data[key] = (value, 1.0, key)

    return store


def _store_fifo(bound: int) -> Callable[[str, object], None]:
    data: dict[str, tuple[object, float, str]] = {}
    order: deque[str] = deque()

    def store(key: str, value: object) -> None:
        data[key] = (value, 1.0, key)
        order.append(key)
        if len(data) > bound:
            del data[order.popleft()]

    return store


def _store_sketch() -> Callable[[str, object], None]:
    data: dict[str, tuple[object, float, str]] = {}
    width = 1 << (4 * N).bit_length()
    sketch = bytearray(2 * width)
    mask = width - 1
    top_shift = 64 - (width.bit_length() - 1)

    def store(key: str, value: object) -> None:
        data[key] = (value, 1.0, key)
        mixed = hash(key) * _GOLDEN & _LOW64
        first = mixed >> top_shift
        second = (mixed >> (top_shift - 24)) & mask | (mask + 1)
        estimate = sketch[first]
        other = sketch[second]
        if other < estimate:
            estimate = other
        if estimate < 15:
            estimate += 1
            if sketch[first] < estimate:
                sketch[first] = estimate
            if other < estimate:
                sketch[second] = estimate

    return store


def _cache(maxsize: int | None) -> Callable[[str, object], None]:
    cache: sweepcache.Cache[str, Any] = sweepcache.Cache(default_ttl=600.0, maxsize=maxsize)
    return cache.set_nowait


BUILDERS: dict[str, Callable[[], Callable[[str, object], None]]] = {
    "store": _store,
    "store+fifo": lambda: _store_fifo(N),
    "store+sketch": _store_sketch,
    "cache": lambda: _cache(None),
    "cache maxsize": lambda: _cache(N),
    "cache maxsize, evicting": lambda: _cache(N // 10),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_insert_new_keys(benchmark: Any, name: str) -> None:
    """Insert ``N`` new keys into a fresh structure (time per round of ``N``)."""

    def setup() -> tuple[tuple[Callable[[str, object], None]], dict[str, Any]]:
        return (BUILDERS[name](),), {}

    def insert_all(store: Callable[[str, object], None]) -> None:
        for key in KEYS:
            store(key, VALUE)

    benchmark.pedantic(insert_all, setup=setup, rounds=15)
