"""Model-based test of the features around the core: removal events, statistics, tags.

A hypothesis state machine drives a ``Cache`` built with ``on_removal`` and
``record_stats=True`` (async calls through an AnyIO blocking portal, on
asyncio, asyncio+uvloop and trio; sync twins directly) and keeps a reference
model. Because every removal is reported, the model is *exact*: it holds
precisely the entries the cache stores, expired ones not yet reclaimed
included, and drops an expired entry when the cache reports reclaiming it.

After every step the machine checks:

* every removal event names an entry the model holds (values are unique), once,
  with the right cause: ``REPLACED``/``EXPLICIT`` for live entries the step
  overwrote/removed, ``EXPIRED`` for expired ones, whoever reclaimed them;
  and every entry the step removed was reported;
* the stored entries equal the model's, values, expiry and tags;
* ``stats()`` equals the model's own counts: hits, misses, puts, removals by
  cause, expirations by who reclaimed them (a read, the sweeper, a write),
  entries;
* the tag index holds exactly the model's memberships (white box).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, ClassVar, Final

import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from index_checks import assert_index_consistent, entries
from scale import model_settings
from sweepcache import Cache, RemovalCause
from sweepcache.testing import FakeClock

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal
    from hypothesis.stateful import MultipleResults

NEVER: Final = float("inf")
START: Final = 1000.0
EXPLICIT, REPLACED, EXPIRED = RemovalCause.EXPLICIT, RemovalCause.REPLACED, RemovalCause.EXPIRED
SIZE = RemovalCause.SIZE


def weigh(key: Any, value: Any) -> int:
    """The model's weigher: 0, 1 or 2 by the value."""
    return int(value[0]) % 3


keys = st.sampled_from(["a", "b", "c", "d", 0, 1, 2])
#: Constant tuples, passed as the same objects again and again, as code does
#: with ``tags=("users",)``: an overwrite with the very tuple the key carries
#: takes the shard's shortcut that leaves the tag index alone.
CONSTANT_TAGS = (("t1",), ("t1", "t2"), ("t2", "t3"), ())
tags_strategy = (
    st.none()
    | st.frozensets(st.sampled_from(["t1", "t2", "t3"]), max_size=2)
    | st.sampled_from(CONSTANT_TAGS)
)
ttls = st.sampled_from([None, 0, 0.1, 0.25, 0.3, 0.5, 1.0, 2.0, 1e6]) | st.floats(
    min_value=0.0, max_value=2.0, allow_nan=False
)
steps = st.sampled_from([0.0, 0.05, 0.25, 0.26, 0.5, 1.0, 3.0])


class Record:
    """One value the model expects the cache to store, or to report once."""

    __slots__ = ("expires_at", "key", "tags", "value")

    def __init__(self, key: Any, value: Any, expires_at: float, tags: frozenset[str]) -> None:
        self.key = key
        self.value = value
        self.expires_at = expires_at
        self.tags = tags


class FeatureMachine(RuleBasedStateMachine):
    """Random operations on a reporting ``Cache`` and on an exact model."""

    portal: ClassVar[BlockingPortal]
    written = Bundle("written")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        self.serial = itertools.count()
        self.model: dict[Any, Record] = {}
        #: Records this step removed from the model, with the cause each must be reported with.
        self.gone: dict[Any, tuple[Record, RemovalCause]] = {}
        self.events: list[tuple[Any, Any, RemovalCause]] = []
        self.reclaimer = "write"
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "hits",
                "misses",
                "puts",
                "replacements",
                "explicit_removals",
                "size_evictions",
                "expirations_by_read",
                "expirations_by_sweeper",
                "expirations_by_write",
            ),
            0,
        )
        self.default_ttl: float | None = None
        self.maxsize: int | None = None
        self.weighted = False

    @property
    def now(self) -> float:
        return self.clock.now

    def live(self, key: Any) -> bool:
        record = self.model.get(key)
        return record is not None and self.now < record.expires_at

    def unique(self, value: Any) -> tuple[Any, int]:
        return (value, next(self.serial))

    def on_removal(self, key: Any, value: Any, cause: RemovalCause) -> None:
        self.events.append((key, value, cause))

    # -- model bookkeeping -----------------------------------------------------

    def remove_from_model(self, key: Any, cause_if_live: RemovalCause) -> bool:
        """The model's side of an explicit removal or overwrite; returns whether it was live."""
        record = self.model.pop(key, None)
        if record is None:
            return False
        live = self.now < record.expires_at
        self.gone[record.value] = (record, cause_if_live if live else EXPIRED)
        return live

    def store(self, key: Any, value: Any, seconds: float | None, tags: Any) -> None:
        tags = frozenset(tags)
        if seconds == 0.0:
            self.remove_from_model(key, EXPLICIT)
            return
        self.remove_from_model(key, REPLACED)
        expires_at = NEVER if seconds is None else self.now + seconds
        self.model[key] = Record(key, value, expires_at, tags)
        self.counts["puts"] += 1

    def seconds_of(self, ttl: float | str | None) -> float | None:
        if ttl == "default":
            return self.default_ttl
        return None if ttl is None else float(ttl)

    def settle(self) -> None:
        """Match this step's removal events against the model (see the module docstring)."""
        evicted = False
        for key, value, cause in self.events:
            if value in self.gone:
                record, expected = self.gone.pop(value)
                if cause is SIZE and expected is not EXPIRED and self.maxsize is not None:
                    expected = SIZE  # evicted to make room earlier in the same step
                assert (record.key, cause) == (key, expected), (key, value, cause, expected)
            else:
                record_found = self.model.get(key)
                assert record_found is not None, f"phantom or repeated removal of {key!r}"
                assert record_found.value == value, (key, value, record_found.value)
                if cause is SIZE:
                    assert self.maxsize is not None, "an eviction without maxsize"
                    assert self.now < record_found.expires_at, "an expired entry reported SIZE"
                    # An entry heavier than the whole budget goes whatever else is stored.
                    evicted = evicted or not self.weighted or weigh(key, value) <= self.maxsize
                else:
                    assert cause is EXPIRED, (key, cause)
                    assert record_found.expires_at <= self.now, "a live entry reported expired"
                del self.model[key]
            if cause is SIZE:
                self.counts["size_evictions"] += 1
            elif cause is EXPIRED:
                self.counts[f"expirations_by_{self.reclaimer}"] += 1
            elif cause is REPLACED:
                self.counts["replacements"] += 1
            else:
                self.counts["explicit_removals"] += 1
        assert not self.gone, f"removed but never reported: {list(self.gone)}"
        if evicted:
            # Expired entries go first: none is left once a live one was evicted.
            expired = [key for key, record in self.model.items() if record.expires_at <= self.now]
            assert not expired, f"live entries evicted while {expired} had expired"
        self.events.clear()
        self.reclaimer = "write"

    # -- setup -----------------------------------------------------------------

    @initialize(
        shards=st.sampled_from([1, 4]),
        sweep_interval=st.sampled_from([1.0, 0.3]),
        default_ttl=st.sampled_from([1.5, 0.25, None]),
        maxsize=st.sampled_from([None, None, 1, 3, 6]),
        weighted=st.booleans(),
    )
    def build(
        self,
        shards: int,
        sweep_interval: float,
        default_ttl: float | None,
        maxsize: int | None,
        weighted: bool,
    ) -> None:
        self.default_ttl = default_ttl
        self.maxsize = maxsize
        self.weighted = weighted and maxsize is not None
        self.cache: Cache[Any, Any] = Cache(
            default_ttl=default_ttl,
            shards=1 if maxsize is not None else shards,
            sweep_interval=sweep_interval,
            clock=self.clock,
            maxsize=maxsize,
            weigher=weigh if self.weighted else None,
            on_removal=self.on_removal,
            record_stats=True,
        )

    # -- reads -------------------------------------------------------------------

    def expect_read(self, key: Any) -> Any:
        self.reclaimer = "read"
        if self.live(key):
            self.counts["hits"] += 1
            return self.model[key].value
        self.counts["misses"] += 1
        return None

    @rule(key=keys | written, use_async=st.booleans())
    def get(self, key: Any, use_async: bool) -> None:
        expected = self.expect_read(key)
        cache = self.cache
        got = self.portal.call(cache.get, key) if use_async else cache.get_nowait(key)
        assert got == expected

    @rule(key_list=st.lists(keys, max_size=5))
    def get_many(self, key_list: list[Any]) -> None:
        expected = [self.expect_read(key) for key in key_list]
        assert self.cache.get_many_nowait(key_list) == expected

    @rule(key=keys | written)
    def contains(self, key: Any) -> None:
        assert (key in self.cache) == self.live(key)

    # -- writes ------------------------------------------------------------------

    @rule(
        target=written,
        key=keys,
        value=st.integers(0, 9),
        ttl=ttls | st.just("default"),
        tags=tags_strategy,
        use_async=st.booleans(),
    )
    def set(self, key: Any, value: int, ttl: Any, tags: Any, use_async: bool) -> Any:
        unique = self.unique(value)
        cache = self.cache
        kwargs: dict[str, Any] = {} if tags is None else {"tags": tags}
        args = (key, unique) if ttl == "default" else (key, unique, ttl)
        if use_async:
            self.portal.call(lambda: cache.set(*args, **kwargs))
        else:
            cache.set_nowait(*args, **kwargs)
        self.store(key, unique, self.seconds_of(ttl), tags or frozenset())
        return key

    @rule(
        target=written,
        mapping=st.dictionaries(keys, st.integers(0, 9), max_size=4),
        ttl=ttls,
        tags=tags_strategy,
    )
    def set_many(self, mapping: dict[Any, int], ttl: Any, tags: Any) -> MultipleResults[Any]:
        unique = {key: self.unique(value) for key, value in mapping.items()}
        self.portal.call(lambda: self.cache.set_many(unique, ttl, tags=tags))
        for key, value in unique.items():
            self.store(key, value, self.seconds_of(ttl), tags or frozenset())
        return multiple(*mapping)

    @rule(key=keys | written, value=st.integers(0, 9), ttl=ttls, tags=tags_strategy)
    def get_or_load(self, key: Any, value: int, ttl: Any, tags: Any) -> None:
        unique = self.unique(value)

        async def loader() -> Any:
            return unique

        got = self.portal.call(lambda: self.cache.get_or_load(key, loader, ttl=ttl, tags=tags))
        if self.live(key):
            self.counts["hits"] += 1
            assert got == self.model[key].value
        else:
            self.counts["misses"] += 1
            assert got == unique
            self.store(key, unique, self.seconds_of(ttl), tags or frozenset())

    @rule(key=keys | written, ttl=ttls)
    def expire(self, key: Any, ttl: Any) -> None:
        was_live = self.live(key)
        assert self.cache.expire_nowait(key, ttl) == was_live
        if was_live:
            seconds = self.seconds_of(ttl)
            if seconds == 0.0:
                self.remove_from_model(key, EXPLICIT)
            else:
                self.model[key].expires_at = NEVER if seconds is None else self.now + seconds

    # -- removals ----------------------------------------------------------------

    @rule(key=keys | written, use_async=st.booleans())
    def delete(self, key: Any, use_async: bool) -> None:
        cache = self.cache
        got = self.portal.call(cache.delete, key) if use_async else cache.delete_nowait(key)
        assert got == self.remove_from_model(key, EXPLICIT)

    @rule(key_list=st.lists(keys, max_size=5))
    def delete_many(self, key_list: list[Any]) -> None:
        expected = sum(self.remove_from_model(key, EXPLICIT) for key in dict.fromkeys(key_list))
        assert self.cache.delete_many_nowait(key_list) == expected

    @rule(tags=st.frozensets(st.sampled_from(["t1", "t2", "t3", "t4"]), max_size=2))
    def invalidate_tags(self, tags: frozenset[str]) -> None:
        doomed = [key for key, record in self.model.items() if record.tags & tags]
        expected = sum(self.remove_from_model(key, EXPLICIT) for key in doomed)
        assert self.portal.call(lambda: self.cache.invalidate_tags(*tags)) == expected

    @precondition(lambda self: len(self.model) >= 3)
    @rule(use_async=st.booleans())
    def clear(self, use_async: bool) -> None:
        for key in list(self.model):
            self.remove_from_model(key, EXPLICIT)
        if use_async:
            self.portal.call(self.cache.clear)
        else:
            self.cache.clear_nowait()

    # -- time and the sweeper ----------------------------------------------------

    @rule(seconds=steps)
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(use_async=st.booleans())
    def sweep(self, use_async: bool) -> None:
        self.reclaimer = "sweeper"
        expected = sum(1 for record in self.model.values() if record.expires_at <= self.now)
        cache = self.cache
        got = self.portal.call(cache.sweep) if use_async else cache.sweep_nowait()
        assert got == expected

    # -- invariants --------------------------------------------------------------

    @invariant()
    def cache_matches_the_model(self) -> None:
        """One invariant, so that the events are matched before anything else is compared."""
        if not hasattr(self, "cache"):
            return
        self.settle()
        self.entries_equal_the_model()
        self.bound_holds()
        self.stats_equal_the_model()
        self.tag_index_equals_the_model()

    def entries_equal_the_model(self) -> None:
        stored = entries(self.cache)
        assert set(stored) == set(self.model)
        for key, entry in stored.items():
            record = self.model[key]
            assert entry[0] == record.value
            assert entry[1] == record.expires_at
            assert frozenset(entry[3] if len(entry) > 3 else ()) == record.tags, key
        assert_index_consistent(self.cache)

    def bound_holds(self) -> None:
        if self.maxsize is None:
            return
        weight = sum(
            weigh(key, record.value) if self.weighted else 1 for key, record in self.model.items()
        )
        assert self.cache.weight == weight
        assert weight <= self.maxsize

    def stats_equal_the_model(self) -> None:
        stats = self.cache.stats()
        for name, expected in self.counts.items():
            assert getattr(stats, name) == expected, (name, getattr(stats, name), expected)
        assert stats.entries == len(self.model)

    def tag_index_equals_the_model(self) -> None:
        index: dict[Any, set[Any]] = {}
        for shard in self.cache._shards:
            for tag, members in shard.tag_index.items():
                assert members, f"empty tag {tag!r} kept"
                assert tag not in index or not (index[tag] & members)
                index.setdefault(tag, set()).update(members)
        expected: dict[str, set[Any]] = {}
        for key, record in self.model.items():
            for tag in record.tags:
                expected.setdefault(tag, set()).add(key)
        assert index == expected


BACKENDS: list[Any] = [
    pytest.param("asyncio", {}, id="asyncio"),
    pytest.param("asyncio", {"use_uvloop": True}, id="asyncio+uvloop"),
    pytest.param("trio", {}, id="trio"),
]

#: ``make reliability`` raises these through the environment (see reliability/).
MODEL_SETTINGS: Final = model_settings(60, 40)


@pytest.mark.parametrize(("backend", "backend_options"), BACKENDS)
def test_features_match_the_model(backend: str, backend_options: dict[str, Any]) -> None:
    with start_blocking_portal(backend, backend_options) as portal:

        class BoundMachine(FeatureMachine):
            pass

        BoundMachine.portal = portal
        run_state_machine_as_test(BoundMachine, settings=MODEL_SETTINGS)
