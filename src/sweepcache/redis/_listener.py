"""The invalidation link: a dedicated RESP3 connection with ``CLIENT TRACKING ON BCAST``.

One connection per Redis node holding keys (one for a server, one per primary
of a cluster) runs ``CLIENT TRACKING ON BCAST PREFIX <namespace>`` and reads
the server's ``invalidate`` push messages: one for every key under the prefix
that any client writes, deletes, or that expires or is evicted. The
connection is coredis' raw :class:`~coredis.connection.BaseConnection`, not
its pub/sub layer, which loses handlers on resubscribe and, on trio, ends
``async for`` silently at a reconnect.

The link is *down* from the moment a connection fails, a ``PING`` (every
``ping_interval``) gets no answer within ``ping_timeout``, or the server sends
``tracking-redir-broken``; it is *up* again once every node's connection has
tracking on. ``on_down`` runs at the first failure, ``on_up`` once all nodes
are tracked again (after the owner flushed what it may have missed).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
from coredis.connection import TCPConnection, TCPLocation

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from anyio.abc import TaskStatus

logger = logging.getLogger("sweepcache.redis")

#: Seconds between reconnection attempts: doubling from the first to the last.
_BACKOFF_FIRST = 0.02
_BACKOFF_MAX = 0.5


class _Once:
    """Calls ``task_status.started()`` the first time only."""

    __slots__ = ("_done", "_task_status")

    def __init__(self, task_status: TaskStatus[None]) -> None:
        self._task_status = task_status
        self._done = False

    def started(self) -> None:
        if not self._done:
            self._done = True
            self._task_status.started()


class LinkLost(Exception):
    """The invalidation link failed (a private signal inside the listener)."""


def dispose(connection: Any) -> None:
    """Close what a coredis connection leaves open when it never ran or failed.

    coredis 6.9 creates memory object streams in ``__init__`` and closes them
    only inside ``run``; a connection whose ``run`` failed before reaching
    them warns (``ResourceWarning``) when collected.
    """
    for name, value in list(vars(connection).items()):
        if name.endswith(("_buffer_in", "_buffer_out")) and hasattr(value, "close"):
            try:
                value.close()
            except Exception:  # pragma: no cover - best effort
                pass


_disposing_classes: dict[type[Any], type[Any]] = {}


def disposing_class(connection_class: type[Any]) -> type[Any]:
    """A subclass of a coredis connection class whose ``run`` always disposes of it.

    The workaround for coredis' unclosed streams, for the pools of the
    clients this package makes (``RedisCache(url=...)``).
    """
    subclass = _disposing_classes.get(connection_class)
    if subclass is None:

        async def run(self: Any, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
            try:
                await connection_class.run(self, task_status=task_status)
            finally:
                dispose(self)

        subclass = type(connection_class.__name__, (connection_class,), {"run": run})
        subclass.__module__ = connection_class.__module__
        _disposing_classes[connection_class] = subclass
    return subclass


class Listener:
    """Keeps the tracking connections of one namespace and dispatches their pushes."""

    __slots__ = (
        "_connect_timeout",
        "_kwargs",
        "_nodes",
        "_on_down",
        "_on_keys",
        "_on_up",
        "_ping_interval",
        "_ping_timeout",
        "_prefix",
        "_up_nodes",
        "up",
    )

    def __init__(
        self,
        nodes: Callable[[], Sequence[tuple[str, int]]],
        connection_kwargs: dict[str, Any],
        prefix: bytes,
        *,
        on_keys: Callable[[list[bytes] | None], None],
        on_down: Callable[[], None],
        on_up: Callable[[], Awaitable[None]],
        ping_interval: float,
        ping_timeout: float,
        connect_timeout: float,
    ) -> None:
        self._nodes = nodes
        self._kwargs = connection_kwargs
        self._prefix = prefix
        self._on_keys = on_keys
        self._on_down = on_down
        self._on_up = on_up
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._connect_timeout = connect_timeout
        self._up_nodes: set[tuple[str, int]] = set()
        #: Whether every node's connection is tracking now.
        self.up = False

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Keep one tracking connection per node until cancelled.

        ``task_status.started()`` is called after the first attempt on every
        node, whether it succeeded or not: the owner works (without L1) while
        Redis is unreachable.
        """
        nodes = list(self._nodes())
        async with anyio.create_task_group() as task_group:
            for node in nodes:
                await task_group.start(self._keep_node, node, len(nodes))
            task_status.started()

    async def _keep_node(
        self,
        node: tuple[str, int],
        node_count: int,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        backoff = _BACKOFF_FIRST
        started = _Once(task_status)
        while True:
            try:
                await self._track(node, node_count, started)
            except LinkLost as exc:
                logger.warning("sweepcache.redis: invalidation link to %s lost: %s", node, exc)
            except Exception as exc:
                logger.warning("sweepcache.redis: invalidation link to %s failed: %r", node, exc)
            finally:
                if self._node_down(node):
                    backoff = _BACKOFF_FIRST  # it was up: reconnect at once
            started.started()
            await anyio.sleep(backoff)
            backoff = min(_BACKOFF_MAX, backoff * 2)

    def _node_down(self, node: tuple[str, int]) -> bool:
        """Mark ``node`` down; return whether its link had been up."""
        was_tracked = node in self._up_nodes
        was_up = self.up
        self._up_nodes.discard(node)
        self.up = False
        if was_up:
            self._on_down()
        return was_tracked

    async def _track(self, node: tuple[str, int], node_count: int, started: _Once) -> None:
        connection = TCPConnection(TCPLocation(*node), **self._kwargs)
        try:
            async with anyio.create_task_group() as task_group:
                with anyio.fail_after(self._connect_timeout):
                    await task_group.start(connection.run)
                    reply = await connection.create_request(
                        b"CLIENT",
                        b"TRACKING",
                        b"ON",
                        b"BCAST",
                        b"PREFIX",
                        self._prefix,
                        decode=False,
                        timeout=self._connect_timeout,
                    )
                if reply != b"OK":
                    raise LinkLost(f"CLIENT TRACKING answered {reply!r}")
                task_group.start_soon(self._ping, connection)
                self._up_nodes.add(node)
                if len(self._up_nodes) == node_count and not self.up:
                    # The owner flushes what it may have missed before trusting
                    # the link again; pushes that arrive meanwhile queue up.
                    await self._on_up()
                    self.up = len(self._up_nodes) == node_count
                started.started()
                async for message in connection.push_messages:
                    self._dispatch(message)
                raise LinkLost("push stream ended")  # pragma: no cover - ends by raising
        except Exception as exc:  # a task group wraps what its tasks raised
            raise LinkLost(_describe(exc)) from None
        finally:
            connection.invalidate()
            dispose(connection)

    async def _ping(self, connection: TCPConnection) -> None:
        while True:
            await anyio.sleep(self._ping_interval)
            try:
                with anyio.fail_after(self._ping_timeout):
                    await connection.create_request(b"PING", timeout=self._ping_timeout)
            except Exception as exc:
                raise LinkLost(f"PING failed: {exc!r}") from None

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, list) or not message:
            return
        kind = message[0]
        if kind == b"invalidate":
            keys = message[1] if len(message) > 1 else None
            if keys is None:
                self._on_keys(None)  # FLUSHDB / FLUSHALL
            elif isinstance(keys, list):
                self._on_keys([key for key in keys if isinstance(key, bytes)])
        elif kind == b"tracking-redir-broken":
            # Only sent in REDIRECT mode (not used here: pushes come on the
            # tracking connection itself), but if it ever comes the link can
            # no longer be trusted.
            raise LinkLost("tracking-redir-broken")


def _describe(error: BaseException) -> str:
    """The leaf errors of a (possibly nested) exception group, shortly."""
    leaves: list[str] = []

    def walk(exc: BaseException) -> None:
        inner = getattr(exc, "exceptions", None)
        if isinstance(inner, tuple):
            for each in inner:
                walk(each)
        elif isinstance(exc, LinkLost):
            leaves.append(str(exc))
        else:
            leaves.append(repr(exc))

    walk(error)
    return "; ".join(leaves[:3])
