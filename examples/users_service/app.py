"""The FastAPI app: users, their profiles, a cached list, and ``/metrics``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from sweepcache import Cache
from sweepcache.asgi import CachedResponse, CacheMiddleware, ResponseKey
from sweepcache.fastapi import lifespan

from .metrics import Metrics
from .repository import EmailTaken, Profile, User, UserCaches, UserRepository

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager

    from .db import Database
    from .settings import Settings


class NewUser(BaseModel):
    email: str
    name: str
    bio: str = ""
    location: str = ""


class UserChanges(BaseModel):
    email: str | None = None
    name: str | None = None
    bio: str | None = None
    location: str | None = None


def repository(request: Request) -> UserRepository:
    found: UserRepository = request.app.state.repository
    return found


Users = Annotated[UserRepository, Depends(repository)]
T = TypeVar("T")


def create_app(settings: Settings, database: Database) -> FastAPI:
    """The service on ``database`` (created and dropped by the caller)."""
    caches: UserCaches | None = None
    if settings.cache:
        responses = Cache[ResponseKey, CachedResponse](name="responses", record_stats=True)
        caches = UserCaches(
            settings.user_ttl,
            responses,
            redis_url=settings.redis_url,
            redis_prefix=f"{settings.redis_prefix}{database.schema}:",
        )
        # lifespan() runs the caches' sweepers and sets them on app.state.
        running: Callable[[FastAPI], AbstractAsyncContextManager[None]] = lifespan(
            users_by_id=caches.by_id,
            users_by_email=caches.by_email,
            profiles=caches.profiles,
            responses=responses,
        )
        app = FastAPI(title="users service", lifespan=running)
        # Only what says Cache-Control is stored: here, the list.
        app.add_middleware(CacheMiddleware, cache=responses, max_ttl=settings.list_ttl)
    else:
        app = FastAPI(title="users service (no cache)")
    app.state.repository = UserRepository(database, caches)
    app.state.metrics = Metrics(database, *(caches.local if caches else ()))

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/users")
    async def list_users(
        users: Users,
        response: Response,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> list[User]:
        page = await users.list(offset, limit)
        if settings.cache:
            # Stored for list_ttl seconds; dropped when one of its users changes
            # (user:<id>) or when users come or go (users).
            response.headers["Cache-Control"] = f"max-age={settings.list_ttl}"
            tags = ["users", *(f"user:{user.id}" for user in page)]
            response.headers["Cache-Tag"] = ",".join(tags)
        return page

    @app.post("/users", status_code=201)
    async def create_user(new: NewUser, users: Users) -> User:
        try:
            return await users.create(new.email, new.name, new.bio, new.location)
        except EmailTaken:
            raise HTTPException(409, "e-mail address taken") from None

    @app.get("/users/by-email/{email}")
    async def get_user_by_email(email: str, users: Users) -> User:
        return _found(await users.get_by_email(email))

    @app.get("/users/{user_id}")
    async def get_user(user_id: int, users: Users) -> User:
        return _found(await users.get(user_id))

    @app.get("/users/{user_id}/profile")
    async def get_profile(user_id: int, users: Users) -> Profile:
        return _found(await users.get_profile(user_id))

    @app.patch("/users/{user_id}")
    async def update_user(user_id: int, changes: UserChanges, users: Users) -> User:
        try:
            updated = await users.update(user_id, **changes.model_dump(exclude_unset=True))
        except EmailTaken:
            raise HTTPException(409, "e-mail address taken") from None
        return _found(updated)

    @app.delete("/users/{user_id}", status_code=204)
    async def delete_user(user_id: int, users: Users) -> None:
        if not await users.delete(user_id):
            raise HTTPException(404, "no such user")

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        exposition = request.app.state.metrics.exposition()
        return Response(content=exposition, media_type=CONTENT_TYPE_LATEST)

    return app


def _found(value: T | None) -> T:
    if value is None:
        raise HTTPException(404, "no such user")
    return value
