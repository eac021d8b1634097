"""Subclasses of ``Cache``: built like ``Cache``, their own methods first, every feature kept."""

from __future__ import annotations

import gc
import inspect
import weakref
from typing import TYPE_CHECKING, Any

import pytest

from sweepcache import Cache, RemovalCause, cached

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio


class Audited(Cache[str, int]):
    """Adds a method and wraps reads and writes, reaching the generated paths via super()."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.log: list[str] = []

    def get_nowait(self, key: str, default: object = None) -> Any:
        self.log.append(f"get {key}")
        return super().get_nowait(key, default)

    def set_nowait(self, key: str, value: int, *args: Any, **kwargs: Any) -> None:
        self.log.append(f"set {key}")
        super().set_nowait(key, value, *args, **kwargs)

    def doubled(self, key: str) -> int:
        value = super().get_nowait(key, 0)
        assert isinstance(value, int)
        return 2 * value


class Sized(Cache[int, int]):
    """Its __init__ takes its own positional argument and sets maxsize itself."""

    __slots__ = ("label",)

    def __init__(self, size: int, clock: FakeClock) -> None:
        super().__init__(maxsize=size, default_ttl=None, clock=clock, record_stats=True)
        self.label = "sized"


@pytest.mark.parametrize(
    "options",
    [{}, {"record_stats": True}, {"on_removal": lambda *_: None}, {"maxsize": 100}],
    ids=["plain", "stats", "listener", "bounded"],
)
async def test_subclass_keeps_its_methods_and_the_features(
    clock: FakeClock, options: dict[str, Any]
) -> None:
    cache = Audited(default_ttl=10, clock=clock, **options)
    assert isinstance(cache, Audited)
    assert type(cache).__name__ == "Audited"
    cache.set_nowait("a", 21)
    assert cache.get_nowait("a") == 21
    assert cache.doubled("a") == 42
    assert await cache.get("a") == 21  # the generated async path, not the override
    await cache.set("b", 1)
    # The async twins are paths of their own: the overrides saw only the *_nowait calls.
    assert cache.log == ["set a", "get a"]
    clock.advance(10)
    assert cache.get_nowait("a") is None
    assert len(cache) == 0 or "a" not in cache


async def test_subclass_init_with_other_features_gets_the_variant_that_fits(
    clock: FakeClock,
) -> None:
    cache = Sized(3, clock)
    assert isinstance(cache, Sized)
    assert cache.label == "sized"
    assert cache.maxsize == 3
    for key in range(50):
        await cache.set(key, key)
        assert len(cache) <= 3
    resident = [key for key in range(50) if key in cache]
    for key in resident:
        assert await cache.get(key) == key
    stats = cache.stats()
    assert stats.hits == len(resident)
    assert stats.size_evictions == 47


async def test_subclass_async_with_runs_the_sweeper(clock: FakeClock) -> None:
    removed: list[tuple[str, RemovalCause]] = []
    cache = Audited(
        default_ttl=1, clock=clock, on_removal=lambda key, _, cause: removed.append((key, cause))
    )
    async with cache:
        await cache.set("k", 1)
        clock.advance(2)
        await cache.sweep()
    assert removed == [("k", RemovalCause.EXPIRED)]


def test_subclasses_of_one_variant_are_separate_classes() -> None:
    class One(Cache[str, str]):
        pass

    class Two(Cache[str, str]):
        pass

    one, two, plain = One(), Two(), Cache[str, str]()
    classes: list[type[Cache[str, str]]] = [type(one), type(two)]
    assert classes[0] is not classes[1]
    assert isinstance(one, One)
    assert not isinstance(one, Two)
    assert not isinstance(plain, One)
    assert type(One()) is type(one)  # built once per subclass and variant


def test_a_subclass_shows_its_own_constructor_signature(clock: FakeClock) -> None:
    assert list(inspect.signature(Sized).parameters) == ["size", "clock"]
    assert list(inspect.signature(Audited).parameters) == ["options"]

    class Plain(Cache[str, str]):
        pass

    assert "default_ttl" in inspect.signature(Plain).parameters  # Cache's, inherited
    assert "maxsize" in inspect.signature(Cache).parameters
    cache = Sized(3, clock)
    annotations = [p.annotation for p in inspect.signature(cache.set_nowait).parameters.values()]
    assert inspect.Parameter.empty not in annotations  # the generated paths keep them
    assert inspect.signature(cache.get).parameters["default"].annotation is not None


def test_a_subclass_defined_and_dropped_is_freed() -> None:
    def make() -> weakref.ref[type[Cache[str, str]]]:
        class Local(Cache[str, str]):
            pass

        Local(maxsize=10).set_nowait("k", "v")
        Local().set_nowait("k", "v")
        return weakref.ref(Local)

    ref = make()
    gc.collect()
    assert ref() is None


async def test_cached_calls_a_subclass_get_or_load(clock: FakeClock) -> None:
    calls: list[object] = []

    class Traced(Cache[Any, Any]):
        async def get_or_load(self, key: Any, loader: Any, **options: Any) -> Any:
            calls.append(key)
            return await super().get_or_load(key, loader, **options)

    cache = Traced(clock=clock)

    @cached(cache)
    async def double(value: int) -> int:
        return 2 * value

    assert await double(4) == 8
    assert await double(4) == 8
    assert len(calls) == 2
    assert double.invalidate(4)  # invalidation stays immediate on a subclass
    assert await double(4) == 8
    assert len(calls) == 3
