"""Hit-ratio contenders: each replays a trace (get, and set on a miss) and counts hits.

Every contender is driven through its public API the way an application
drives a cache: look the key up, and store it when it is missing. The only
exceptions are the references: an exact LRU (``OrderedDict``), and Belady's
offline optimum, which sees the future and gives the upper limit.

Until ``sweepcache.Cache`` takes ``maxsize``, the sweepcache contender drives
the eviction policy itself through :func:`replay_policy`, a small simulator
that uses the policy exactly as the shards will: one policy per shard sharing
one read-count list, ``counts[token] += 1`` on a hit, ``add`` on a miss and
the returned victims deleted. It is labelled "(simulated)" in every table.
"""

from __future__ import annotations

import dataclasses
import heapq
import inspect
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import sweepcache
from sweepcache._eviction import EvictionPolicy

from ._harness import optional_import

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_MISSING = object()


def sweepcache_supports_maxsize() -> bool:
    """Whether ``sweepcache.Cache`` takes ``maxsize`` (the integrated policy)."""
    return "maxsize" in inspect.signature(sweepcache.Cache).parameters


@dataclasses.dataclass(frozen=True)
class HitContender:
    """A cache under test for hit ratio: a replay function, or why it is unavailable."""

    name: str
    role: str  # "sweepcache", "peer" or "reference"
    replay: Callable[[Sequence[int], int], int] | None
    missing: str | None = None
    #: Whether replays of one trace can differ (a randomized policy): such a
    #: contender is replayed several times and its median reported.
    randomized: bool = False


# -- sweepcache -------------------------------------------------------------------


def shard_capacities(capacity: int, shards: int) -> list[int]:
    """``capacity`` split over ``shards`` as evenly as integers allow."""
    base, extra = divmod(capacity, shards)
    return [base + (1 if index < extra else 0) for index in range(shards)]


def replay_policy(trace: Sequence[int], capacity: int, shards: int = 1) -> int:
    """Replay ``trace`` through per-shard eviction policies, as the bounded cache will."""
    counts: list[int] = []
    policies = [
        EvictionPolicy[int](share, counts, shard=index, shards=shards)
        for index, share in enumerate(shard_capacities(capacity, shards))
    ]
    adds = [policy.add for policy in policies]
    mask = shards - 1
    resident: dict[int, int] = {}
    lookup = resident.get
    hits = 0
    for key in trace:
        token = lookup(key)
        if token is not None:
            hits += 1
            counts[token] += 1
            continue
        hash_ = hash(key)
        token, victims = adds[hash_ & mask](key, hash_)
        resident[key] = token
        for victim, _ in victims:
            del resident[victim]
    return hits


def _replay_cache(trace: Sequence[int], capacity: int) -> int:
    cache: Any = sweepcache.Cache(maxsize=capacity, default_ttl=None)
    get = cache.get_nowait
    set_ = cache.set_nowait
    hits = 0
    for key in trace:
        if get(key, _MISSING) is _MISSING:
            set_(key, key)
        else:
            hits += 1
    return hits


def sweepcache_contender() -> HitContender:
    """The real ``Cache(maxsize=...)`` once it exists, else the policy simulator."""
    if sweepcache_supports_maxsize():
        return HitContender("sweepcache Cache(maxsize)", "sweepcache", _replay_cache)
    return HitContender("sweepcache policy (simulated)", "sweepcache", replay_policy)


# -- peers --------------------------------------------------------------------------


def _replay_theine(trace: Sequence[int], capacity: int) -> int:
    theine = optional_import("theine")
    cache = theine.Cache(capacity)
    get = cache.get
    set_ = cache.set
    hits = 0
    for key in trace:
        if get(key)[1]:
            hits += 1
        else:
            set_(key, key)
    cache.close()
    return hits


def _mapping_replay(build: Callable[[int], Any]) -> Callable[[Sequence[int], int], int]:
    """Replay through a ``MutableMapping`` cache (``get`` and item assignment)."""

    def replay(trace: Sequence[int], capacity: int) -> int:
        cache = build(capacity)
        get = cache.get
        store = cache.__setitem__
        hits = 0
        for key in trace:
            if get(key, _MISSING) is _MISSING:
                store(key, key)
            else:
                hits += 1
        return hits

    return replay


def _cachetools(kind: str) -> Callable[[int], Any]:
    return lambda capacity: getattr(optional_import("cachetools"), kind)(maxsize=capacity)


def _cachebox(kind: str) -> Callable[[int], Any]:
    return lambda capacity: getattr(optional_import("cachebox"), kind)(capacity)


def _peer(
    name: str,
    module: str,
    replay: Callable[[Sequence[int], int], int],
    *,
    randomized: bool = False,
) -> HitContender:
    if optional_import(module) is None:
        return HitContender(name, "peer", None, "not installed")
    return HitContender(name, "peer", replay, randomized=randomized)


# -- references ---------------------------------------------------------------------


def replay_lru(trace: Sequence[int], capacity: int) -> int:
    """An exact LRU (``OrderedDict``): the floor every policy must reach."""
    cache: OrderedDict[int, None] = OrderedDict()
    move = cache.move_to_end
    evict = cache.popitem
    hits = 0
    for key in trace:
        if key in cache:
            hits += 1
            move(key)
        else:
            cache[key] = None
            if len(cache) > capacity:
                evict(last=False)
    return hits


def replay_belady(trace: Sequence[int], capacity: int) -> int:
    """Belady's MIN: on a miss, evict the key whose next request is farthest away."""
    if capacity <= 0:
        return 0
    never = len(trace) + 1
    next_use = [never] * len(trace)
    last_seen: dict[int, int] = {}
    for position in range(len(trace) - 1, -1, -1):
        key = trace[position]
        next_use[position] = last_seen.get(key, never)
        last_seen[key] = position
    resident: dict[int, int] = {}  # key -> its next request
    heap: list[tuple[int, int]] = []  # (-next request, key), stale pairs skipped
    hits = 0
    for position, key in enumerate(trace):
        upcoming = next_use[position]
        if key in resident:
            hits += 1
        elif len(resident) >= capacity:
            while True:
                farthest, victim = heapq.heappop(heap)
                if resident.get(victim) == -farthest:
                    del resident[victim]
                    break
        resident[key] = upcoming
        heapq.heappush(heap, (-upcoming, key))
        if len(heap) > 4 * capacity + 64:
            heap = [(-use, resident_key) for resident_key, use in resident.items()]
            heapq.heapify(heap)
    return hits


def contenders() -> list[HitContender]:
    """Every hit-ratio contender, in table order (sweepcache first, references last)."""
    return [
        sweepcache_contender(),
        # theine's admission is randomized (its replays of one trace differ).
        _peer("theine (W-TinyLFU)", "theine", _replay_theine, randomized=True),
        _peer("cachetools LRU", "cachetools", _mapping_replay(_cachetools("LRUCache"))),
        _peer("cachetools LFU", "cachetools", _mapping_replay(_cachetools("LFUCache"))),
        _peer("cachebox LRU", "cachebox", _mapping_replay(_cachebox("LRUCache"))),
        _peer("cachebox LFU", "cachebox", _mapping_replay(_cachebox("LFUCache"))),
        HitContender("exact LRU (OrderedDict)", "reference", replay_lru),
        HitContender("Belady MIN (offline optimum)", "reference", replay_belady),
    ]


# -- throughput ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OpsContender:
    """A cache for the throughput run: ``build(capacity)`` returns ``request(key)``."""

    name: str
    role: str
    build: Callable[[int], Callable[[int], None]] | None
    missing: str | None = None


def _request(get: Callable[..., Any], store: Callable[[int, int], Any]) -> Callable[[int], None]:
    def request(key: int) -> None:
        if get(key, _MISSING) is _MISSING:
            store(key, key)

    return request


def _ops_policy(capacity: int) -> Callable[[int], None]:
    counts: list[int] = []
    policy = EvictionPolicy[int](capacity, counts)
    add = policy.add
    data: dict[int, tuple[int, float, int]] = {}
    lookup = data.get

    def request(key: int) -> None:
        entry = lookup(key)
        if entry is not None:
            counts[entry[2]] += 1
            return
        token, victims = add(key, hash(key))
        data[key] = (key, 0.0, token)
        for victim, _ in victims:
            del data[victim]

    return request


def _ops_cache(capacity: int, *, bounded: bool = True) -> Callable[[int], None]:
    options: dict[str, Any] = {"default_ttl": None}
    if bounded:
        options["maxsize"] = capacity
    cache: Any = sweepcache.Cache(**options)
    return _request(cache.get_nowait, cache.set_nowait)


def _ops_theine(capacity: int) -> Callable[[int], None]:
    cache = optional_import("theine").Cache(capacity)
    get = cache.get
    set_ = cache.set

    def request(key: int) -> None:
        if not get(key)[1]:
            set_(key, key)

    return request


def _ops_lru(capacity: int) -> Callable[[int], None]:
    cache: OrderedDict[int, int] = OrderedDict()
    move = cache.move_to_end
    evict = cache.popitem

    def request(key: int) -> None:
        if key in cache:
            move(key)
            return
        cache[key] = key
        if len(cache) > capacity:
            evict(last=False)

    return request


def _ops_mapping(build: Callable[[int], Any]) -> Callable[[int], Callable[[int], None]]:
    def make(capacity: int) -> Callable[[int], None]:
        cache = build(capacity)
        return _request(cache.get, cache.__setitem__)

    return make


def _ops_peer(
    name: str, module: str, build: Callable[[int], Callable[[int], None]]
) -> OpsContender:
    if optional_import(module) is None:
        return OpsContender(name, "peer", None, "not installed")
    return OpsContender(name, "peer", build)


def ops_contenders() -> list[OpsContender]:
    """Throughput contenders: get, and set on a miss, all synchronous."""
    if sweepcache_supports_maxsize():
        mine = [
            OpsContender("sweepcache Cache(maxsize)", "sweepcache", _ops_cache),
            OpsContender(
                "sweepcache Cache, unbounded (no eviction)",
                "reference",
                lambda capacity: _ops_cache(capacity, bounded=False),
            ),
        ]
    else:
        mine = [
            OpsContender("sweepcache policy + dict (simulated)", "sweepcache", _ops_policy),
            OpsContender(
                "sweepcache Cache, unbounded (no eviction)",
                "reference",
                lambda capacity: _ops_cache(capacity, bounded=False),
            ),
        ]
    return [
        *mine,
        _ops_peer("theine (W-TinyLFU)", "theine", _ops_theine),
        _ops_peer("cachetools LRU", "cachetools", _ops_mapping(_cachetools("LRUCache"))),
        _ops_peer("cachetools LFU", "cachetools", _ops_mapping(_cachetools("LFUCache"))),
        _ops_peer("cachebox LRU", "cachebox", _ops_mapping(_cachebox("LRUCache"))),
        _ops_peer("cachebox LFU", "cachebox", _ops_mapping(_cachebox("LFUCache"))),
        OpsContender("exact LRU (OrderedDict)", "reference", _ops_lru),
    ]
