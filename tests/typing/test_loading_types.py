"""Static types of ``get_or_load`` and ``@cached``, checked by ``mypy --strict``.

``assert_type`` is a no-op at run time, so this file also runs as an ordinary
test (which checks that the snippets are valid Python calls).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any

import pytest

from sweepcache import Cache, CachedFunction, CachedMethod, Invalidation, cached

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # pragma: no cover
    from typing_extensions import assert_type

pytestmark = pytest.mark.anyio

cache: Cache[Any, Any] = Cache(default_ttl=60)
users: Cache[str, dict[str, int]] = Cache()


@cached(cache, ttl=30)
async def fetch(uid: int, full: bool = False) -> str:
    return f"{uid}:{full}"


@cached(cache, key=lambda uid: f"score:{uid}")
async def score(uid: int) -> float:
    return float(uid)


class Repo:
    @cached(cache)
    async def user(self, uid: int, *, full: bool = False) -> list[int]:
        return [uid]


async def load_user() -> dict[str, int]:
    return {"id": 1}


async def test_loading_types() -> None:
    assert_type(await users.get_or_load("u:1", load_user), dict[str, int])
    assert_type(await users.get_or_load("u:1", load_user, ttl=None, timeout=1.0), dict[str, int])

    # The decorated function keeps its parameters and return type.
    as_callable: Callable[[int, bool], Awaitable[str]] = fetch
    assert isinstance(as_callable, CachedFunction)
    coroutine = assert_type(fetch(1), Coroutine[Any, Any, str])
    coroutine.close()
    assert_type(await fetch(1, full=True), str)
    assert_type(fetch.key(1), Hashable)
    assert_type(fetch.invalidate(1), Invalidation)
    assert_type(await fetch.invalidate(1), bool)
    assert_type(await score(2), float)

    # Methods: bound through the instance, or unbound through the class.
    repo = Repo()
    bound: Callable[[int], Awaitable[list[int]]] = repo.user
    assert isinstance(bound, CachedMethod)
    assert_type(await repo.user(1, full=True), list[int])
    assert_type(repo.user.invalidate(1), Invalidation)
    assert_type(Repo.user.invalidate(repo, 1), Invalidation)


async def _never_called_wrong_calls_fail_type_checks(repo: Repo) -> None:
    # mypy --strict (warn_unused_ignores) fails if any of these type-checks.
    await fetch("1")  # type: ignore[arg-type]
    await fetch(1, flag=True)  # type: ignore[call-arg]
    await repo.user(1, True)  # type: ignore[call-arg]
    fetch.invalidate()  # type: ignore[call-arg]
    await users.get_or_load(1, load_user)  # type: ignore[arg-type]
    await users.get_or_load("k", fetch)  # type: ignore[arg-type]
