"""An app that already has a lifespan: wrap it, or run the caches inside it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from sweepcache import Cache
from sweepcache.fastapi import lifespan, running

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

sessions = Cache[str, dict[str, str]](default_ttl=1800, name="sessions")
profiles = Cache[int, dict[str, str]](default_ttl=600, name="profiles")


class Database:
    """A stand-in for a connection pool."""

    connected = False

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False


database = Database()


@asynccontextmanager
async def connect_database(app: FastAPI) -> AsyncIterator[dict[str, Database]]:
    await database.connect()
    yield {"database": database}  # lifespan state, passed on: request.state.database
    await database.disconnect()


# Either let sweepcache wrap the lifespan you have (caches start first, stop last)...
app = FastAPI(lifespan=lifespan(sessions=sessions, profiles=profiles, wraps=connect_database))


# ...or run the caches inside your own.
@asynccontextmanager
async def own_lifespan(app: FastAPI) -> AsyncIterator[None]:
    await database.connect()
    async with running(sessions, profiles):
        yield
    await database.disconnect()


other_app = FastAPI(lifespan=own_lifespan)
