"""Run caches' background tasks for an app's lifetime: ``running`` and ``lifespan``."""

from __future__ import annotations

import functools
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Protocol, TypeVar, final, overload, runtime_checkable

import anyio
from starlette.applications import Starlette

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping
    from types import TracebackType

    from anyio.abc import TaskGroup, TaskStatus

_AppT = TypeVar("_AppT", bound=Starlette)


@runtime_checkable
class SupportsRunSweeper(Protocol):
    """Something with a sweeper to run in a task group, like :class:`sweepcache.Cache`."""

    async def run_sweeper(self, *, task_status: TaskStatus[None] = ...) -> object:
        """Run until cancelled; call ``task_status.started()`` once running."""
        ...


@runtime_checkable
class SupportsRun(Protocol):
    """Something with background tasks behind one ``run`` method (a cache tier)."""

    async def run(self, *, task_status: TaskStatus[None] = ...) -> object:
        """Run until cancelled; call ``task_status.started()`` once running."""
        ...


#: What :func:`running` and :func:`lifespan` accept.
Background = SupportsRunSweeper | SupportsRun | AbstractAsyncContextManager[object]


def _check(item: object, where: str) -> None:
    runnable = isinstance(item, (SupportsRunSweeper, SupportsRun)) or (
        hasattr(item, "__aenter__") and hasattr(item, "__aexit__")
    )
    if runnable and not isinstance(item, type):  # an instance, not ``lifespan(Cache)``
        return
    raise TypeError(
        f"{where} must be a cache (with run_sweeper), an object with a "
        f"run(task_status=...) method or an async context manager, got {item!r}"
    )


async def _stop_tasks(
    task_group: TaskGroup,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    traceback: TracebackType | None,
) -> bool:
    """Cancel the group's tasks and wait for them; tell the group only of cancellations."""
    task_group.cancel_scope.cancel()
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        # Maybe the group's own cancellation: let it absorb it.
        return bool(await task_group.__aexit__(exc_type, exc, traceback))
    await task_group.__aexit__(None, None, None)
    return False


@final
class running:
    """Run the background tasks of ``caches`` for the duration of an ``async with``.

    For each object, in order: a :class:`sweepcache.Cache` (anything with
    ``run_sweeper``) gets its sweeper started; an object with a
    ``run(task_status=...)`` method (a Redis tier) gets it started; any other
    async context manager is entered. All of them stop when the block exits
    (in reverse order for context managers). An exception raised in the
    block propagates unchanged, not wrapped in an ``ExceptionGroup``.

    Use it inside a lifespan that does more than run caches; for one that
    does only that, :func:`lifespan` is shorter.

    Args:
        caches: The caches (and tiers) to run.

    Raises:
        TypeError: An argument is none of the above.

    Example::

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            async with database.connect(), running(users, sessions):
                yield
    """

    __slots__ = ("_caches", "_stack", "_task_group")

    def __init__(self, *caches: Background) -> None:
        for index, item in enumerate(caches):
            _check(item, f"caches[{index}]")
        self._caches = caches
        self._stack: AsyncExitStack | None = None
        self._task_group: TaskGroup | None = None

    async def __aenter__(self) -> None:
        """Start everything, in order; on a failure, stop what was started."""
        if self._stack is not None:
            raise RuntimeError("running(...) is already entered; build a new one")
        stack = self._stack = AsyncExitStack()
        task_group = self._task_group = anyio.create_task_group()
        await stack.__aenter__()
        try:
            await task_group.__aenter__()
            stack.push_async_exit(functools.partial(_stop_tasks, task_group))
            for item in self._caches:
                if isinstance(item, SupportsRunSweeper):
                    await task_group.start(item.run_sweeper)
                elif isinstance(item, SupportsRun):
                    await task_group.start(item.run)
                else:
                    await stack.enter_async_context(item)
        except BaseException as exc:
            self._stack = self._task_group = None
            if not await stack.__aexit__(type(exc), exc, exc.__traceback__):
                raise
            raise  # pragma: no cover - nothing in the stack swallows errors

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Stop everything; let an exception from the block through unchanged."""
        stack, self._stack = self._stack, None
        assert stack is not None, "__aexit__ without __aenter__"
        try:
            return bool(await stack.__aexit__(exc_type, exc, traceback))
        finally:
            self._task_group = None


@overload
def lifespan(
    *caches: Background,
    wraps: Callable[[_AppT], AbstractAsyncContextManager[None]] | None = None,
    **named: Background,
) -> Callable[[_AppT], AbstractAsyncContextManager[None]]: ...
@overload
def lifespan(
    *caches: Background,
    wraps: Callable[[_AppT], AbstractAsyncContextManager[Mapping[str, object]]],
    **named: Background,
) -> Callable[[_AppT], AbstractAsyncContextManager[Mapping[str, object]]]: ...
def lifespan(
    *caches: Background,
    wraps: Callable[[_AppT], AbstractAsyncContextManager[Mapping[str, object] | None]]
    | None = None,
    **named: Background,
) -> Callable[[_AppT], AbstractAsyncContextManager[Mapping[str, object] | None]]:
    """A lifespan for a FastAPI or Starlette app that runs the caches' background tasks.

    The caches run (as in :func:`running`) from startup to shutdown. Those
    given by name are also set on ``app.state`` under that name, for
    :class:`CacheDependency` (and removed at shutdown). An existing lifespan
    passed as ``wraps`` runs inside, with the caches already running; the
    state it yields (if any) is passed on.

    Args:
        caches: Caches (and tiers) to run.
        wraps: The app's own lifespan, if it has one.
        named: Caches (and tiers) to run and to set on ``app.state``.

    Returns:
        The lifespan, for ``FastAPI(lifespan=...)`` or ``Starlette(lifespan=...)``.

    Raises:
        TypeError: An argument is not a cache, tier or async context manager,
            or ``wraps`` is not callable.

    Example::

        users = Cache[int, User](default_ttl=300, name="users")
        app = FastAPI(lifespan=lifespan(users=users, wraps=connect_database))
    """
    everything = (*caches, *named.values())
    for index, item in enumerate(caches):
        _check(item, f"caches[{index}]")
    for name, item in named.items():
        _check(item, name)
    if wraps is not None and not callable(wraps):
        raise TypeError(f"wraps must be a lifespan (a callable of the app), got {wraps!r}")

    @asynccontextmanager
    async def run(app: _AppT) -> AsyncIterator[Mapping[str, object] | None]:
        state = app.state
        async with running(*everything):
            for name, item in named.items():
                setattr(state, name, item)
            try:
                if wraps is None:
                    yield None
                else:
                    async with wraps(app) as wrapped_state:
                        yield wrapped_state
            finally:
                for name, item in named.items():
                    if getattr(state, name, None) is item:
                        delattr(state, name)

    return run
