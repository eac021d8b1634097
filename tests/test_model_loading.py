"""Model-based test of single-flight loading against a plain-dict reference model.

Hypothesis has no async rules, so each machine drives a ``Cache`` through an
AnyIO blocking portal (one event loop per example, asyncio or trio). Loads
block on events the machine controls, so a load can be left in flight while
other rules set, delete, clear, advance the clock and start more callers.

The model: ``entries`` maps keys to ``(value, expires_at)``; ``registered``
maps a key to its load in flight that new callers join; a load detached by
an invalidation stays in ``outstanding`` (its callers still get its value)
but must not be stored when it finishes.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
import anyio.from_thread
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from scale import model_settings
from sweepcache import Cache
from sweepcache.testing import FakeClock

if TYPE_CHECKING:
    from concurrent.futures import Future

KEYS = st.sampled_from(["a", "b", "c"])
TTLS = st.sampled_from([None, 0.5, 1.0, 5.0])
STEPS = st.sampled_from([0.25, 0.5, 1.0, 3.0])


class ModelLoad:
    """One load in flight: its gate, its value, and the callers' futures."""

    def __init__(self, key: str, value: int, ttl: float | None, gate: anyio.Event) -> None:
        self.key = key
        self.value = value
        self.ttl = ttl
        self.gate = gate
        self.detached = False
        self.futures: list[Future[Any]] = []


class LoadingMachine(RuleBasedStateMachine):
    backend: ClassVar[str] = "asyncio"

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(start=1000.0)
        self.cache: Cache[str, int] = Cache(default_ttl=2.0, shards=2, clock=self.clock)
        backend, _, variant = self.backend.partition("+")
        options = {"use_uvloop": True} if variant == "uvloop" else {}
        self._portal_cm = anyio.from_thread.start_blocking_portal(backend, options)
        self.portal = self._portal_cm.__enter__()
        self.entries: dict[str, tuple[int, float]] = {}
        self.registered: dict[str, ModelLoad] = {}
        self.outstanding: list[ModelLoad] = []
        self.loader_calls = 0
        self.next_value = 0

    def teardown(self) -> None:
        for load in self.outstanding:
            self.portal.call(self._set, load.gate)
        self._portal_cm.__exit__(None, None, None)

    @staticmethod
    async def _set(event: anyio.Event) -> None:
        event.set()

    def _live(self, key: str) -> int | None:
        entry = self.entries.get(key)
        if entry is not None and self.clock() < entry[1]:
            return entry[0]
        return None

    def _detach(self, key: str) -> None:
        load = self.registered.pop(key, None)
        if load is not None:
            load.detached = True

    def _store(self, key: str, value: int, ttl: float | None) -> None:
        if ttl == 0.0:
            self.entries.pop(key, None)
        else:
            expires_at = math.inf if ttl is None else self.clock() + ttl
            self.entries[key] = (value, expires_at)

    @rule(key=KEYS, ttl=TTLS)
    def set(self, key: str, ttl: float | None) -> None:
        self.next_value += 1
        self.portal.call(self.cache.set, key, self.next_value, ttl)
        self._detach(key)
        self._store(key, self.next_value, ttl)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        deleted = self.portal.call(self.cache.delete, key)
        assert deleted == (self._live(key) is not None)
        self._detach(key)
        self.entries.pop(key, None)

    @rule()
    def clear(self) -> None:
        self.portal.call(self.cache.clear)
        for key in list(self.registered):
            self._detach(key)
        self.entries.clear()

    @rule(seconds=STEPS)
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        assert self.portal.call(self.cache.get, key) == self._live(key)

    @rule(key=KEYS, ttl=TTLS)
    def load_now(self, key: str, ttl: float | None) -> None:
        """A ``get_or_load`` whose loader returns at once (when no load is in flight)."""
        if self._live(key) is None and key in self.registered:
            return  # it would join the gated load: `start_load` covers that
        self.next_value += 1
        value = self.next_value
        calls_before = self.loader_calls

        async def loader() -> int:
            self.loader_calls += 1
            return value

        result = self.portal.call(lambda: self.cache.get_or_load(key, loader, ttl=ttl))
        live = self._live(key)
        if live is not None:
            assert result == live
            assert self.loader_calls == calls_before
        else:
            assert result == value
            assert self.loader_calls == calls_before + 1
            self._store(key, value, ttl)

    @rule(key=KEYS)
    def load_fails(self, key: str) -> None:
        """A ``get_or_load`` whose loader raises: nothing is stored."""
        if self._live(key) is None and key in self.registered:
            return  # it would join the gated load

        async def loader() -> int:
            raise LookupError(key)

        live = self._live(key)
        try:
            result = self.portal.call(lambda: self.cache.get_or_load(key, loader))
        except LookupError:
            assert live is None
        else:
            assert result == live

    @rule(key=KEYS, ttl=TTLS)
    def start_load(self, key: str, ttl: float | None) -> None:
        """Start a ``get_or_load`` caller whose loader waits for ``finish_load``."""
        live = self._live(key)
        load = self.registered.get(key)
        if live is None and load is None:
            self.next_value += 1
            gate = self.portal.call(self._new_event)
            load = ModelLoad(key, self.next_value, ttl, gate)
            self.registered[key] = load
            self.outstanding.append(load)

        async def loader() -> int:
            self.loader_calls += 1
            assert load is not None, "a hit must not call its loader"
            await load.gate.wait()
            return load.value

        future = self.portal.start_task_soon(partial(self.cache.get_or_load, key, loader, ttl=ttl))
        self.portal.call(anyio.wait_all_tasks_blocked)
        if live is not None:
            assert future.result(timeout=5) == live
        else:
            assert load is not None
            assert not future.done()
            load.futures.append(future)

    @staticmethod
    async def _new_event() -> anyio.Event:
        return anyio.Event()

    @precondition(lambda self: self.outstanding)
    @rule(data=st.data())
    def finish_load(self, data: st.DataObject) -> None:
        load = data.draw(st.sampled_from(self.outstanding))
        self.outstanding.remove(load)
        calls_before = self.loader_calls
        self.portal.call(self._set, load.gate)
        for future in load.futures:
            assert future.result(timeout=5) == load.value
        assert self.loader_calls == calls_before  # nobody re-ran the loader
        if not load.detached:
            del self.registered[load.key]
            self._store(load.key, load.value, load.ttl)

    @invariant()
    def registry_matches(self) -> None:
        assert set(self.cache._loads) == set(self.registered)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["asyncio", "asyncio+uvloop", "trio"])
def test_loading_model(backend: str) -> None:
    machine: type[LoadingMachine] = type(
        f"LoadingMachine_{backend}", (LoadingMachine,), {"backend": backend}
    )
    test_case = machine.TestCase
    test_case.settings = model_settings(100, 40)
    test_case().runTest()
