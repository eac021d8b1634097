"""Behaviour of the core that the web integrations rely on.

Found while building them: a load whose tags are a function of its value
must not stay open to callers that arrive after one of its possible tags is
invalidated (they would get a value read before the write).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

if TYPE_CHECKING:
    from sweepcache import Cache

pytestmark = pytest.mark.anyio


async def test_a_caller_joining_after_a_tag_invalidation_gets_a_new_load(
    cache: Cache[str, str],
) -> None:
    gate = anyio.Event()
    started = anyio.Event()
    results: dict[str, str] = {}

    async def read_before_the_write() -> str:
        started.set()
        await gate.wait()
        return "old"

    async def read_after_the_write() -> str:
        return "new"

    async def call(name: str, loader: object) -> None:
        results[name] = await cache.get_or_load("k", loader, tags=lambda value: ["t"])  # type: ignore[arg-type]

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, "before", read_before_the_write)
        await started.wait()
        await cache.invalidate_tags("t")  # the write committed, then invalidated
        tg.start_soon(call, "after", read_after_the_write)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert results == {"before": "old", "after": "new"}
    assert "k" not in cache or cache.get_nowait("k") == "new"
