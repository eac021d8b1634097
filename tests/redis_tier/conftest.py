"""Fixtures of the Redis tier's tests: private servers, unique prefixes."""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING

import pytest

from .servers import RedisClusterNodes, RedisServer, require_redis, running_server

if TYPE_CHECKING:
    from collections.abc import Iterator

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private server shared by the tests that do not break it (each uses its own prefix)."""
    with running_server() as server:
        yield server


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A private server for one test (fault injection)."""
    with running_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """A private three-primary Redis Cluster."""
    require_redis()
    nodes = RedisClusterNodes()
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def prefix() -> str:
    """A namespace no other test uses."""
    return f"sctest:{os.getpid()}:{next(_prefixes)}:"
