"""The size-eviction policy of a bounded cache: W-TinyLFU with CLOCK queues.

A pure data structure, one instance per shard, like the expiry index: no
locks, no clock, no awaits. Every method is called with the shard's lock
held, except the read-path record, which is not a method at all.

How a cache uses it
===================

::

    counts: list[int] = []                 # one per cache, shared by all shards
    policy = EvictionPolicy(capacity_of_shard, counts, shard=i, shards=n,
                            weighted=weigher is not None)

    # read hit, no lock (entry = (value, expires_at, token)):
    counts[entry[2]] += 1

    # insert of a new key, under the shard's lock:
    token, victims = policy.add(key, hash_, weight)
    # store (value, expires_at, token) unless key itself is among the victims
    # (it alone outweighs the capacity); pop every other victim's entry from
    # the dict, and free them all after releasing the lock.

    # overwrite: keep the old token; with a weigher, victims = policy.reweigh(token, w)
    # delete, expiry, pop:  policy.remove(entry[2])
    # clear:                garbage = policy.clear(); drop it after unlocking

What it is, and where each part comes from
==========================================

W-TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache
Admission Policy", ACM ToS 2017), with Caffeine's structure and constants
(theine's Rust core follows Caffeine too):

* a small **window** that every new key enters (1% of the capacity to start),
  so a burst of new keys can build up frequency before it competes;
* a **main** region split like an SLRU into *probation* and *protected*
  (80% of main), so keys read again while on probation are kept longer;
* **TinyLFU admission**: a key leaving the window (the *candidate*) replaces
  main's next victim only if it was requested more often, and more than once
  (a key seen once never displaces a resident: +0.1-0.3 points at the
  largest sizes of the suite). One-time scans and loops larger than the
  cache cannot push out what is popular: on a loop over 1.2x the cache, LRU
  and SIEVE hit nothing, this policy about 81% (Belady's optimum: 83%,
  theine 76-80%);
* a **count-min sketch** of miss frequencies: byte counters capped at 15 (as
  Caffeine caps its 4-bit counters), two rows of ``4 x capacity`` counters
  (8 B per entry), conservative update, halved every ``10 x capacity``
  requests, at least 7,500 (the paper's *reset*, a C-level
  ``bytes.translate``: 0.3 ms per MB). Two rows indexed from one 64-bit
  multiply matched four rows within noise on every workload and cost 60 ns
  less per insert;
* **hill climbing** of the window size (Caffeine's climber: every ``10 x
  capacity`` requests, at least 2,000, step 6.25% of the capacity in the
  direction that raised the hit ratio, the step decaying by 0.98 and
  restarting after a change of 5 points). A recency-heavy phase grows the
  window towards LRU, a frequency-heavy one shrinks it (Caffeine's
  adaptivity test). The 2,000-request floor matters for small shards: the
  hit ratio of a sample of ``n`` requests is only known to ``0.5 / sqrt(n)``.

What differs, because this runs in CPython under a read path whose hit costs
about 150 ns in all:

* **No list moves on a read.** A read does one thing, ``counts[token] += 1``
  on a plain list shared by all shards: 20-40 ns, where an
  ``OrderedDict.move_to_end`` costs 1.33-1.42x a whole hit and a count-min
  update 2.3-4.1x (measured). Reads may race (threads, free-threaded
  builds): an increment may be lost, or land on a slot's next occupant;
  that only blurs a frequency. ``counts`` only ever grows, so a stale token
  never indexes out of range.
* **CLOCK instead of LRU lists.** The window, probation and protected queues
  are ``collections.deque`` objects of tokens; an entry read since the
  policy last looked at it gets a second chance when it reaches the head
  (window and protected are CLOCKs; a read probation head is promoted), as
  CLOCK approximates LRU (Corbato 1968; the trade S3-FIFO and SIEVE make). A
  single CLOCK ring over a slot array, without deques, cost 1-3 points of
  hit ratio, because admitted keys land at random positions in it.
* **The sketch counts misses; reads are counted per entry.** A miss
  increments the sketch and seeds the entry's own frequency byte; the
  entry's read count is folded into that byte when a queue pops it. Duels
  compare per-entry frequencies, so a read never touches the sketch.
  (Writing an evicted entry's frequency back into the sketch changed hit
  ratios by under 0.2 points, so it is not done.)
* **The climber's hit count is tallied, not recorded.** Read counts are
  summed 64 slots at a time every 32 inserts (C-level ``sum`` over a list
  slice), so the climber sees every hit, a fraction of a capacity late.
* **Bounded work per call.** Second chances, demotions and purges stop
  after 64 steps; a shrinking window drains by one entry per insert.

Costs (``bench/bench_eviction.py``, CPython 3.11, this project's 2-core
machine, noisy): a read record ~30 ns; an insert into a full cache ~1 us,
about twice the whole unbounded ``set_nowait``; the sketch is a third of it.
Memory: ~70 B per entry (tracemalloc): the token int (28 B; the entry and a
queue share it), a queue slot, a ``counts`` slot and a ``keys`` slot (8 B
each), frequency and segment bytes, and the sketch (8 B); a weigher adds
8 B for the weight.

Slots, tokens and removal
=========================

Each resident key owns a *slot*; its token is ``slot << shift | shard``, so
the shards' tokens interleave in the one ``counts`` list and a reader needs
no shard. Slots come 64 at a time. A removed key is marked dead and its slot
is recycled when its queue pops it (a deque has no O(1) removal); if dead
slots pile up (mass expiry while the cache is not full, so nothing pops), a
bounded purge step on each insert drops them. Victims are returned, never
dropped here: the caller deletes them from its dict and frees them after
releasing the lock, and keeps a reference to a removed key until then.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence

K = TypeVar("K")

#: What :meth:`EvictionPolicy.add` hands out and the read path records with.
Token = int

#: Segment of a slot.
WINDOW: Final = 0
PROBATION: Final = 1
PROTECTED: Final = 2
WEIGHTLESS: Final = 3  # weight 0: resident, in no queue, never a victim
DEAD: Final = 4  # removed, still queued; recycled when its queue pops it
FREE: Final = 5  # on the free list

#: Counters saturate here (Caffeine's 4-bit counters).
MAX_FREQUENCY: Final = 15
#: ``bytes.translate`` table halving every counter: aging a 1 MB sketch
#: takes 0.3 ms in C (timeit), so it is done in one go up to several
#: million entries per shard.
_HALVE: Final = bytes(i >> 1 for i in range(256))
#: Sketch rows; each row has at least ``2 * capacity`` counters.
_ROWS: Final = 2
_SKETCH_PER_ENTRY: Final = 8
#: The sketch starts sized for this many entries and doubles as they come.
_INITIAL_SKETCH: Final = 1024
#: Floors for small shards: at least 1,024 entries' worth of counters (8 KB)
#: and 7,500 requests between resets. With ``10 x capacity`` alone, a
#: 50-entry cache forgets every 500 requests, before a Zipf head is told
#: from its tail; the floors gave +1 to +3 points at 50 entries on Zipf and
#: scan traces (three seeds each) and kept the adaptivity trace within 1.
_SKETCH_MIN_ENTRIES: Final = 1024
_SAMPLE_MIN: Final = 7500
#: Multiply-shift hashing of the 64-bit hash (Fibonacci's constant): the top
#: bits index the first row, the bits ``_ROW_GAP`` lower the second. One
#: multiply for both rows: each big-int operation costs ~25-50 ns here.
_GOLDEN: Final = 0x9E3779B97F4A7C15
_LOW64: Final = (1 << 64) - 1
_ROW_GAP: Final = 24
#: Caffeine's constants: main share, protected share of main, climber.
_MAIN_SHARE: Final = 0.99
_PROTECTED_SHARE: Final = 0.8
_SAMPLE_FACTOR: Final = 10
_PERIOD_FACTOR: Final = 10
#: At least this many requests per climber sample: the hit ratio of a
#: sample of n requests is known to about 0.5 / sqrt(n): 1.1 points here.
_PERIOD_MIN: Final = 2000
#: A candidate seen only once is never admitted over a resident.
_ADMIT_MIN: Final = 1
_STEP_SHARE: Final = 0.0625
_STEP_DECAY: Final = 0.98
_RESTART_THRESHOLD: Final = 0.05
#: Read counts are tallied in chunks of this many slots, one chunk every
#: ``_TALLY_EVERY`` inserts.
_CHUNK_BITS: Final = 6
_CHUNK_MASK: Final = (1 << _CHUNK_BITS) - 1
_TALLY_EVERY: Final = 32
#: Entries a purge step looks at, and the visits one eviction may make
#: before it stops giving second chances (so readers that keep hitting
#: every entry cannot keep a writer looping).
_PURGE_STEP: Final = 64
_SECOND_CHANCES: Final = 64
_DEMOTIONS: Final = 64

_NO_VICTIMS: Final[Sequence[tuple[object, int]]] = ()


class EvictionPolicy(Generic[K]):
    """W-TinyLFU eviction for one shard; see the module docstring.

    Args:
        capacity: The budget, in entries, or in weight units when
            ``weighted``.
        counts: The read-count list shared by every shard of one cache;
            a new one when omitted.
        shard: This shard's index.
        shards: How many shards share ``counts`` (a power of two).
        weighted: Entries have weights (``add``'s ``weight``); otherwise
            every entry weighs 1.

    Raises:
        ValueError: A bad ``capacity``, ``shard`` or ``shards``.

    The read path records an access to a resident entry with token ``t``
    as ``counts[t] += 1`` (no lock; lost updates are harmless).

    Example::

        policy = EvictionPolicy[str](2)
        first, _ = policy.add("a", hash("a"))
        policy.counts[first] += 1  # "a" was read
        policy.add("b", hash("b"))
        token, victims = policy.add("c", hash("c"))
        assert [key for key, _ in victims] == ["b"]
    """

    __slots__ = (
        "_dead",
        "_free",
        "_freq",
        "_hits",
        "_keys",
        "_mask",
        "_misses",
        "_period",
        "_previous_hit_rate",
        "_probation",
        "_protected",
        "_protected_max",
        "_protected_weight",
        "_purge_cursor",
        "_requests_since_reset",
        "_sample",
        "_segment",
        "_shard",
        "_shift",
        "_sketch",
        "_sketch_entries",
        "_step",
        "_tally",
        "_tally_cursor",
        "_top_shift",
        "_weights",
        "_window",
        "_window_max",
        "_window_weight",
        "capacity",
        "counts",
        "weight",
        "weighted",
    )

    def __init__(
        self,
        capacity: int,
        counts: list[int] | None = None,
        *,
        shard: int = 0,
        shards: int = 1,
        weighted: bool = False,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"capacity must be an int >= 0, got {capacity!r}")
        if shards < 1 or shards & (shards - 1):
            raise ValueError(f"shards must be a power of two, got {shards!r}")
        if not 0 <= shard < shards:
            raise ValueError(f"shard must be in [0, {shards}), got {shard!r}")
        #: The budget: entries, or weight units when weighted.
        self.capacity = capacity
        #: Total weight of the resident entries (their number when unweighted).
        self.weight = 0
        #: Whether entries have weights (else every entry weighs 1).
        self.weighted = weighted
        #: Read counts, indexed by token; the read path adds 1 on a hit.
        self.counts: list[int] = [] if counts is None else counts
        self._shard = shard
        self._shift = shards.bit_length() - 1
        self._keys: list[K | None] = []
        self._freq = bytearray()
        self._segment = bytearray()
        self._weights: list[int] | None = [] if weighted else None
        self._free: list[int] = []
        self._dead = 0
        self._purge_cursor = 0
        self._window: deque[int] = deque()
        self._probation: deque[int] = deque()
        self._protected: deque[int] = deque()
        self._window_weight = 0
        self._protected_weight = 0
        self._window_max = capacity - int(_MAIN_SHARE * capacity)
        self._protected_max = int(_PROTECTED_SHARE * (capacity - self._window_max))
        self._tally: list[int] = []
        self._tally_cursor = 0
        self._hits = 0
        self._misses = 0
        self._previous_hit_rate = 0.0
        self._step = -_STEP_SHARE * capacity
        self._requests_since_reset = 0
        self._sketch_entries = 0
        self._sketch = bytearray()
        self._mask = 0
        self._top_shift = 0
        self._sample = 0
        self._period = 0
        self._size_sketch(min(capacity, _INITIAL_SKETCH))

    # -- the sketch ---------------------------------------------------------

    def _size_sketch(self, entries: int) -> None:
        """(Re)allocate the sketch for ``entries`` resident entries; counts restart.

        The sketch grows with the entries (up to the capacity, or without
        bound when weighted), as Caffeine's does, so a huge ``capacity``
        costs nothing until entries arrive.
        """
        entries = max(entries, 1)
        width = 16
        # The floors are for the whole cache: a shard sees 1/shards of the
        # requests (and keys), so it gets that share of each floor.
        shards = 1 << self._shift
        while width * _ROWS < _SKETCH_PER_ENTRY * max(entries, _SKETCH_MIN_ENTRIES // shards):
            width <<= 1
        self._sketch_entries = entries
        self._sketch = bytearray(width * _ROWS)
        self._mask = width - 1
        self._top_shift = 64 - (width.bit_length() - 1)
        self._sample = max(_SAMPLE_FACTOR * entries, _SAMPLE_MIN // shards)
        self._period = max(_PERIOD_FACTOR * entries, _PERIOD_MIN // shards)

    def frequency(self, hash_: int) -> int:
        """The sketch's estimate of how often a key with this hash was missed."""
        sketch = self._sketch
        mixed = hash_ * _GOLDEN & _LOW64
        top_shift = self._top_shift
        second = (mixed >> (top_shift - _ROW_GAP)) & self._mask | (self._mask + 1)
        return min(sketch[mixed >> top_shift], sketch[second])

    def _age(self) -> None:
        """Halve every counter (TinyLFU's reset), in C."""
        self._sketch = self._sketch.translate(_HALVE)
        self._freq = self._freq.translate(_HALVE)
        self._requests_since_reset //= 2

    # -- public operations --------------------------------------------------

    def add(self, key: K, hash_: int, weight: int = 1) -> tuple[Token, Sequence[tuple[K, Token]]]:
        """Register a new resident key; return its token and the victims.

        Args:
            key: The key, not resident in this policy.
            hash_: ``hash(key)``.
            weight: Its weight (>= 0); ignored unless the policy is weighted.

        Returns:
            ``(token, victims)``: the token to store in the entry, and the
            ``(key, token)`` pairs evicted to make room, in eviction order.
            ``key`` itself is among them when it alone outweighs the
            capacity (it is then not resident: do not store it).
        """
        # The hot path of a bounded cache's insert: attributes are read once
        # into locals, and the steady state of a full cache (one candidate
        # leaves the window, one duel, one victim) runs inline without
        # another call (the costs table of bench/bench_eviction.py).
        free = self._free
        if not free:
            self._grow()
        slot = free.pop()
        keys = self._keys
        keys[slot] = key
        shift = self._shift
        token = slot << shift | self._shard
        segment = self._segment
        segment[slot] = WINDOW
        weights = self._weights
        if weights is None:
            weight = 1
        else:
            weights[slot] = weight
        # Count the miss in the sketch (conservative update: only counters at
        # the minimum rise) and seed the entry's frequency with the estimate.
        # Two rows from one 64-bit multiply-shift hash: its top bits, and the
        # bits 24 below them.
        sketch = self._sketch
        mixed = hash_ * _GOLDEN & _LOW64
        top_shift = self._top_shift
        first = mixed >> top_shift
        second = (mixed >> (top_shift - _ROW_GAP)) & self._mask | (self._mask + 1)
        estimate = sketch[first]
        other = sketch[second]
        if other < estimate:
            estimate = other
        if estimate < MAX_FREQUENCY:
            estimate += 1
            if sketch[first] < estimate:
                sketch[first] = estimate
            if other < estimate:
                sketch[second] = estimate
        freq = self._freq
        freq[slot] = estimate
        window = self._window
        window.append(token)
        window_weight = self._window_weight + weight
        total = self.weight + weight
        self._window_weight = window_weight
        self.weight = total
        misses = self._misses + 1
        self._misses = misses
        if not misses % _TALLY_EVERY:
            self._tally_step()
        if self._dead and self._dead > len(keys) >> 1:
            self._purge_step()
        capacity = self.capacity
        if total <= capacity and window_weight <= self._window_max:
            return token, _NO_VICTIMS  # type: ignore[return-value]
        if weights is None and window_weight == self._window_max + 1 and total <= capacity + 1:
            # The steady state: the window's head leaves it, to probation if
            # main has room, else through a duel with probation's head.
            counts = self.counts
            probation = self._probation
            candidate = window[0]
            candidate_slot = candidate >> shift
            if not counts[candidate] and segment[candidate_slot] == WINDOW:
                if total <= capacity:
                    window.popleft()
                    segment[candidate_slot] = PROBATION
                    probation.append(candidate)
                    self._window_weight = window_weight - 1
                    return token, _NO_VICTIMS  # type: ignore[return-value]
                if probation:
                    victim = probation[0]
                    victim_slot = victim >> shift
                    if not counts[victim] and segment[victim_slot] == PROBATION:
                        window.popleft()
                        frequency = freq[candidate_slot]
                        if frequency > freq[victim_slot] and frequency > _ADMIT_MIN:
                            probation.popleft()
                            segment[candidate_slot] = PROBATION
                            probation.append(candidate)
                            loser = victim
                            candidate_slot = victim_slot
                        else:
                            loser = candidate
                        victim_key = keys[candidate_slot]
                        keys[candidate_slot] = None
                        segment[candidate_slot] = FREE
                        free.append(candidate_slot)
                        self._window_weight = window_weight - 1
                        self.weight = capacity
                        return token, [(victim_key, loser)]  # type: ignore[list-item]
        if weight > capacity:
            return token, [(key, token), *self._evict_slot(slot, token)]
        return token, self._make_room()

    def _grow(self) -> None:
        """Add a chunk of free slots; grow ``counts`` and the sketch to cover them.

        Slots come 64 at a time (one tally chunk), so the insert path only
        ever pops the free list.
        """
        keys = self._keys
        first = len(keys)
        size = 1 << _CHUNK_BITS
        keys.extend([None] * size)
        self._freq.extend(bytes(size))
        self._segment.extend(bytes((FREE,)) * size)
        if self._weights is not None:
            self._weights.extend([0] * size)
        self._tally.append(0)
        counts = self.counts
        shift = self._shift
        end = (first + size) << shift
        if len(counts) < end:
            counts.extend([0] * (end - len(counts)))
        # Zero this shard's counts in the chunk: stale reads from before a clear().
        counts[first << shift | self._shard : end : 1 << shift] = [0] * size
        # Pop order: lowest slot first.
        self._free.extend(range(first + size - 1, first - 1, -1))
        entries = self._sketch_entries
        if first + size > entries:
            if self._weights is not None:
                self._size_sketch(2 * entries)
            elif entries < self.capacity:
                self._size_sketch(min(2 * entries, self.capacity))

    def remove(self, token: Token) -> K:
        """Forget a resident entry that left the cache (delete, expiry, clear); return its key.

        The key is handed back, not dropped: the caller frees it after its lock
        (the policy may hold the last reference to the key object).

        Args:
            token: The entry's token; it must be resident.

        Raises:
            KeyError: ``token`` is not resident.
        """
        slot, where = self._resident(token)
        segment = self._segment
        weight = 1 if self._weights is None else self._weights[slot]
        self.weight -= weight
        if where == WINDOW:
            self._window_weight -= weight
        elif where == PROTECTED:
            self._protected_weight -= weight
        key = self._keys[slot]
        self._keys[slot] = None
        self._drop_count(slot, token)
        if where == WEIGHTLESS:
            segment[slot] = FREE
            self._free.append(slot)
        else:
            segment[slot] = DEAD
            self._dead += 1
        return key  # type: ignore[return-value]

    def _resident(self, token: Token) -> tuple[int, int]:
        """The slot and segment of a resident entry's ``token``; ``KeyError`` if not resident."""
        slot = token >> self._shift
        segment = self._segment
        if token & ((1 << self._shift) - 1) != self._shard or slot >= len(segment):
            raise KeyError(token)
        where = segment[slot]
        if where >= DEAD:
            raise KeyError(token)
        return slot, where

    def reweigh(self, token: Token, weight: int) -> Sequence[tuple[K, Token]]:
        """Change a resident entry's weight (an overwrite); return the victims.

        The entry itself is among the victims when it now outweighs the
        capacity. Unweighted policies ignore the call.

        Raises:
            KeyError: ``token`` is not resident.
        """
        slot, where = self._resident(token)
        segment = self._segment
        weights = self._weights
        if weights is None:
            return _NO_VICTIMS  # type: ignore[return-value]
        change = weight - weights[slot]
        weights[slot] = weight
        self.weight += change
        if where == WINDOW:
            self._window_weight += change
        elif where == PROTECTED:
            self._protected_weight += change
        elif where == WEIGHTLESS and weight:
            segment[slot] = PROBATION
            self._probation.append(token)
        if weight > self.capacity:
            key = self._keys[slot]
            return [(key, token), *self._evict_slot(slot, token)]  # type: ignore[list-item]
        if self.weight > self.capacity:
            return self._make_room()
        return _NO_VICTIMS  # type: ignore[return-value]

    def clear(self) -> object:
        """Forget every entry; return the old containers, for the caller to drop unlocked.

        Frequency history (the sketch) and the window size are kept, as in
        Caffeine.
        """
        # Stale read counts are zeroed when a slot is next handed out.
        garbage = (self._keys, self._window, self._probation, self._protected, self._free)
        self._keys = []
        self._freq = bytearray()
        self._segment = bytearray()
        self._weights = None if self._weights is None else []
        self._free = []
        self._dead = 0
        self._window = deque()
        self._probation = deque()
        self._protected = deque()
        self._window_weight = self._protected_weight = self.weight = 0
        self._tally = []
        self._tally_cursor = 0
        return garbage

    def key_of(self, token: Token) -> K:
        """The key object of a resident entry (the one the policy holds)."""
        return self._keys[token >> self._shift]  # type: ignore[return-value]

    def weight_of(self, token: Token) -> int:
        """The weight of a resident entry (1 when unweighted)."""
        weights = self._weights
        return 1 if weights is None else weights[token >> self._shift]

    def __len__(self) -> int:
        """Resident entries."""
        return len(self._keys) - len(self._free) - self._dead

    def entries(self) -> list[tuple[K, Token]]:
        """The resident ``(key, token)`` pairs, in slot order (O(n); tests, debugging)."""
        shift = self._shift
        shard = self._shard
        return [
            (key, slot << shift | shard)  # type: ignore[misc]
            for slot, key in enumerate(self._keys)
            if self._segment[slot] < DEAD
        ]

    # -- eviction -----------------------------------------------------------

    def _make_room(self) -> list[tuple[K, Token]]:
        """Move window overflow to main through admission, then evict down to capacity."""
        victims: list[tuple[K, Token]] = []
        counts = self.counts
        segment = self._segment
        keys = self._keys
        freq = self._freq
        weights = self._weights
        shift = self._shift
        window = self._window
        probation = self._probation
        free = self._free
        capacity = self.capacity
        # At most two candidates per call: after the climber shrinks the
        # window, it drains by one entry per insert, never in one long pass.
        moves = 2
        while self._window_weight > self._window_max and moves:
            moves -= 1
            # The window's CLOCK victim; inline when the head is plain.
            candidate = window.popleft()
            slot = candidate >> shift
            if counts[candidate] or segment[slot] != WINDOW:
                window.appendleft(candidate)
                candidate = self._pop_window()
                if candidate < 0:
                    break
                slot = candidate >> shift
            weight = 1 if weights is None else weights[slot]
            self._window_weight -= weight
            if not weight:
                segment[slot] = WEIGHTLESS
                continue
            if self.weight <= capacity:
                segment[slot] = PROBATION
                probation.append(candidate)
                continue
            # Main's victim: probation's head, unless it needs a closer look.
            if probation:
                victim = probation[0]
                victim_slot = victim >> shift
                if (
                    counts[victim]
                    or segment[victim_slot] != PROBATION
                    or (weights is not None and not weights[victim_slot])
                ):
                    victim = self._main_victim()
                    victim_slot = victim >> shift
            else:
                victim = self._main_victim()
                victim_slot = victim >> shift
            if victim < 0:
                segment[slot] = PROBATION
                probation.append(candidate)
                continue
            # TinyLFU admission: the candidate must be strictly more frequent
            # (and seen more than once).
            candidate_frequency = freq[slot] + counts[candidate]
            if (
                candidate_frequency > freq[victim_slot] + counts[victim]
                and candidate_frequency > _ADMIT_MIN
            ):
                probation.popleft()
                segment[slot] = PROBATION
                probation.append(candidate)
                loser = victim
                slot = victim_slot
            else:
                loser = candidate
            reads = counts[loser]
            if reads:
                counts[loser] = 0
                self._tally[slot >> _CHUNK_BITS] -= reads
            victims.append((keys[slot], loser))  # type: ignore[arg-type]
            keys[slot] = None
            segment[slot] = FREE
            free.append(slot)
            self.weight -= 1 if weights is None else weights[slot]
        if self._protected_weight > self._protected_max:
            self._demote()  # after the climber shrank protected
        while self.weight > capacity:
            victim = self._main_victim()
            if victim >= 0:
                probation.popleft()
                victims.append(self._evicted(victim >> shift, victim))
                continue
            candidate = self._pop_window()  # main is empty
            if candidate < 0:
                break
            slot = candidate >> shift
            weight = 1 if weights is None else weights[slot]
            self._window_weight -= weight
            if weight:
                victims.append(self._evicted(slot, candidate))
            else:
                segment[slot] = WEIGHTLESS
        return victims

    def _pop_window(self) -> int:
        """Pop the window's CLOCK victim (a token), or -1 when the window is empty."""
        window = self._window
        counts = self.counts
        segment = self._segment
        shift = self._shift
        chances = min(len(window), _SECOND_CHANCES)
        while window:
            token = window.popleft()
            slot = token >> shift
            if segment[slot] == DEAD:
                self._recycle(slot)
                continue
            if counts[token] and chances:
                chances -= 1
                self._fold(slot, token)
                window.append(token)
                continue
            return token
        return -1

    def _main_victim(self) -> int:
        """Return the token at probation's head after promoting read entries, or -1.

        The victim stays queued (the caller pops it if it is evicted).
        Zero-weight entries met on the way leave the queues (they free
        nothing, so they are never victims: Caffeine skips them too).
        """
        probation = self._probation
        protected = self._protected
        counts = self.counts
        segment = self._segment
        weights = self._weights
        shift = self._shift
        visits = _SECOND_CHANCES
        demoted = False
        while True:
            while probation:
                token = probation[0]
                slot = token >> shift
                if segment[slot] == DEAD:
                    probation.popleft()
                    self._recycle(slot)
                    continue
                if weights is not None and not weights[slot]:
                    probation.popleft()
                    segment[slot] = WEIGHTLESS
                    continue
                if visits and counts[token]:
                    visits -= 1
                    probation.popleft()
                    self._fold(slot, token)
                    segment[slot] = PROTECTED
                    protected.append(token)
                    self._protected_weight += 1 if weights is None else weights[slot]
                    if self._protected_weight > self._protected_max:
                        self._demote(2)
                    continue
                return token
            if demoted or not protected:
                return -1
            # Probation is empty: demote protected's head to it (Caffeine
            # evicts from protected, then the window, when probation is empty).
            self._demote(1, force=True)
            demoted = True

    def _demote(self, moves: int = _DEMOTIONS, *, force: bool = False) -> None:
        """Move protected's CLOCK victims to probation until protected fits its budget.

        Moves at most ``moves`` entries: when the climber shrinks protected
        by thousands of entries, it drains over many inserts.
        """
        protected = self._protected
        counts = self.counts
        segment = self._segment
        weights = self._weights
        shift = self._shift
        chances = _SECOND_CHANCES
        while protected and moves and (force or self._protected_weight > self._protected_max):
            token = protected.popleft()
            slot = token >> shift
            if segment[slot] == DEAD:
                self._recycle(slot)
                continue
            if counts[token] and chances:
                chances -= 1
                self._fold(slot, token)
                protected.append(token)
                continue
            if weights is not None and not weights[slot]:
                segment[slot] = WEIGHTLESS
                continue
            segment[slot] = PROBATION
            self._probation.append(token)
            self._protected_weight -= 1 if weights is None else weights[slot]
            moves -= 1
            if force:
                return

    def _evicted(self, slot: int, token: Token) -> tuple[K, Token]:
        """Free an evicted slot (already off its queue) and return its victim pair."""
        key = self._keys[slot]
        weights = self._weights
        weight = 1 if weights is None else weights[slot]
        self.weight -= weight
        if self._segment[slot] == PROTECTED:
            self._protected_weight -= weight
        self._drop_count(slot, token)
        self._keys[slot] = None
        self._segment[slot] = FREE
        self._free.append(slot)
        return key, token  # type: ignore[return-value]

    def _evict_slot(self, slot: int, token: Token) -> list[tuple[K, Token]]:
        """Evict the entry in ``slot`` wherever it is queued (it outweighs the capacity)."""
        weight = 1 if self._weights is None else self._weights[slot]
        where = self._segment[slot]
        self.weight -= weight
        if where == WINDOW:
            self._window_weight -= weight
        elif where == PROTECTED:
            self._protected_weight -= weight
        self._keys[slot] = None
        self._drop_count(slot, token)
        if where == WEIGHTLESS:  # in no queue
            self._segment[slot] = FREE
            self._free.append(slot)
        else:
            self._segment[slot] = DEAD  # its queue recycles the slot
            self._dead += 1
        if self.weight > self.capacity or self._window_weight > self._window_max:
            return self._make_room()
        return []

    def _recycle(self, slot: int) -> None:
        """A dead slot left its queue: make it reusable."""
        self._segment[slot] = FREE
        self._free.append(slot)
        self._dead -= 1

    def _fold(self, slot: int, token: Token) -> None:
        """Move an entry's read count into its frequency byte."""
        counts = self.counts
        reads = counts[token]
        counts[token] = 0
        self._tally[slot >> _CHUNK_BITS] -= reads  # the tally counts every read once
        frequency = self._freq[slot] + reads
        self._freq[slot] = min(MAX_FREQUENCY, frequency)

    def _drop_count(self, slot: int, token: Token) -> None:
        counts = self.counts
        reads = counts[token]
        if reads:
            counts[token] = 0
            self._tally[slot >> _CHUNK_BITS] -= reads

    def _purge_step(self) -> None:
        """Drop dead entries from the front of one queue (bounded work), round robin.

        Rotating live entries to the back perturbs their order, but this
        runs only when more than half the slots are dead, i.e. after mass
        removals, when the order matters least.
        """
        segment = self._segment
        shift = self._shift
        self._purge_cursor = cursor = (self._purge_cursor + 1) % 3
        queue = (self._window, self._probation, self._protected)[cursor]
        for _ in range(min(_PURGE_STEP, len(queue))):
            token = queue.popleft()
            slot = token >> shift
            if segment[slot] == DEAD:
                self._recycle(slot)
            else:
                queue.append(token)

    # -- adaptation -----------------------------------------------------------

    def _tally_step(self) -> None:
        """Tally the read counts of one chunk of slots; age and climb when due."""
        tally = self._tally
        if not tally:
            return
        chunk = self._tally_cursor
        self._tally_cursor = (chunk + 1) % len(tally)
        shift = self._shift
        first = chunk << _CHUNK_BITS
        start = first << shift | self._shard
        stop = (first + (1 << _CHUNK_BITS)) << shift
        reads = sum(self.counts[start : stop : 1 << shift])
        new_hits = reads - tally[chunk]
        tally[chunk] = reads
        self._hits += new_hits
        self._requests_since_reset += new_hits + _TALLY_EVERY
        if self._requests_since_reset >= self._sample:
            self._age()
        if self._hits + self._misses >= self._period:
            self._climb()

    def _climb(self) -> None:
        """Caffeine's hill climber: move the window size the way the hit ratio improved."""
        requests = self._hits + self._misses
        hit_rate = self._hits / requests
        change = hit_rate - self._previous_hit_rate
        amount = self._step if change >= 0 else -self._step
        if abs(change) >= _RESTART_THRESHOLD:
            self._step = _STEP_SHARE * self.capacity * (1 if amount >= 0 else -1)
        else:
            self._step = _STEP_DECAY * amount
        self._previous_hit_rate = hit_rate
        self._hits = self._misses = 0
        capacity = self.capacity
        quota = int(amount) or (1 if amount > 0 else -1)
        window = min(max(self._window_max + quota, min(1, capacity)), capacity)
        self._window_max = window
        self._protected_max = int(_PROTECTED_SHARE * (capacity - window))
        if self._protected_weight > self._protected_max:
            self._demote()
