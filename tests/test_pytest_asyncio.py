"""Using a cache from pytest-asyncio fixtures (the seed's users' test setup).

pytest-asyncio runs an async generator fixture's setup and its teardown in two
different tasks, and an AnyIO task group (what ``async with cache:`` opens)
must be exited by the task that entered it. The patterns below work; the one
that cannot work gets a clear error instead of AnyIO's "cancel scope in a
different task".
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from sweepcache import Cache

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest_asyncio.fixture
async def swept_cache() -> AsyncIterator[Cache[str, int]]:
    """The sweeper in a task of the test's own loop: works with pytest-asyncio."""
    cache: Cache[str, int] = Cache(default_ttl=60)
    sweeper = asyncio.create_task(cache.run_sweeper())
    yield cache
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper


@pytest_asyncio.fixture
async def unswept_cache() -> AsyncIterator[Cache[str, int]]:
    """No sweeper: tests call ``await cache.sweep()`` when they need one."""
    cache: Cache[str, int] = Cache(default_ttl=60)
    yield cache
    await cache.clear()


@pytest.mark.asyncio
async def test_sweeper_task_fixture(swept_cache: Cache[str, int]) -> None:
    await swept_cache.set("k", 1)
    assert await swept_cache.get("k") == 1


@pytest.mark.asyncio
async def test_explicit_sweeps_fixture(unswept_cache: Cache[str, int]) -> None:
    await unswept_cache.set("k", 1, ttl=0.001)
    assert await unswept_cache.sweep() >= 0


@pytest.mark.asyncio
async def test_async_with_inside_one_test_works() -> None:
    async with Cache[str, int]() as cache:
        await cache.set("k", 1)
        assert await cache.get("k") == 1


def test_async_with_in_a_generator_fixture_gets_a_clear_error(tmp_path: Path) -> None:
    test_file = tmp_path / "test_fixture.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import pytest, pytest_asyncio
            from sweepcache import Cache

            @pytest_asyncio.fixture
            async def cache():
                async with Cache() as cache:
                    yield cache

            @pytest.mark.asyncio
            async def test_it(cache):
                await cache.set("k", 1)
            """
        )
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:anyio",
            "-p",
            "no:cacheprovider",
            str(test_file),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "exited in another task than the one that entered it" in completed.stdout
    assert "AnyIO's pytest plugin" in completed.stdout
