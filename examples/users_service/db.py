"""The database: tables, a schema of the service's own, and a count of the queries it runs."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, event, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from .settings import Settings


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Bumped by every update: tests check that no endpoint goes back in time.
    version: Mapped[int] = mapped_column(default=1)


class ProfileRow(Base):
    __tablename__ = "profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    bio: Mapped[str] = mapped_column(default="")
    location: Mapped[str] = mapped_column(default="")


_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")


class Database:
    """A schema of its own in the configured database, and the engine that works in it.

    ``await database.create(users=N)`` makes the schema, its tables and ``N``
    users; ``await database.drop()`` removes the schema and closes the engine.
    ``queries`` counts every statement the engine sends (SQLAlchemy's
    ``before_cursor_execute`` event), which is how the tests and the
    benchmark measure what the cache saves.
    """

    def __init__(self, settings: Settings, schema: str | None = None) -> None:
        self.schema = schema or f"users_service_{secrets.token_hex(4)}"
        if not _SCHEMA_NAME.match(self.schema):
            raise ValueError(f"schema must be a lower-case SQL identifier, got {self.schema!r}")
        self.queries = 0
        self.engine: AsyncEngine = create_async_engine(
            settings.database_url,
            pool_size=settings.pool_size,
            max_overflow=0,
            connect_args={"server_settings": {"search_path": self.schema}},
        )
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._count)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def _count(self, *args: Any) -> None:
        self.queries += 1

    async def create(self, *, users: int = 0) -> None:
        """Create the schema and its tables, with ``users`` users (``user<i>@example.com``)."""
        async with self.engine.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            await connection.run_sync(Base.metadata.create_all)
            if users:
                await connection.execute(
                    insert(UserRow),
                    [
                        {"email": f"user{i}@example.com", "name": f"User {i}"}
                        for i in range(1, users + 1)
                    ],
                )
                await connection.execute(
                    insert(ProfileRow),
                    [{"user_id": i, "bio": f"Bio of user {i}"} for i in range(1, users + 1)],
                )

    async def drop(self) -> None:
        """Drop the schema and everything in it; close the engine's connections."""
        try:
            async with self.engine.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        finally:
            await self.engine.dispose()

    def session(self) -> AsyncSession:
        """A new session (use it in ``async with``)."""
        return self.sessions()
