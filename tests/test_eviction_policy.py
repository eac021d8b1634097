"""The eviction policy (``_eviction.EvictionPolicy``) on its own, as the shards will drive it.

A hypothesis state machine applies random inserts (weighted and not, with
adversarial hashes), removals, reweighs, reads and clears to one policy and to
a model of the resident set, and checks after every step that

* the total weight equals the sum of the resident entries' weights and never
  exceeds the capacity;
* every resident key is tracked exactly once, under the token it was given;
* every key ever added is resident, or was returned as a victim, or was
  removed by the caller: nothing disappears silently and nothing comes back;
* every token is inside the shared ``counts`` list and belongs to its shard.

The other tests pin the behaviour the policy exists for (loops and one-time
scans do not flush popular keys, read keys survive unread ones, the window
grows under recency), weights (Caffeine's maximum-weight rules), bounded work
per call, shards sharing one ``counts`` list, and racing readers.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict, deque
from typing import Final

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sweepcache._eviction import DEAD, MAX_FREQUENCY, EvictionPolicy, Token


def drive(
    policy: EvictionPolicy[int], trace: list[int], resident: dict[int, Token] | None = None
) -> float:
    """Replay ``trace`` as a cache would (read on a hit, insert on a miss); return the hit ratio."""
    resident = {} if resident is None else resident
    counts = policy.counts
    hits = 0
    for key in trace:
        token = resident.get(key)
        if token is not None:
            hits += 1
            counts[token] += 1
            continue
        token, victims = policy.add(key, hash(key))
        resident[key] = token
        for victim, victim_token in victims:
            assert resident.pop(victim) == victim_token
    assert len(resident) == len(policy) <= policy.capacity
    return hits / len(trace)


def lru_hit_ratio(trace: list[int], capacity: int) -> float:
    cache: OrderedDict[int, None] = OrderedDict()
    hits = 0
    for key in trace:
        if key in cache:
            hits += 1
            cache.move_to_end(key)
        else:
            cache[key] = None
            if len(cache) > capacity:
                cache.popitem(last=False)
    return hits / len(trace)


def zipf_trace(length: int, universe: int, alpha: float, seed: int) -> list[int]:
    rng = random.Random(seed)
    weights = [1.0 / rank**alpha for rank in range(1, universe + 1)]
    return rng.choices(range(universe), weights=weights, k=length)


class Unhashable:
    """A key whose ``__hash__`` and ``__eq__`` raise: the policy must never call them."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        raise RuntimeError("hash called")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq called")

    def __repr__(self) -> str:
        return f"Unhashable({self.name!r})"


# -- construction ---------------------------------------------------------------


@pytest.mark.parametrize("capacity", [-1, 1.5, True, "3", None])
def test_bad_capacity_is_named(capacity: object) -> None:
    with pytest.raises(ValueError, match=r"capacity must be an int >= 0, got"):
        EvictionPolicy(capacity)  # type: ignore[arg-type]


@pytest.mark.parametrize(("shard", "shards"), [(0, 3), (0, 0), (2, 2), (-1, 4)])
def test_bad_shards_are_named(shard: int, shards: int) -> None:
    with pytest.raises(ValueError, match=r"shards? must be"):
        EvictionPolicy(10, shard=shard, shards=shards)


def test_a_huge_capacity_allocates_nothing_up_front() -> None:
    policy = EvictionPolicy[int](10**12)
    assert len(policy._sketch) < 64 * 1024
    for key in range(5000):
        policy.add(key, hash(key))
    assert len(policy) == 5000
    assert len(policy._sketch) < 64 * 5000


# -- basic behaviour ------------------------------------------------------------


def test_below_capacity_nothing_is_evicted_and_tokens_are_distinct() -> None:
    policy = EvictionPolicy[str](100)
    tokens = set()
    for i in range(100):
        token, victims = policy.add(f"k{i}", hash(f"k{i}"))
        assert not victims
        tokens.add(token)
    assert len(tokens) == 100 == len(policy) == policy.weight
    assert len(policy.counts) > max(tokens)


def test_capacity_zero_admits_nothing() -> None:
    policy = EvictionPolicy[str](0)
    for key in ("a", "b", "a"):
        token, victims = policy.add(key, hash(key))
        assert list(victims) == [(key, token)]
        assert len(policy) == 0 == policy.weight


@pytest.mark.parametrize("capacity", [1, 2, 3])
def test_tiny_capacities_stay_within_bounds(capacity: int) -> None:
    policy = EvictionPolicy[int](capacity)
    resident: set[int] = set()
    for key in zipf_trace(2000, 20, 1.0, seed=capacity):
        if key in resident:
            continue
        _, victims = policy.add(key, hash(key))
        resident.add(key)
        resident -= {victim for victim, _ in victims}
        assert len(resident) == len(policy) <= capacity


def test_every_insert_into_a_full_cache_evicts_exactly_one() -> None:
    policy = EvictionPolicy[int](50)
    for key in range(50):
        policy.add(key, hash(key))
    for key in range(50, 1050):
        _, victims = policy.add(key, hash(key))
        assert len(victims) == 1
        assert policy.weight == 50


def test_a_read_key_survives_unread_ones() -> None:
    policy = EvictionPolicy[int](100)
    read, _ = policy.add(-1, hash(-1))
    for key in range(10_000):
        policy.counts[read] += 1  # -1 is read between every insert
        _, victims = policy.add(key, hash(key))
        assert -1 not in {victim for victim, _ in victims}


def test_a_loop_larger_than_the_cache_still_hits() -> None:
    capacity = 500
    trace = [i % 600 for i in range(60_000)]
    assert lru_hit_ratio(trace, capacity) == 0.0
    # Belady's optimum is about 0.83; W-TinyLFU keeps a fixed part of the loop.
    assert drive(EvictionPolicy(capacity), trace) > 0.7


def test_one_time_scans_do_not_flush_popular_keys() -> None:
    capacity = 500
    trace: list[int] = []
    fresh = 1_000_000
    for block in range(20):
        trace += zipf_trace(3000, 5000, 0.9, seed=block)
        trace += range(fresh, fresh + 2 * capacity)  # every key once, never again
        fresh += 2 * capacity
    ours = drive(EvictionPolicy(capacity), trace)
    assert ours > lru_hit_ratio(trace, capacity) + 0.05


def test_frequency_beats_recency_on_skewed_traffic() -> None:
    trace = zipf_trace(100_000, 20_000, 0.8, seed=3)
    assert drive(EvictionPolicy(200), trace) > lru_hit_ratio(trace, 200) + 0.03


def test_the_window_grows_under_recency_and_shrinks_under_frequency() -> None:
    capacity = 1000
    policy = EvictionPolicy[int](capacity)
    initial = policy._window_max
    # Recency: every key is requested again shortly after, then never.
    trace = [key for base in range(0, 400_000, 50) for key in (*range(base, base + 50),) * 2]
    resident: dict[int, Token] = {}
    drive(policy, trace, resident)
    grown = policy._window_max
    assert grown > 5 * initial
    # Then a loop: only frequency helps, the window shrinks again.
    drive(policy, [10**7 + i % 1200 for i in range(400_000)], resident)
    assert policy._window_max < grown


def test_the_sketch_ages() -> None:
    policy = EvictionPolicy[int](100)
    for _ in range(MAX_FREQUENCY + 5):  # missed again and again: saturates
        token, _ = policy.add(7, hash(7))
        policy.remove(token)
    assert policy.frequency(hash(7)) == MAX_FREQUENCY
    for key in range(10, 20_000):  # a reset every 7,500 requests (the floor) at least
        policy.add(key, hash(key))
    assert policy.frequency(hash(7)) < MAX_FREQUENCY // 2


@pytest.mark.parametrize(
    "hashes",
    [
        pytest.param(lambda key: 0, id="all-equal"),
        pytest.param(lambda key: -1 - key, id="negative"),
        pytest.param(lambda key: key << 40, id="high-bits-only"),
        pytest.param(lambda key: (1 << 63) - 1 - key, id="huge"),
        pytest.param(lambda key: key * 1024, id="strided"),
    ],
)
def test_adversarial_hashes_keep_the_bounds(hashes: object) -> None:
    policy = EvictionPolicy[int](64)
    resident: set[int] = set()
    rng = random.Random(5)
    for _ in range(5000):
        key = rng.randrange(300)
        if key in resident:
            continue
        _, victims = policy.add(key, hashes(key))  # type: ignore[operator]
        resident.add(key)
        resident -= {victim for victim, _ in victims}
        assert len(resident) == len(policy) <= 64


def test_keys_are_never_hashed_or_compared() -> None:
    policy = EvictionPolicy[Unhashable](8)
    tokens = {}
    for i in range(100):
        key = Unhashable(str(i))
        token, victims = policy.add(key, i)
        tokens[key.name] = token
        for victim, _ in victims:
            del tokens[victim.name]
    name, token = next(iter(tokens.items()))
    policy.remove(token)
    assert name not in {key.name for key, _ in policy.entries()}


# -- removal, clear ---------------------------------------------------------------


def test_remove_rejects_tokens_that_are_not_resident() -> None:
    policy = EvictionPolicy[str](10, shard=1, shards=2)
    token, _ = policy.add("a", hash("a"))
    assert token & 1 == 1
    with pytest.raises(KeyError):
        policy.remove(token - 1)  # another shard's
    with pytest.raises(KeyError):
        policy.remove(token + 1000)  # never handed out
    policy.remove(token)
    with pytest.raises(KeyError):
        policy.remove(token)  # twice
    with pytest.raises(KeyError):
        policy.reweigh(token, 3)
    assert len(policy) == 0 == policy.weight


def test_removal_churn_without_evictions_keeps_slots_bounded() -> None:
    """Deletes while the cache is not full (nothing pops the queues): dead slots are purged."""
    policy = EvictionPolicy[int](100_000)
    live: list[Token] = []
    for key in range(200_000):
        token, victims = policy.add(key, hash(key))
        assert not victims
        live.append(token)
        if len(live) > 100:
            policy.remove(live.pop(0))
    assert len(policy) == 100
    assert len(policy._keys) < 2_000
    assert policy._dead < 1_000


def test_clear_forgets_entries_but_keeps_history() -> None:
    policy = EvictionPolicy[int](10)
    for _ in range(3):
        for key in range(10):
            token, _ = policy.add(key, hash(key))
            policy.remove(token)
    frequency = policy.frequency(hash(3))
    for key in range(10):
        policy.add(key, hash(key))
    garbage = policy.clear()
    assert garbage is not None
    assert len(policy) == 0 == policy.weight
    assert policy.entries() == []
    assert policy.frequency(hash(3)) >= frequency
    token, victims = policy.add(99, hash(99))
    assert not victims
    assert policy.entries() == [(99, token)]


# -- weights ------------------------------------------------------------------------


def test_an_entry_heavier_than_the_capacity_is_never_admitted() -> None:
    policy = EvictionPolicy[str](100, weighted=True)
    policy.add("small", hash("small"), 60)
    token, victims = policy.add("huge", hash("huge"), 101)
    assert list(victims) == [("huge", token)]
    assert [key for key, _ in policy.entries()] == ["small"]
    assert policy.weight == 60


def test_weight_bounds_the_total_and_zero_weights_are_never_evicted() -> None:
    policy = EvictionPolicy[int](1000, weighted=True)
    rng = random.Random(1)
    resident: dict[int, int] = {}
    for key in range(5000):
        weight = 0 if key % 10 == 0 else rng.randrange(1, 200)
        _, victims = policy.add(key, hash(key), weight)
        resident[key] = weight
        for victim, _ in victims:
            assert resident.pop(victim) > 0, "a zero-weight entry was evicted"
        assert policy.weight == sum(resident.values()) <= 1000
    assert sum(1 for weight in resident.values() if weight == 0) == 500


def test_reweigh_evicts_others_or_the_entry_itself() -> None:
    policy = EvictionPolicy[str](10, weighted=True)
    tokens = {key: policy.add(key, hash(key), 2)[0] for key in "abcde"}
    assert policy.weight == 10
    victims = policy.reweigh(tokens["a"], 6)
    assert policy.weight <= 10
    resident = dict(policy.entries())
    assert set(resident) | {key for key, _ in victims} == set("abcde")
    heavy = next(iter(resident))
    victims = policy.reweigh(tokens[heavy], 11)
    assert (heavy, tokens[heavy]) in victims
    assert heavy not in dict(policy.entries())
    # A weightless entry costs nothing; once heavy it joins the queues again.
    before = policy.weight
    token, victims = policy.add("z", hash("z"), 0)
    assert not victims
    assert policy.weight == before
    policy.reweigh(token, 3)
    assert policy.weight <= 10
    unweighted = EvictionPolicy[str](5)
    assert unweighted.reweigh(unweighted.add("x", 1)[0], 9) == ()
    assert unweighted.weight == 1


# -- bounded work, shards, threads ----------------------------------------------------


class CountingDeque(deque[int]):
    """A deque that counts the elements popped from it."""

    pops = 0

    def popleft(self) -> int:
        CountingDeque.pops += 1
        return super().popleft()


def test_no_call_does_unbounded_work_when_every_entry_was_read() -> None:
    capacity = 50_000
    policy = EvictionPolicy[int](capacity)
    tokens = [policy.add(key, hash(key))[0] for key in range(capacity)]
    for name in ("_window", "_probation", "_protected"):
        setattr(policy, name, CountingDeque(getattr(policy, name)))
    for token in tokens:
        policy.counts[token] += 1  # every resident was read: every head deserves a chance
    policy._window_max = capacity // 2  # as if the climber had moved everything at once
    policy._protected_max = 0
    worst = 0
    for key in range(capacity, capacity + 3000):
        CountingDeque.pops = 0
        _, victims = policy.add(key, hash(key))
        worst = max(worst, CountingDeque.pops)
        assert len(victims) == 1
    # A few hundred queue steps at most (~0.1 ms), never a pass over 50,000.
    assert worst <= 500
    assert len(policy) == capacity


def test_shards_interleave_their_tokens_in_one_counts_list() -> None:
    counts: list[int] = []
    shards = [EvictionPolicy[int](50, counts, shard=i, shards=4) for i in range(4)]
    owner: dict[Token, int] = {}
    for key in range(1000):
        index = hash(key) & 3
        token, victims = shards[index].add(key, hash(key))
        assert token & 3 == index
        owner[token] = index
        for _, victim_token in victims:
            assert victim_token & 3 == index
        counts[token] += 1
    assert all(policy.counts is counts for policy in shards)
    assert len(counts) > max(owner)
    assert sum(len(policy) for policy in shards) == 200


def test_racing_readers_only_blur_frequencies() -> None:
    """Readers add to ``counts`` with no lock while a writer inserts, evicts and removes."""
    policy = EvictionPolicy[int](500)
    lock = threading.Lock()
    resident: dict[int, Token] = {}
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        counts = policy.counts
        try:
            while not stop.is_set():
                snapshot = list(resident.values())
                for token in rng.sample(snapshot, min(50, len(snapshot))):
                    counts[token] += 1  # may land on a slot's next occupant: fine
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    try:
        rng = random.Random(0)
        for key in range(30_000):
            with lock:
                if resident and rng.random() < 0.1:
                    victim = rng.choice(list(resident))
                    policy.remove(resident.pop(victim))
                    continue
                if key in resident:
                    continue
                token, victims = policy.add(key, hash(key))
                resident[key] = token
                for victim, _ in victims:
                    del resident[victim]
                assert len(resident) == len(policy) <= 500
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors


# -- the model ---------------------------------------------------------------------


class PolicyMachine(RuleBasedStateMachine):
    """Random operations on a policy and on the set of keys it should hold."""

    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.policy: EvictionPolicy[int] = EvictionPolicy(1)
        self.capacity = 1
        self.weighted = False
        #: key -> (token, weight) for every key the policy should hold.
        self.resident: dict[int, tuple[Token, int]] = {}
        self.added: set[int] = set()
        self.gone: set[int] = set()
        self.next_key = 0

    @initialize(
        capacity=st.integers(0, 40),
        weighted=st.booleans(),
        shard=st.integers(0, 3),
    )
    def setup(self, capacity: int, weighted: bool, shard: int) -> None:
        self.capacity = capacity
        self.weighted = weighted
        self.policy = EvictionPolicy(capacity, [], shard=shard, shards=4, weighted=weighted)

    def _apply_victims(self, victims: object) -> None:
        seen = set()
        for key, token in victims:  # type: ignore[attr-defined]
            assert key not in seen, "a key was evicted twice in one call"
            seen.add(key)
            assert self.resident.pop(key)[0] == token
            self.gone.add(key)

    @rule(
        target=keys,
        weight=st.integers(0, 50),
        hash_=st.one_of(
            st.integers(-(2**63), 2**63),
            st.sampled_from([0, 1, -1, 2**61 - 1]),
        ),
    )
    def add(self, weight: int, hash_: int) -> int:
        key = self.next_key
        self.next_key += 1
        weight = weight if self.weighted else 1
        token, victims = self.policy.add(key, hash_, weight)
        self.added.add(key)
        self.resident[key] = (token, weight)
        self._apply_victims(victims)
        if weight > self.capacity:
            assert key not in self.resident
        return key

    @rule(key=consumes(keys))
    def remove(self, key: int) -> None:
        if key not in self.resident:
            return
        token, _ = self.resident.pop(key)
        self.policy.remove(token)
        self.gone.add(key)

    @rule(key=keys, weight=st.integers(0, 60))
    def reweigh(self, key: int, weight: int) -> None:
        if key not in self.resident:
            return
        token, _ = self.resident[key]
        victims = self.policy.reweigh(token, weight)
        if self.weighted:
            self.resident[key] = (token, weight)
        self._apply_victims(victims)
        if self.weighted and weight > self.capacity:
            assert key not in self.resident

    @rule(key=keys, reads=st.integers(1, 20))
    def read(self, key: int, reads: int) -> None:
        if key in self.resident:
            self.policy.counts[self.resident[key][0]] += reads

    @precondition(lambda self: self.resident)
    @rule()
    def clear(self) -> None:
        self.policy.clear()
        self.gone.update(self.resident)
        self.resident.clear()

    @invariant()
    def weight_is_bounded_and_exact(self) -> None:
        assert self.policy.weight == sum(weight for _, weight in self.resident.values())
        assert self.policy.weight <= self.capacity

    @invariant()
    def residents_are_tracked_once_under_their_tokens(self) -> None:
        entries = self.policy.entries()
        assert len(entries) == len(self.policy) == len(self.resident)
        assert dict(entries) == {key: token for key, (token, _) in self.resident.items()}
        counts = self.policy.counts
        for _, token in entries:
            assert token & 3 == self.policy._shard
            assert token < len(counts)
            assert self.policy._segment[token >> 2] < DEAD

    @invariant()
    def every_key_is_accounted_for(self) -> None:
        assert self.added == set(self.resident) | self.gone
        assert not set(self.resident) & self.gone


MODEL_SETTINGS: Final = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_policy_model() -> None:
    run_state_machine_as_test(PolicyMachine, settings=MODEL_SETTINGS)
