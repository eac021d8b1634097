"""The service's settings, from the command line or the environment."""

from __future__ import annotations

import dataclasses
import os

#: The PostgreSQL of a development machine: trust authentication on loopback.
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@dataclasses.dataclass(frozen=True)
class Settings:
    """How to run the service."""

    #: SQLAlchemy URL of the database; the service works in a schema of its own.
    database_url: str = dataclasses.field(
        default_factory=lambda: os.environ.get("USERS_SERVICE_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    #: Cache at all (the repository caches and the response cache); off for comparisons.
    cache: bool = True
    #: Seconds a user stays in the repository caches.
    user_ttl: float = 300.0
    #: Seconds the user list stays in the response cache.
    list_ttl: int = 30
    #: Connections in the pool.
    pool_size: int = 10
    #: Redis URL for a shared tier behind the repository caches (every process
    #: of the service then sees one another's updates); ``None``: local only.
    redis_url: str | None = dataclasses.field(
        default_factory=lambda: os.environ.get("USERS_SERVICE_REDIS_URL") or None
    )
    #: Start of every Redis key the service writes (the schema name follows it).
    redis_prefix: str = "users_service:"
