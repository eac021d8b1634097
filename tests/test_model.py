"""Model-based tests: ``Cache`` against a plain dict of ``key -> (value, expires_at)``.

A hypothesis state machine applies random operations (async ones through an
AnyIO blocking portal, on asyncio, asyncio+uvloop and trio, and the
``*_nowait`` twins directly) to a ``Cache`` on a ``FakeClock`` and to the
reference model, where an entry is live iff ``now < expires_at``. Keys come
from a small set so that overwrites, deletes and re-sets of one key collide;
TTLs include ``None``, ``0``, the default, ints, and instants a ulp either side
of the expiry-bucket boundaries; the clock moves by small steps, to bucket
boundaries, and exactly to (and a ulp before) an entry's expiry instant.

After every step the machine checks, besides each return value:

* every live model entry is stored with the same value and ``expires_at``,
  and every stored entry is one the model holds (expired or not);
* ``len(cache)`` is at least the model's live count, and equal right after a
  sweep, which returns exactly the number of expired entries still stored;
* the expiry index invariant of ``_expiry.py``: in every bucket,
  ``len(keys) - stale`` is the number of distinct keys whose entry maps to it;
  every finite entry is filed in its bucket; no bucket is empty or more than
  half stale unless it is already due (a sweep removes all due buckets).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

import pytest
import trio
from anyio.from_thread import start_blocking_portal
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from index_checks import assert_index_consistent, entries, sweep_step_counts
from scale import model_settings
from sweepcache import DEFAULT_TTL, Cache
from sweepcache.testing import FakeClock

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

Key = str | int
Value = int | None

NEVER: Final = math.inf
START: Final = 1000.0


class Missing:
    """A ``default`` that no stored value can equal."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = Missing()


@dataclass(frozen=True)
class Boundary:
    """A TTL that lands ``ulps`` floats away from the ``ahead``-th next bucket boundary."""

    ahead: int
    ulps: int


TTLSpec = float | int | None | Boundary | Literal["default", "DEFAULT_TTL"]

keys = st.sampled_from(["a", "b", "c", "d", 0, 1, 2, 3, 4])
values = st.none() | st.integers(min_value=-3, max_value=1000)
plain_ttls = st.sampled_from(
    [None, 0, 0.0, 1, 2, 1e-9, 0.1, 0.2499999, 0.25, 0.2500001, 0.5, 0.75, 1.0, 1.25, 3.0, 1e6]
) | st.floats(min_value=0.0, max_value=3.0, allow_nan=False)
ttl_specs: st.SearchStrategy[TTLSpec] = st.one_of(
    plain_ttls,
    st.sampled_from(["default", "DEFAULT_TTL"]),
    st.builds(Boundary, st.integers(min_value=1, max_value=6), st.sampled_from([-1, 0, 1])),
)
steps = st.sampled_from([0.0, 0.01, 0.1, 0.24, 0.25, 0.26, 0.5, 1.0, 3.0]) | st.floats(
    min_value=0.0, max_value=0.6, allow_nan=False
)


class CacheMachine(RuleBasedStateMachine):
    """Random operations on ``Cache`` and on the reference dict, compared step by step."""

    #: The event loop that runs the async calls; a subclass per backend sets it.
    portal: ClassVar[BlockingPortal]
    cache: Cache[Key, Value]
    #: Keys written so far: reads pick them often, so they seldom miss by chance.
    written = Bundle("written")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        #: The model: every entry the cache may still store, live or expired.
        self.model: dict[Key, tuple[Value, float]] = {}
        self.default_ttl: float | None = None

    # -- helpers -------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.clock.now

    def live(self, key: Key) -> bool:
        entry = self.model.get(key)
        return entry is not None and self.now < entry[1]

    def live_count(self) -> int:
        return sum(1 for _, expires_at in self.model.values() if self.now < expires_at)

    def resolve(self, spec: TTLSpec) -> float | int | None:
        """Turn a ``Boundary`` into seconds from now; other specs pass through."""
        if spec == "default" or spec == "DEFAULT_TTL":
            raise AssertionError("the default TTL has no seconds of its own")
        if not isinstance(spec, Boundary):
            return spec
        inverse_width = self.cache._inverse_width
        scaled = self.now * inverse_width
        target = (scaled - scaled % 1.0 + spec.ahead) / inverse_width
        for _ in range(abs(spec.ulps)):
            target = math.nextafter(target, math.copysign(math.inf, spec.ulps))
        ttl = target - self.now
        assert self.now + ttl == target  # exact: Sterbenz, both are near START
        return max(ttl, 0.0)

    def model_set(self, key: Key, value: Value, seconds: float | None) -> None:
        if seconds == 0.0:
            self.model.pop(key, None)
        else:
            self.model[key] = (value, NEVER if seconds is None else self.now + seconds)

    def seconds_of(self, spec: TTLSpec) -> float | None:
        if spec in ("default", "DEFAULT_TTL"):
            return self.default_ttl
        ttl = self.resolve(spec)
        return None if ttl is None else float(ttl)

    def sweep_expectation(self) -> int:
        return sum(1 for entry in entries(self.cache).values() if entry[1] <= self.now)

    # -- setup ---------------------------------------------------------------

    @initialize(
        shards=st.sampled_from([1, 4]),
        sweep_interval=st.sampled_from([1.0, 0.3]),
        default_ttl=st.sampled_from([1.5, 0.25, None]),
    )
    def build(self, shards: int, sweep_interval: float, default_ttl: float | None) -> None:
        self.default_ttl = default_ttl
        self.cache = Cache(
            default_ttl=default_ttl, shards=shards, sweep_interval=sweep_interval, clock=self.clock
        )

    # -- reads ---------------------------------------------------------------

    @rule(key=keys | written, use_async=st.booleans(), with_default=st.booleans())
    def get(self, key: Key, use_async: bool, with_default: bool) -> None:
        cache = self.cache
        entry = self.model.get(key)
        hit = entry is not None and self.now < entry[1]
        got: object
        if with_default:
            if use_async:
                got = self.portal.call(lambda: cache.get(key, MISSING))
            else:
                got = cache.get_nowait(key, MISSING)
            assert got == (entry[0] if hit and entry is not None else MISSING)
        else:
            got = self.portal.call(cache.get, key) if use_async else cache.get_nowait(key)
            assert got == (entry[0] if hit and entry is not None else None)

    @rule(key_list=st.lists(keys, max_size=6), with_default=st.booleans())
    def get_many(self, key_list: list[Key], with_default: bool) -> None:
        cache = self.cache
        default = MISSING if with_default else None
        got = self.portal.call(lambda: cache.get_many(key_list, default))
        expected = [self.model[key][0] if self.live(key) else default for key in key_list]
        assert got == expected

    @rule(key=keys | written)
    def contains(self, key: Key) -> None:
        assert (key in self.cache) == self.live(key)

    @rule(key=keys | written)
    def ttl(self, key: Key) -> None:
        cache = self.cache
        if self.live(key):
            expires_at = self.model[key][1]
            expected = None if expires_at == NEVER else expires_at - self.now
            assert self.portal.call(cache.ttl, key) == expected
        else:
            with pytest.raises(KeyError):
                self.portal.call(cache.ttl, key)

    # -- writes --------------------------------------------------------------

    @rule(target=written, key=keys, value=values, spec=ttl_specs, use_async=st.booleans())
    def set(self, key: Key, value: Value, spec: TTLSpec, use_async: bool) -> Key:
        self.write(key, value, spec, use_async=use_async)
        return key

    @rule(target=written, key=keys, value=values, spec=ttl_specs)
    def set_nowait(self, key: Key, value: Value, spec: TTLSpec) -> Key:
        """The sync writer again, so that writes outnumber the other rules."""
        self.write(key, value, spec, use_async=False)
        return key

    def write(self, key: Key, value: Value, spec: TTLSpec, *, use_async: bool) -> None:
        cache = self.cache
        seconds = self.seconds_of(spec)
        if spec == "default":
            if use_async:
                self.portal.call(cache.set, key, value)
            else:
                cache.set_nowait(key, value)
        else:
            ttl = DEFAULT_TTL if spec == "DEFAULT_TTL" else self.resolve(spec)
            if use_async:
                self.portal.call(cache.set, key, value, ttl)
            else:
                cache.set_nowait(key, value, ttl)
        self.model_set(key, value, seconds)

    @rule(target=written, mapping=st.dictionaries(keys, values, max_size=5), spec=ttl_specs)
    def set_many(self, mapping: dict[Key, Value], spec: TTLSpec) -> MultipleResults[Key]:
        cache = self.cache
        seconds = self.seconds_of(spec)
        if spec == "default":
            self.portal.call(cache.set_many, mapping)
        else:
            ttl = DEFAULT_TTL if spec == "DEFAULT_TTL" else self.resolve(spec)
            self.portal.call(cache.set_many, mapping, ttl)
        for key, value in mapping.items():
            self.model_set(key, value, seconds)
        return multiple(*mapping)

    @rule(
        key=keys | written,
        spec=st.one_of(plain_ttls, ttl_specs.filter(lambda s: isinstance(s, Boundary))),
    )
    def expire(self, key: Key, spec: TTLSpec) -> None:
        cache = self.cache
        ttl = self.resolve(spec)
        was_live = self.live(key)
        assert self.portal.call(cache.expire, key, ttl) == was_live
        if was_live:
            value = self.model[key][0]
            self.model_set(key, value, None if ttl is None else float(ttl))

    # -- deletes -------------------------------------------------------------

    @rule(key=keys | written, use_async=st.booleans())
    def delete(self, key: Key, use_async: bool) -> None:
        cache = self.cache
        was_live = self.live(key)
        if use_async:
            assert self.portal.call(cache.delete, key) == was_live
        else:
            assert cache.delete_nowait(key) == was_live
        self.model.pop(key, None)
        assert key not in entries(cache)

    @rule(key_list=st.lists(keys, max_size=6))
    def delete_many(self, key_list: list[Key]) -> None:
        expected = 0
        for key in key_list:
            expected += self.live(key)
            self.model.pop(key, None)
        assert self.portal.call(self.cache.delete_many, key_list) == expected

    @precondition(lambda self: len(self.model) >= 4)
    @rule(use_async=st.booleans())
    def clear(self, use_async: bool) -> None:
        if use_async:
            self.portal.call(self.cache.clear)
        else:
            self.cache.clear_nowait()
        self.model.clear()
        assert len(self.cache) == 0
        assert all(len(shard) == 0 and not shard.heap for shard in self.cache._shards)

    # -- time ----------------------------------------------------------------

    @rule(seconds=steps)
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: any(START <= e[1] < NEVER for e in self.model.values()))
    @rule(
        data=st.data(),
        ulps=st.sampled_from([-1, 0, 0, 1]),
        action=st.sampled_from(["sweep", "get", "ttl", "expire", "delete", "delete_many"]),
        use_async=st.booleans(),
    )
    def advance_to_expiry(
        self, data: st.DataObject, ulps: int, action: str, use_async: bool
    ) -> None:
        """Move the clock exactly to (or a ulp around) an entry's expiry instant.

        At ``expires_at`` the entry is expired (``now >= expires_at``); a ulp
        before, it is live. Each operation is tried right at the instant, since
        a later random step rarely lands on it.
        """
        instants = sorted(e[1] for e in self.model.values() if e[1] < NEVER)
        instant = data.draw(st.sampled_from(instants))
        target = math.nextafter(instant, math.copysign(math.inf, ulps)) if ulps else instant
        if target <= self.now:
            return
        self.clock.advance(target - self.now)
        assert self.now == target
        at_instant = [key for key, entry in self.model.items() if entry[1] == instant]
        for key in at_instant:
            assert (key in self.cache) is (ulps < 0), key
        key = data.draw(st.sampled_from(at_instant))
        if action == "sweep":
            self.sweep(use_async)
        elif action == "get":
            self.get(key, use_async, with_default=True)
        elif action == "ttl":
            self.ttl(key)
        elif action == "expire":
            self.expire(key, data.draw(plain_ttls))
        elif action == "delete":
            self.delete(key, use_async)
        else:
            self.delete_many([key, key])

    @rule(ahead=st.integers(min_value=1, max_value=5))
    def advance_to_bucket_boundary(self, ahead: int) -> None:
        inverse_width = self.cache._inverse_width
        scaled = self.now * inverse_width
        target = (scaled - scaled % 1.0 + ahead) / inverse_width
        if target > self.now:
            self.clock.advance(target - self.now)

    # -- sweeping ------------------------------------------------------------

    @rule(use_async=st.booleans())
    def sweep(self, use_async: bool) -> None:
        cache = self.cache
        expected = self.sweep_expectation()
        # The sync path consumes the sweeper's locked steps without an event loop.
        reclaimed = self.portal.call(cache.sweep) if use_async else sum(sweep_step_counts(cache))
        assert reclaimed == expected
        assert len(cache) == self.live_count()
        assert_index_consistent(cache, swept=True)

    # -- invariants ----------------------------------------------------------

    @invariant()
    def stored_entries_match_model(self) -> None:
        data = {key: entry[:2] for key, entry in entries(self.cache).items()}
        for key, entry in self.model.items():
            if self.now < entry[1]:
                assert data.get(key) == entry, key
                assert key in self.cache
        for key, entry in data.items():
            assert self.model.get(key) == entry, key

    @invariant()
    def length_bounds(self) -> None:
        assert len(self.cache) >= self.live_count()
        assert len(self.cache) <= len(self.model)

    @invariant()
    def index_consistent(self) -> None:
        assert_index_consistent(self.cache)


BACKENDS: list[Any] = [
    pytest.param("asyncio", {}, id="asyncio"),
    pytest.param("asyncio", {"use_uvloop": True}, id="asyncio+uvloop"),
    pytest.param("trio", {}, id="trio"),
]

EXPECTED_LOOP: Final = {
    ("asyncio", False): "asyncio",
    ("asyncio", True): "uvloop",
    ("trio", False): "trio",
}


async def running_loop_kind() -> str:
    """Name the event loop the portal really runs (so no backend is silently skipped)."""
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return type(asyncio.get_running_loop()).__module__.split(".")[0]
    return "trio"


MODEL_SETTINGS: Final = model_settings(60, 40)


@pytest.mark.parametrize(("backend", "backend_options"), BACKENDS)
def test_cache_matches_model(backend: str, backend_options: dict[str, Any]) -> None:
    """The state machine, with async calls made on one event loop per backend."""
    with start_blocking_portal(backend, backend_options) as portal:
        assert portal.call(running_loop_kind) == EXPECTED_LOOP[backend, bool(backend_options)]

        class BoundMachine(CacheMachine):
            pass

        BoundMachine.portal = portal
        run_state_machine_as_test(BoundMachine, settings=MODEL_SETTINGS)


def test_model_helpers_catch_a_corrupt_index() -> None:
    """The white-box checker fails on a bucket whose stale count is off by one."""
    clock = FakeClock(START)
    cache: Cache[str, int] = Cache(shards=1, clock=clock)
    cache.set_nowait("a", 1, ttl=10)
    assert_index_consistent(cache)
    (bucket,) = cache._shards[0]._buckets.values()
    bucket.stale += 1
    with pytest.raises(AssertionError):
        assert_index_consistent(cache)
