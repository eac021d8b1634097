"""Micro-benchmarks of the hot path, runnable alone in seconds.

``make bench-micro`` (``pytest bench/micro --benchmark-only``) checks a change
to ``Cache.get`` / ``set`` against the floor without the whole suite: compare
``test_get_hit[floor]`` with ``test_get_hit[sweepcache]`` (the targets: async
``get`` hit <= 1.5x the floor, ``set`` <= 2.0x, sync ``get_nowait`` <= 1.3x).

The async methods are driven without an event loop (``coro.send(None)``):
none of them yields, so this measures exactly the coroutine's own cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import sweepcache
from bench import adapters

if TYPE_CHECKING:
    from collections.abc import Coroutine

KEYS = [f"user:{i}" for i in range(1_000)]
VALUE = {"id": 1}


def _drive(coroutine: Coroutine[Any, Any, Any]) -> None:
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise AssertionError("the operation yielded to the event loop")


def _async_caches() -> dict[str, Any]:
    sweep: sweepcache.Cache[str, Any] = sweepcache.Cache(default_ttl=60.0)
    return {"floor": adapters.AsyncFloor(), "sweepcache": sweep}


@pytest.fixture(params=["floor", "sweepcache"])
def async_cache(request: pytest.FixtureRequest) -> Any:
    cache = _async_caches()[request.param]
    for key in KEYS:
        _drive(cache.set(key, VALUE))
    return cache


@pytest.fixture(params=["floor", "sweepcache"])
def sync_ops(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    if request.param == "floor":
        floor = adapters.SyncFloor()
        get, set_ = floor.get, floor.set
    else:
        cache: sweepcache.Cache[str, Any] = sweepcache.Cache(default_ttl=60.0)
        get, set_ = cache.get_nowait, cache.set_nowait
    for key in KEYS:
        set_(key, VALUE)
    return get, set_


def test_get_hit(benchmark: Any, async_cache: Any) -> None:
    get = async_cache.get

    def run() -> None:
        for key in KEYS:
            _drive(get(key))

    benchmark(run)


def test_set_overwrite(benchmark: Any, async_cache: Any) -> None:
    set_ = async_cache.set

    def run() -> None:
        for key in KEYS:
            _drive(set_(key, VALUE))

    benchmark(run)


def test_get_nowait_hit(benchmark: Any, sync_ops: tuple[Any, Any]) -> None:
    get = sync_ops[0]

    def run() -> None:
        for key in KEYS:
            get(key)

    benchmark(run)


def test_set_nowait_overwrite(benchmark: Any, sync_ops: tuple[Any, Any]) -> None:
    set_ = sync_ops[1]

    def run() -> None:
        for key in KEYS:
            set_(key, VALUE)

    benchmark(run)
