"""``on_removal``: called once per removed entry, with its cause, never under a lock."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sweepcache import Cache, RemovalCause

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio

EXPLICIT = RemovalCause.EXPLICIT
REPLACED = RemovalCause.REPLACED
EXPIRED = RemovalCause.EXPIRED


class Recorder:
    """A listener that records its calls and whether a shard lock was held."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any, RemovalCause]] = []
        self.cache: Cache[Any, Any] | None = None
        self.locked: list[bool] = []

    def __call__(self, key: Any, value: Any, cause: RemovalCause) -> None:
        self.calls.append((key, value, cause))
        if self.cache is not None:
            self.locked.append(any(shard.lock.locked() for shard in self.cache._shards))

    def causes(self) -> Counter[RemovalCause]:
        return Counter(cause for _, _, cause in self.calls)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def listened(clock: FakeClock, recorder: Recorder) -> Cache[Any, Any]:
    cache: Cache[Any, Any] = Cache(clock=clock, on_removal=recorder)
    recorder.cache = cache
    return cache


async def test_causes_of_each_operation(
    listened: Cache[Any, Any], recorder: Recorder, clock: FakeClock
) -> None:
    cache = listened
    await cache.set("a", 1)
    await cache.set("a", 2)  # REPLACED
    assert recorder.calls == [("a", 1, REPLACED)]
    await cache.delete("a")  # EXPLICIT
    await cache.set("b", 1, ttl=1)
    clock.advance(2)
    await cache.set("b", 2)  # an expired entry replaced: EXPIRED
    await cache.set("c", 1, ttl=1)
    clock.advance(2)
    assert await cache.get("c") is None  # EXPIRED, found by a read
    await cache.set("d", 1, ttl=0)  # nothing to remove
    await cache.set("d", 1)
    await cache.set("d", 2, ttl=0)  # ttl=0 deletes: EXPLICIT
    await cache.set("e", 1)
    assert await cache.expire("e", 0)  # EXPLICIT
    await cache.set_many({"f": 1, "g": 2})
    assert await cache.delete_many(["f", "g", "h"]) == 2
    await cache.set("i", 1, tags=["t"])
    assert await cache.invalidate_tags("t") == 1
    assert recorder.calls == [
        ("a", 1, REPLACED),
        ("a", 2, EXPLICIT),
        ("b", 1, EXPIRED),
        ("c", 1, EXPIRED),
        ("d", 1, EXPLICIT),
        ("e", 1, EXPLICIT),
        ("f", 1, EXPLICIT),
        ("g", 2, EXPLICIT),
        ("i", 1, EXPLICIT),
    ]
    assert not any(recorder.locked)


@pytest.mark.parametrize("how", ["clear", "clear_nowait"])
async def test_clear_reports_every_entry_once(
    listened: Cache[Any, Any], recorder: Recorder, clock: FakeClock, how: str
) -> None:
    cache = listened
    for key in range(1000):
        await cache.set(key, key, ttl=1 if key % 10 == 0 else 100)
    clock.advance(5)
    if how == "clear":
        await cache.clear()
    else:
        cache.clear_nowait()
    assert len(cache) == 0
    assert sorted(key for key, _, _ in recorder.calls) == list(range(1000))
    assert recorder.causes() == {EXPIRED: 100, EXPLICIT: 900}
    assert not any(recorder.locked)


async def test_sweeper_reports_expired_entries(
    listened: Cache[Any, Any], recorder: Recorder, clock: FakeClock
) -> None:
    cache = listened
    for key in range(500):
        await cache.set(key, key, ttl=1)
    clock.advance(5)
    assert await cache.sweep() == 500
    assert recorder.causes() == {EXPIRED: 500}
    assert not any(recorder.locked)


async def test_listener_errors_are_logged_not_raised(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(key: Any, value: Any, cause: RemovalCause) -> None:
        raise RuntimeError(f"listener broke on {key}")

    cache: Cache[str, int] = Cache(clock=clock, on_removal=failing)
    await cache.set("a", 1)
    await cache.set("a", 2)
    assert await cache.delete("a")
    await cache.set("b", 1, ttl=1)
    clock.advance(2)
    assert await cache.sweep() == 1
    assert caplog.text.count("on_removal listener failed") == 3
    assert "listener broke on a" in caplog.text


async def test_listener_may_call_the_cache(clock: FakeClock) -> None:
    seen: list[str] = []

    def on_removal(key: str, value: int, cause: RemovalCause) -> None:
        seen.append(key)
        if not key.startswith("echo"):
            cache.set_nowait(f"echo-{key}", value)  # the same (single) shard's lock
            cache.delete_nowait(f"echo-{key}")  # reported from inside this call

    cache: Cache[str, int] = Cache(clock=clock, shards=1, on_removal=on_removal)
    await cache.set("a", 1)
    await cache.set("a", 2)
    await cache.delete("a")
    assert seen == ["a", "echo-a", "a", "echo-a"]
    assert len(cache) == 0


async def test_listener_from_threads_is_called_once_per_entry(clock: FakeClock) -> None:
    counts: Counter[tuple[int, int]] = Counter()
    lock = threading.Lock()

    def on_removal(key: int, value: int, cause: RemovalCause) -> None:
        with lock:
            counts[key, value] += 1

    cache: Cache[int, int] = Cache(clock=clock, on_removal=on_removal, shards=4)

    def writer(base: int) -> None:
        for round_number in range(2000):
            key = round_number % 50
            cache.set_nowait(key, base * 10_000 + round_number)
            if round_number % 7 == 0:
                cache.delete_nowait(key)

    await anyio.to_thread.run_sync(lambda: None)
    threads = [threading.Thread(target=writer, args=(base,)) for base in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.clear_nowait()
    # Every value ever written was removed exactly once (replaced, deleted or cleared).
    assert all(count == 1 for count in counts.values())
    assert len(counts) == 4 * 2000
