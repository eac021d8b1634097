"""``@cached``: single-flight caching of async functions and methods."""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, final, overload

from ._cache import DEFAULT_TTL, check_ttl
from ._loading import check_refresh_ahead, check_timeout

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Generator, Hashable

    from ._cache import Cache, TTLArg

P = ParamSpec("P")
P2 = ParamSpec("P2")
R = TypeVar("R")
S = TypeVar("S")
_CachedT = TypeVar("_CachedT", bound="CachedFunction[Any, Any]")

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def default_key_builder(func: Callable[..., object]) -> Callable[..., tuple[object, ...]]:
    """Return the default key builder of ``@cached`` for ``func``.

    The key of a call is the tuple ``(name, *arguments, *types)``: ``name`` is
    ``f"{func.__module__}.{func.__qualname__}"``; ``arguments`` are the call's
    arguments bound to ``func``'s signature with defaults applied, in
    parameter order, so ``f(1)``, ``f(1, b=2)`` (2 being the default) and
    ``f(a=1)`` share a key; ``types`` are their types, so ``f(1)`` and
    ``f(1.0)`` do not (like ``functools.lru_cache(typed=True)``). A ``*args``
    parameter contributes the tuple of its values (and a tuple of their
    types); a ``**kwargs`` parameter the tuple of its items sorted by name.
    Types nested inside an argument (``(1,)`` vs ``(1.0,)``) are not told
    apart. A method's ``self`` is an argument like any other, so instances
    share entries only if they are equal and hash alike.

    Example::

        async def user(uid: int, full: bool = False) -> dict: ...

        key = default_key_builder(user)
        assert key(7) == key(uid=7, full=False) == ("app.user", 7, False, int, bool)
    """
    signature = inspect.signature(func)
    name = f"{func.__module__}.{func.__qualname__}"
    parameters = tuple(signature.parameters.values())
    simple = all(parameter.kind in _POSITIONAL for parameter in parameters)
    count = len(parameters)
    defaults = tuple(parameter.default for parameter in parameters)
    # Calls with positional arguments only skip Signature.bind (~3 us, ten
    # times the rest of a cached hit): the common case on the hit path.
    first_default = count
    while first_default and defaults[first_default - 1] is not inspect.Parameter.empty:
        first_default -= 1

    def key(*args: object, **kwargs: object) -> tuple[object, ...]:
        if simple and not kwargs:
            given = len(args)
            if given == count:
                return (name, *args, *map(type, args))
            if first_default <= given < count:
                values = args + defaults[given:]
                return (name, *values, *map(type, values))
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments: list[object] = [name]
        types: list[object] = []
        for parameter in parameters:
            value = bound.arguments[parameter.name]
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                arguments.append(value)
                types.append(tuple(map(type, value)))
            elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
                items = tuple(sorted(value.items()))
                arguments.append(items)
                types.append(tuple(type(item) for _, item in items))
            else:
                arguments.append(value)
                types.append(type(value))
        return (*arguments, *types)

    return key


def _unhashable_argument(
    func: Callable[..., object], args: tuple[object, ...], kwargs: dict[str, object]
) -> TypeError | None:
    """The error naming the first unhashable argument of a call, if any."""
    try:
        arguments = inspect.signature(func).bind(*args, **kwargs).arguments
    except TypeError:
        return None
    for parameter, value in arguments.items():
        values = value.values() if isinstance(value, dict) else [value]
        for item in values:
            if not _is_hashable(item):
                return TypeError(
                    f"argument {parameter!r} of {func.__qualname__}() is unhashable "
                    f"({type(item).__name__}), so the call has no cache key; "
                    f"pass hashable arguments or a key= function to @cached"
                )
    return None


def _is_hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@final
class Invalidation:
    """Whether an invalidation removed a live entry; usable with or without ``await``.

    The entry is deleted when ``invalidate`` is called; awaiting the result
    only returns the same bool, so that code written for an asynchronous
    cache tier keeps working (AnyIO 3 did the same for ``current_time()``).

    Example::

        assert fetch_user.invalidate(7)  # sync
        assert not await fetch_user.invalidate(7)  # already gone
    """

    __slots__ = ("_deleted",)

    def __init__(self, deleted: bool) -> None:
        self._deleted = deleted

    def __bool__(self) -> bool:
        return self._deleted

    def __await__(self) -> Generator[Any, Any, bool]:
        yield from ()  # never suspends: the deletion already happened
        return self._deleted

    def __eq__(self, other: object) -> bool:
        return bool(self) == other if isinstance(other, (bool, Invalidation)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._deleted)

    def __repr__(self) -> str:
        return f"<sweepcache invalidation deleted={self._deleted}>"


@final
class CachedFunction(Generic[P, R]):
    """An async function whose results are cached; made by :func:`cached`.

    Calling it returns the cached result or runs the function once per key
    (single-flight) through :meth:`sweepcache.Cache.get_or_load`. As a class
    attribute it binds like a method.

    Example::

        @cached(cache, ttl=60)
        async def fetch_user(uid: int) -> dict: ...

        await fetch_user(7)
        fetch_user.key(7)  # the cache key of that call
        fetch_user.invalidate(7)
    """

    # Copied from the wrapped function by functools.update_wrapper.
    __name__: str
    __qualname__: str
    __wrapped__: Callable[P, Awaitable[R]]

    def __init__(
        self,
        func: Callable[P, Awaitable[R]],
        cache: Cache[Any, Any],
        ttl: TTLArg,
        key: Callable[P, Hashable] | None,
        timeout: float | None,
        refresh_ahead: float | None,
    ) -> None:
        functools.update_wrapper(self, func)
        self._func = func
        self._cache = cache
        self._ttl = ttl
        self._timeout = timeout
        self._refresh_ahead = refresh_ahead
        self._key: Callable[P, Hashable] = default_key_builder(func) if key is None else key
        if hasattr(inspect, "markcoroutinefunction"):  # Python 3.12+
            inspect.markcoroutinefunction(self)

    @property
    def cache(self) -> Cache[Any, Any]:
        """The cache the results are stored in."""
        return self._cache

    def key(self, *args: P.args, **kwargs: P.kwargs) -> Hashable:
        """Return the cache key that calling with these arguments would use.

        Example::

            assert fetch_user.key(7) == fetch_user.key(uid=7)
        """
        return self._key(*args, **kwargs)

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Return the cached result for these arguments, computing it on a miss."""
        key = self._key(*args, **kwargs)
        cache = self._cache
        if self._refresh_ahead is None:
            # The hit path of get_or_load, inlined: it saves a coroutine, a
            # closure and three keyword arguments, a third of a cached hit
            # (975 -> 664 ns per `await f(1)` hit, 200k-call loop, CPython 3.11).
            try:
                entry = cache._data.get(key)
            except TypeError:
                self._raise_if_unhashable(key, args, kwargs)
                raise
            if entry is not None and cache._clock() < entry[1]:
                return entry[0]  # type: ignore[no-any-return]
        func = self._func
        try:
            # The loader is a closure, built per call; cheaper than a partial.
            return await cache.get_or_load(  # type: ignore[no-any-return]
                key,
                lambda: func(*args, **kwargs),
                ttl=self._ttl,
                timeout=self._timeout,
                refresh_ahead=self._refresh_ahead,
            )
        except TypeError:
            self._raise_if_unhashable(key, args, kwargs)
            raise

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> Invalidation:
        """Delete the cached result for these arguments, now.

        A load in flight for them is detached: its callers get its result,
        but it is not stored.

        Returns:
            An :class:`Invalidation`: true if a live entry was deleted; it
            may also be awaited (``await f.invalidate(...)``) for the same bool.

        Raises:
            TypeError: An argument is unhashable.

        Example::

            fetch_user.invalidate(7)
        """
        key = self._key(*args, **kwargs)
        try:
            return Invalidation(self._cache.delete_nowait(key))
        except TypeError:
            self._raise_if_unhashable(key, args, kwargs)
            raise

    def _raise_if_unhashable(
        self, key: Hashable, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> None:
        try:
            hash(key)
        except TypeError:
            error = _unhashable_argument(self._func, args, kwargs)
            if error is not None:
                raise error from None

    @overload
    def __get__(self: _CachedT, instance: None, owner: type[Any] | None = None) -> _CachedT: ...
    @overload
    def __get__(
        self: CachedFunction[Concatenate[S, P2], R], instance: S, owner: type[Any] | None = None
    ) -> CachedMethod[P2, R]: ...
    def __get__(self, instance: object, owner: type[Any] | None = None) -> object:
        """Bind to ``instance`` like a method (``obj.method.invalidate(1)`` works)."""
        if instance is None:
            return self
        return CachedMethod(self, instance)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<sweepcache cached function {self._func.__module__}.{self._func.__qualname__}>"


@final
class CachedMethod(Generic[P, R]):
    """A :class:`CachedFunction` bound to an instance (``obj.method``).

    Example::

        await repo.get_user(7)
        repo.get_user.invalidate(7)  # same as Repo.get_user.invalidate(repo, 7)
    """

    __slots__ = ("__func__", "__self__")

    def __init__(self, function: CachedFunction[Concatenate[Any, P], R], instance: object) -> None:
        self.__func__ = function
        self.__self__ = instance

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Return the cached result for these arguments, computing it on a miss."""
        return await self.__func__(self.__self__, *args, **kwargs)

    def key(self, *args: P.args, **kwargs: P.kwargs) -> Hashable:
        """Return the cache key that calling with these arguments would use."""
        return self.__func__.key(self.__self__, *args, **kwargs)

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> Invalidation:
        """Delete the cached result for these arguments (see ``CachedFunction.invalidate``)."""
        return self.__func__.invalidate(self.__self__, *args, **kwargs)

    @property
    def cache(self) -> Cache[Any, Any]:
        """The cache the results are stored in."""
        return self.__func__.cache

    def __getattr__(self, name: str) -> Any:
        # __name__, __doc__, __wrapped__... of the underlying function.
        return getattr(self.__func__, name)

    def __repr__(self) -> str:
        return f"<bound {self.__func__!r} of {self.__self__!r}>"


@overload
def cached(
    cache: Cache[Any, Any],
    *,
    ttl: TTLArg = ...,
    key: None = None,
    timeout: float | None = None,
    refresh_ahead: float | None = None,
) -> Callable[[Callable[P, Awaitable[R]]], CachedFunction[P, R]]: ...
@overload
def cached(
    cache: Cache[Any, Any],
    *,
    ttl: TTLArg = ...,
    key: Callable[P, Hashable],
    timeout: float | None = None,
    refresh_ahead: float | None = None,
) -> Callable[[Callable[P, Awaitable[R]]], CachedFunction[P, R]]: ...
def cached(
    cache: Cache[Any, Any],
    *,
    ttl: TTLArg = DEFAULT_TTL,
    key: Callable[..., Hashable] | None = None,
    timeout: float | None = None,
    refresh_ahead: float | None = None,
) -> Callable[[Callable[..., Awaitable[Any]]], CachedFunction[..., Any]]:
    """Cache an async function's results in ``cache``, loading each key once at a time.

    The decorated function keeps its signature for type checkers. Calls go
    through :meth:`sweepcache.Cache.get_or_load`, so concurrent calls with
    the same key run the function once and share its result or exception.
    It works on methods too (``self`` is part of the key).

    Args:
        cache: Where results are stored. It takes any key type: the keys are
            the key builder's.
        ttl: Seconds a result lives, as in :meth:`sweepcache.Cache.set`.
        key: Builds the cache key from the call's arguments (it gets the
            same arguments as the function, ``self`` included). Defaults to
            :func:`default_key_builder`.
        timeout: Seconds one run of the function may take; see
            :meth:`sweepcache.Cache.get_or_load`.
        refresh_ahead: Early refresh window; see
            :meth:`sweepcache.Cache.get_or_load`.

    Returns:
        A decorator turning an ``async def`` function into a
        :class:`CachedFunction` with ``.key(...)`` and ``.invalidate(...)``.

    Raises:
        TypeError: The decorated object is not an ``async def`` function, or
            an argument has the wrong type. Calls raise ``TypeError`` naming
            the parameter when an argument is unhashable.
        ValueError: ``ttl``, ``timeout`` or ``refresh_ahead`` is out of range.

    Example::

        cache = Cache[Any, Any](default_ttl=60)

        @cached(cache, ttl=300)
        async def fetch_user(uid: int) -> dict:
            return await db.fetch_user(uid)

        user = await fetch_user(7)
        fetch_user.invalidate(7)
    """
    if ttl is not DEFAULT_TTL:
        check_ttl(ttl)
    check_timeout(timeout)
    check_refresh_ahead(refresh_ahead)
    if key is not None and not callable(key):
        raise TypeError(f"key must be a callable building a cache key, got {key!r}")

    def decorate(func: Callable[..., Awaitable[Any]]) -> CachedFunction[..., Any]:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(
                f"@cached wraps async def functions, got {func!r}; caching a sync "
                f"function's result (or a coroutine object) is not supported"
            )
        return CachedFunction(func, cache, ttl, key, timeout, refresh_ahead)

    return decorate
