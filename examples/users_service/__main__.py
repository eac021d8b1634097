"""``python -m examples.users_service``: create a schema, seed users, serve, drop the schema.

Options::

    --host 127.0.0.1 --port 8000   where uvicorn listens
    --users 1000                   users to create
    --no-cache                     serve without any cache (for comparisons)
    --database-url URL             default: $USERS_SERVICE_DATABASE_URL or the local PostgreSQL
    --redis URL                    share the repository caches through Redis (a tier
                                   behind each process's caches); default:
                                   $USERS_SERVICE_REDIS_URL, else local caches only

Stops on Ctrl-C (or SIGTERM) and drops its schema on the way out.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from typing import TYPE_CHECKING

import anyio
import uvicorn

from .app import create_app
from .db import Database
from .settings import Settings

if TYPE_CHECKING:
    from types import FrameType


class _Server(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal after a graceful exit.

    uvicorn re-raises SIGINT/SIGTERM once it has stopped, which would end the
    process before the schema is dropped.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop now
        self.should_exit = True


async def serve(settings: Settings, host: str, port: int, users: int) -> None:
    database = Database(settings)
    await database.create(users=users)
    try:
        app = create_app(settings, database)
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", http="h11", ws="none", lifespan="on"
        )
        caching = "on" if settings.cache else "off"
        if settings.cache and settings.redis_url is not None:
            caching += f", shared through {settings.redis_url}"
        print(
            f"users service on http://{host}:{port} "
            f"(schema {database.schema}, {users} users, cache {caching})",
            flush=True,
        )
        await _Server(config).serve()
    finally:
        with anyio.CancelScope(shield=True):
            await database.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.users_service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis", default=None, metavar="URL")
    args = parser.parse_args(argv)
    settings = Settings(cache=not args.no_cache)
    if args.database_url:
        settings = dataclasses.replace(settings, database_url=args.database_url)
    if args.redis:
        settings = dataclasses.replace(settings, redis_url=args.redis)
    anyio.run(serve, settings, args.host, args.port, args.users)
    return 0


if __name__ == "__main__":
    sys.exit(main())
