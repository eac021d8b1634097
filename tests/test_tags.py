"""Invalidation groups: ``set(..., tags=...)`` and ``invalidate_tags``."""

from __future__ import annotations

import functools
import random
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sweepcache import Cache

if TYPE_CHECKING:
    from sweepcache.testing import FakeClock

pytestmark = pytest.mark.anyio


def tag_index_size(cache: Cache[Any, Any]) -> tuple[int, int]:
    """(tags, memberships) in the tag index of every shard (white box)."""
    tags = sum(len(shard.tag_index) for shard in cache._shards)
    members = sum(len(keys) for shard in cache._shards for keys in shard.tag_index.values())
    return tags, members


async def test_one_user_cached_three_ways_goes_in_one_call(cache: Cache[str, Any]) -> None:
    """The ReViewPoint pattern: a user by id, by e-mail and by profile; one update."""
    user = {"id": 7, "email": "ada@example.com", "name": "Ada"}
    tags = ("user:7",)
    await cache.set("user:id:7", user, tags=tags)
    await cache.set("user:email:ada@example.com", user, tags=tags)
    await cache.set("user:profile:7", {"bio": "..."}, tags=tags)
    await cache.set("user:id:8", {"id": 8}, tags=("user:8",))
    assert await cache.invalidate_tags("user:7") == 3
    assert await cache.get_many(["user:id:7", "user:email:ada@example.com", "user:profile:7"]) == [
        None,
        None,
        None,
    ]
    assert await cache.get("user:id:8") == {"id": 8}
    assert tag_index_size(cache) == (1, 1)


async def test_any_of_several_tags(cache: Cache[str, int]) -> None:
    await cache.set("a", 1, tags=["x", "y"])
    await cache.set("b", 2, tags=["y"])
    await cache.set("c", 3, tags=["z"])
    await cache.set("d", 4)
    assert await cache.invalidate_tags("x", "z") == 2
    assert await cache.get_many(["a", "b", "c", "d"]) == [None, 2, None, 4]
    assert cache.invalidate_tags_nowait("y", "never-used") == 1
    assert tag_index_size(cache) == (0, 0)
    assert await cache.invalidate_tags() == 0


async def test_overwrite_replaces_tags(cache: Cache[str, int]) -> None:
    await cache.set("k", 1, tags=["old"])
    await cache.set("k", 2, tags=["new"])
    assert await cache.invalidate_tags("old") == 0
    assert await cache.get("k") == 2
    await cache.set("k", 3)  # no tags: the key has none now
    assert await cache.invalidate_tags("new") == 0
    assert await cache.get("k") == 3
    assert tag_index_size(cache) == (0, 0)


@pytest.mark.parametrize("how", ["delete", "expire_read", "sweep", "clear", "expire_zero"])
async def test_an_entry_leaves_its_tags_when_it_leaves(
    cache: Cache[str, int], clock: FakeClock, how: str
) -> None:
    for index in range(100):
        await cache.set(f"k{index}", index, ttl=10, tags=[f"t{index % 3}", "all"])
    if how == "delete":
        await cache.delete_many([f"k{index}" for index in range(100)])
    elif how == "expire_read":
        clock.advance(20)
        assert await cache.get_many([f"k{index}" for index in range(100)]) == [None] * 100
    elif how == "sweep":
        clock.advance(20)
        assert await cache.sweep() == 100
    elif how == "clear":
        await cache.clear()
    else:
        for index in range(100):
            await cache.expire(f"k{index}", 0)
    assert tag_index_size(cache) == (0, 0)


async def test_set_many_and_get_or_load_take_tags(cache: Cache[str, int]) -> None:
    await cache.set_many({"a": 1, "b": 2}, tags=["batch"])

    async def load() -> int:
        return 3

    assert await cache.get_or_load("c", load, tags=["batch"]) == 3
    assert await cache.get_or_load("d", load, tags=lambda value: [f"v{value}"]) == 3
    assert await cache.invalidate_tags("batch") == 3
    assert await cache.invalidate_tags("v3") == 1
    assert len(cache) == 0


@pytest.mark.parametrize("bad", ["user:7", b"user:7", 7, [["x"]], [{}]])
async def test_bad_tags_are_rejected_and_change_nothing(cache: Cache[str, int], bad: Any) -> None:
    await cache.set("k", 1)
    with pytest.raises(TypeError, match="tags must be an iterable of hashable tags"):
        await cache.set("k", 2, tags=bad)
    assert await cache.get("k") == 1
    with pytest.raises(TypeError):
        await cache.invalidate_tags([])  # type: ignore[arg-type]


async def test_invalidation_detaches_a_load_whose_result_would_carry_the_tag(
    cache: Cache[str, int],
) -> None:
    gate = anyio.Event()

    async def slow() -> int:
        await gate.wait()
        return 1

    results: list[int] = []

    async def load(key: str, tags: Any) -> None:
        results.append(await cache.get_or_load(key, slow, tags=tags))

    async with anyio.create_task_group() as tg:
        tg.start_soon(load, "static", ["user:7"])
        tg.start_soon(load, "dynamic", lambda value: ["user:7"])
        tg.start_soon(load, "other", ["user:8"])
        await anyio.wait_all_tasks_blocked()
        assert await cache.invalidate_tags("user:7") == 0
        gate.set()
    assert results == [1, 1, 1]
    # Loaded before the invalidation: never lands after it.
    assert "static" not in cache
    assert "dynamic" not in cache
    assert "other" in cache


async def test_concurrent_invalidations_during_loads(clock: FakeClock) -> None:
    """Many loads and invalidations interleaved: no value loaded before an invalidation stays."""
    cache: Cache[str, tuple[int, int]] = Cache(clock=clock)
    generation = dict.fromkeys(("a", "b", "c"), 0)
    rng = random.Random(7)

    async def loader(key: str, tag: str) -> tuple[int, int]:
        seen = generation[tag]
        for _ in range(rng.randrange(3)):
            await anyio.lowlevel.checkpoint()
        return seen, rng.randrange(1000)

    async def reader(index: int) -> None:
        for _ in range(50):
            tag = rng.choice("abc")
            key = f"{tag}{rng.randrange(5)}"
            await cache.get_or_load(key, functools.partial(loader, key, tag), tags=[tag])
            await anyio.lowlevel.checkpoint()

    async def invalidator() -> None:
        for _ in range(100):
            tag = rng.choice("abc")
            generation[tag] += 1
            await cache.invalidate_tags(tag)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for index in range(20):
            tg.start_soon(reader, index)
        tg.start_soon(invalidator)
    for tag in "abc":
        for index in range(5):
            value = await cache.get(f"{tag}{index}")
            if value is not None:
                assert value[0] == generation[tag], (tag, index, value, generation)


def test_expired_entries_reclaimed_by_writes_leave_their_tags(clock: FakeClock) -> None:
    """New keys reclaim expired ones (no sweeper runs here); their tags go with them."""
    cache: Cache[int, int] = Cache(clock=clock, shards=1)
    for key in range(1_000):
        cache.set_nowait(key, key, ttl=1, tags=("old",))
    clock.advance(10)
    for key in range(1_000, 2_000):  # each new key reclaims up to two expired ones
        cache.set_nowait(key, key, ttl=100, tags=("new",))
    assert len(cache) == 1_000
    assert tag_index_size(cache) == (1, 1_000)
    assert cache.invalidate_tags_nowait("old") == 0


@pytest.mark.parametrize("second", ["same tuple", "equal tuple", "other tuple", "no tags", "empty"])
def test_overwrite_with_constant_tags(clock: FakeClock, second: str) -> None:
    """The shortcut for the very tuple a key carries keeps the index right in every case."""
    cache: Cache[str, int] = Cache(clock=clock, shards=1)
    tags = ("users", "all")
    cache.set_nowait("k", 1, tags=tags)
    if second == "same tuple":
        cache.set_nowait("k", 2, ttl=1e6, tags=tags)  # another bucket too
        expected = {"users": 1, "all": 1}
    elif second == "equal tuple":
        cache.set_nowait("k", 2, tags=tags[:1] + tags[1:])  # equal, not the same object
        expected = {"users": 1, "all": 1}
    elif second == "other tuple":
        cache.set_nowait("k", 2, tags=("all", "admins"))
        expected = {"users": 0, "all": 1, "admins": 1}
    elif second == "no tags":
        cache.set_nowait("k", 2)
        expected = {"users": 0, "all": 0}
    else:
        cache.set_nowait("k", 2, tags=())
        expected = {"users": 0, "all": 0}
    assert cache.get_nowait("k") == 2
    for tag, count in expected.items():
        assert len(cache._shards[0].tag_index.get(tag) or ()) == count, tag
    assert cache.invalidate_tags_nowait(*expected) == (1 if any(expected.values()) else 0)
    assert tag_index_size(cache) == (0, 0)


def test_churn_leaves_no_tag_behind(clock: FakeClock) -> None:
    cache: Cache[int, int] = Cache(clock=clock, shards=4)
    for key in range(100_000):
        cache.set_nowait(key % 5_000, key, ttl=0.5, tags=(f"user:{key % 977}", "all"))
        clock.advance(0.0001)
        if not key % 10_000:  # bounded by the resident entries all along, not by the writes
            assert tag_index_size(cache)[1] == 2 * len(cache)
    clock.advance(10)
    anyio.run(cache.sweep)
    assert len(cache) == 0
    assert tag_index_size(cache) == (0, 0)


def test_threads_set_and_invalidate_without_deadlock(clock: FakeClock) -> None:
    cache: Cache[int, int] = Cache(clock=clock, shards=4)
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                key = rng.randrange(200)
                cache.set_nowait(key, key, tags=[f"t{key % 7}", f"u{rng.randrange(3)}"])
                if rng.random() < 0.1:
                    cache.delete_nowait(key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def invalidator() -> None:
        rng = random.Random(99)
        try:
            for _ in range(2000):
                cache.invalidate_tags_nowait(f"t{rng.randrange(7)}", f"u{rng.randrange(3)}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    threads.append(threading.Thread(target=invalidator))
    for thread in threads:
        thread.start()
    threads[-1].join(timeout=60)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "deadlock"
    assert not errors
    # The index holds exactly the memberships of the entries left.
    expected = sum(
        len(entry[3]) for shard in cache._shards for entry in shard.data.values() if len(entry) > 3
    ) // (1 if len(cache._dicts) > 1 else len(cache._shards))
    assert tag_index_size(cache)[1] == expected
