"""The user repository: PostgreSQL behind three caches, one tag per user.

The seed service cached a user under ``user:id:<id>`` and ``user:email:<email>``
and its profile under ``user:profile:<id>``, then invalidated by re-deriving
every key after an update, from the *new* e-mail, so the entry under the old
e-mail kept answering with the old user. Here every entry about user 7 carries
the tag ``user:7`` (an e-mail lookup, found or not, carries
``email:<address>``, and every write invalidates the tags of the addresses
it touches, old and new), so one ``invalidate_tags`` call per cache drops
them all, whatever keys they live under, including lookups still loading.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from sweepcache import Cache

from .db import ProfileRow, UserRow

if TYPE_CHECKING:
    from sweepcache.asgi import CachedResponse, ResponseKey
    from sweepcache.redis import TieredCache

    from .db import Database


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    """A user, as the API shows it. Frozen: cached values are shared by every request."""

    id: int
    email: str
    name: str
    version: int


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    """A user's public profile."""

    user_id: int
    name: str
    bio: str
    location: str
    version: int


class EmailTaken(Exception):
    """Another user already has this e-mail address."""


def _user(row: UserRow) -> User:
    return User(id=row.id, email=row.email, name=row.name, version=row.version)


class UserCaches:
    """Every cache holding user data: the repository's three, and the HTTP responses.

    Statistics are on, for ``/metrics``. The response cache stores pages of
    the user list, each tagged ``users`` and ``user:<id>`` for every user on
    it: an update drops the pages showing that user, a creation or a
    deletion (which move every later user) all pages.

    With ``redis_url``, each repository cache is a :class:`TieredCache`: its
    local cache in front of a Redis namespace shared by every process of the
    service (``redis_prefix``, then the cache's name). A value another
    process loaded is read from Redis instead of the database, and an update
    in any process drops the user from every process's local caches.
    """

    def __init__(
        self,
        ttl: float,
        responses: Cache[ResponseKey, CachedResponse],
        *,
        redis_url: str | None = None,
        redis_prefix: str = "users_service:",
    ) -> None:
        self.responses = responses
        by_id = Cache[int, User | None](default_ttl=ttl, name="users_by_id", record_stats=True)
        by_email = Cache[str, User | None](
            default_ttl=ttl, name="users_by_email", record_stats=True
        )
        profiles = Cache[int, Profile | None](default_ttl=ttl, name="profiles", record_stats=True)
        #: The in-process caches (their statistics are what /metrics shows).
        self.local: tuple[Cache[Any, Any], ...] = (by_id, by_email, profiles, responses)
        self.by_id: Cache[int, User | None] | TieredCache[int, User | None] = by_id
        self.by_email: Cache[str, User | None] | TieredCache[str, User | None] = by_email
        self.profiles: Cache[int, Profile | None] | TieredCache[int, Profile | None] = profiles
        if redis_url is not None:
            from .shared import tiered  # needs sweepcache[redis]

            self.by_id = tiered(by_id, redis_url, redis_prefix, ttl)
            self.by_email = tiered(by_email, redis_url, redis_prefix, ttl)
            self.profiles = tiered(profiles, redis_url, redis_prefix, ttl)

    def all(self) -> tuple[Any, ...]:
        """The caches and tiers to run (their sweepers, and the Redis links)."""
        return self.by_id, self.by_email, self.profiles, self.responses

    async def invalidate(self, *tags: str) -> None:
        for cache in self.all():
            await cache.invalidate_tags(*tags)


class UserRepository:
    """Users in PostgreSQL, read through the caches (or straight, with ``caches=None``)."""

    def __init__(self, database: Database, caches: UserCaches | None) -> None:
        self._database = database
        self._caches = caches

    # -- reads: get_or_load, so N concurrent misses of one key run one query ---------

    async def get(self, user_id: int) -> User | None:
        load = functools.partial(self._load_by_id, user_id)
        if self._caches is None:
            return await load()
        return await self._caches.by_id.get_or_load(user_id, load, tags=(f"user:{user_id}",))

    async def get_by_email(self, email: str) -> User | None:
        email = email.lower()
        load = functools.partial(self._load_by_email, email)
        if self._caches is None:
            return await load()
        # Tagged with the address only: every write that can change what an
        # address resolves to (create, update, delete) invalidates the
        # address's tag, old and new. Fixed tags, known before the load, also
        # let an invalidation detach a load in flight from later callers.
        return await self._caches.by_email.get_or_load(email, load, tags=(f"email:{email}",))

    async def get_profile(self, user_id: int) -> Profile | None:
        load = functools.partial(self._load_profile, user_id)
        if self._caches is None:
            return await load()
        return await self._caches.profiles.get_or_load(user_id, load, tags=(f"user:{user_id}",))

    async def list(self, offset: int, limit: int) -> list[User]:
        """A page of users by id (cached as a whole response by the HTTP cache)."""
        async with self._database.session() as session:
            rows = await session.scalars(
                select(UserRow).order_by(UserRow.id).offset(offset).limit(limit)
            )
            return [_user(row) for row in rows]

    async def _load_by_id(self, user_id: int) -> User | None:
        async with self._database.session() as session:
            row = await session.get(UserRow, user_id)
            return None if row is None else _user(row)

    async def _load_by_email(self, email: str) -> User | None:
        async with self._database.session() as session:
            row = await session.scalar(select(UserRow).where(UserRow.email == email))
            return None if row is None else _user(row)

    async def _load_profile(self, user_id: int) -> Profile | None:
        async with self._database.session() as session:
            found = (
                await session.execute(
                    select(UserRow, ProfileRow)
                    .join(ProfileRow, ProfileRow.user_id == UserRow.id)
                    .where(UserRow.id == user_id)
                )
            ).first()
            if found is None:
                return None
            user, profile = found
            return Profile(
                user_id=user.id,
                name=user.name,
                bio=profile.bio,
                location=profile.location,
                version=user.version,
            )

    # -- writes: commit, then invalidate, then answer ---------------------------------

    async def create(self, email: str, name: str, bio: str = "", location: str = "") -> User:
        from sqlalchemy.exc import IntegrityError

        email = email.lower()
        try:
            async with self._database.session() as session, session.begin():
                row = UserRow(email=email, name=name)
                session.add(row)
                await session.flush()
                session.add(ProfileRow(user_id=row.id, bio=bio, location=location))
        except IntegrityError:
            raise EmailTaken(email) from None
        # A cached "no such user" for this id or address must go.
        await self._invalidate(f"user:{row.id}", f"email:{email}", "users")
        return _user(row)

    async def update(
        self,
        user_id: int,
        *,
        email: str | None = None,
        name: str | None = None,
        bio: str | None = None,
        location: str | None = None,
    ) -> User | None:
        from sqlalchemy.exc import IntegrityError

        try:
            async with self._database.session() as session, session.begin():
                row = await session.get(UserRow, user_id, with_for_update=True)
                if row is None:
                    return None
                old_email = row.email
                if email is not None:
                    row.email = email.lower()
                if name is not None:
                    row.name = name
                if bio is not None or location is not None:
                    profile = await session.get(ProfileRow, user_id)
                    assert profile is not None
                    if bio is not None:
                        profile.bio = bio
                    if location is not None:
                        profile.location = location
                row.version += 1
        except IntegrityError:
            raise EmailTaken(email or "") from None
        await self._invalidate(f"user:{user_id}", f"email:{old_email}", f"email:{row.email}")
        return _user(row)

    async def delete(self, user_id: int) -> bool:
        async with self._database.session() as session, session.begin():
            email = await session.scalar(
                delete(UserRow).where(UserRow.id == user_id).returning(UserRow.email)
            )
        if email is None:
            return False
        await self._invalidate(f"user:{user_id}", f"email:{email}", "users")
        return True

    async def _invalidate(self, *tags: str) -> None:
        if self._caches is not None:
            await self._caches.invalidate(*tags)
