"""``@cached``: single-flight caching of async functions and methods."""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    NamedTuple,
    ParamSpec,
    Protocol,
    TypeVar,
    final,
    overload,
    runtime_checkable,
)

from ._arguments import (
    DEFAULT_TTL,
    check_refresh_ahead,
    check_refresh_window,
    check_timeout,
    check_ttl,
    safe_repr,
)
from ._cache import Cache
from ._loading import DoNotStore, load
from ._stats import count_value

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Generator, Hashable, Iterable

    from ._arguments import TTLArg

P = ParamSpec("P")
P2 = ParamSpec("P2")
R = TypeVar("R")
S = TypeVar("S")
_CachedT = TypeVar("_CachedT", bound="CachedFunction[Any, Any]")

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_MISSING: Any = object()
#: Tells apart the namespaces of functions that may differ per object (closures, partials).
_instances = itertools.count(1)
_instances_lock = threading.Lock()


@runtime_checkable
class AsyncCacheLike(Protocol):
    """What ``@cached`` needs from a cache that is not a :class:`~sweepcache.Cache`.

    A second tier (``sweepcache.redis``) or your own adapter: ``get_or_load``
    with :meth:`sweepcache.Cache.get_or_load`'s semantics, ``delete``, and
    ``invalidate_tags`` for ``tags=`` and :meth:`CachedFunction.cache_clear`.
    """

    async def get_or_load(
        self,
        key: Any,
        loader: Callable[[], Awaitable[Any]],
        *,
        ttl: Any = ...,
        timeout: float | None = ...,
        refresh_ahead: float | None = ...,
        tags: Any = ...,
    ) -> Any:
        """Return the value under ``key``, loading it once on a miss."""

    async def delete(self, key: Any) -> bool:
        """Remove ``key``; return whether it held a live entry."""

    async def invalidate_tags(self, *tags: Hashable) -> int:
        """Remove every entry carrying any of ``tags``; return how many."""


def namespace_of(func: Callable[..., object]) -> str:
    """The default key namespace of ``func``: its module and qualified name.

    A closure (a nested function that uses variables of the enclosing one)
    or a :func:`functools.partial` may compute different results from another
    object with the same name, so each such object gets a namespace of its
    own, suffixed ``#<n>`` (unique in this process); pass ``namespace=`` to
    ``@cached`` to share entries between equivalent ones (or across processes).

    Example::

        def make_fetcher(base_url: str):
            async def fetch(path: str) -> bytes: ...

            return fetch

        namespace_of(make_fetcher("a"))  # 'app.make_fetcher.<locals>.fetch#1'
    """
    target = func.func if isinstance(func, functools.partial) else func
    name = f"{getattr(target, '__module__', None)}.{getattr(target, '__qualname__', repr(target))}"
    if isinstance(func, functools.partial) or getattr(func, "__closure__", None):
        with _instances_lock:
            number = next(_instances)
        name = f"{name}#{number}"
    return name


def default_key_builder(
    func: Callable[..., object], namespace: str | None = None
) -> Callable[..., tuple[object, ...]]:
    """Return the default key builder of ``@cached`` for ``func``.

    The key of a call is the tuple ``(namespace, *arguments, *types)``:
    ``namespace`` defaults to :func:`namespace_of` ``(func)``; ``arguments``
    are the call's arguments bound to ``func``'s signature with defaults
    applied, in parameter order, so ``f(1)``, ``f(1, b=2)`` (2 being the
    default) and ``f(a=1)`` share a key; ``types`` are their types, so
    ``f(1)`` and ``f(1.0)`` do not (like ``functools.lru_cache(typed=True)``).
    A ``*args`` parameter contributes the tuple of its values (and a tuple of
    their types); a ``**kwargs`` parameter the tuple of its items sorted by
    name. Types nested inside an argument (``(1,)`` vs ``(1.0,)``) are not
    told apart. A method's ``self`` is an argument like any other, so
    instances share entries only if they are equal and hash alike.

    Example::

        async def user(uid: int, full: bool = False) -> dict: ...

        key = default_key_builder(user, "app.user")
        assert key(7) == key(uid=7, full=False) == ("app.user", 7, False, int, bool)
    """
    signature = inspect.signature(func)
    name = namespace_of(func) if namespace is None else namespace
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


def _is_hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _unhashable_argument(
    func: Callable[..., object], args: tuple[object, ...], kwargs: dict[str, object]
) -> TypeError | None:
    """The error naming the first unhashable argument of a call, if any."""
    try:
        signature = inspect.signature(func)
        arguments = signature.bind(*args, **kwargs).arguments
    except (TypeError, ValueError):
        return None
    for parameter, value in arguments.items():
        kind = signature.parameters[parameter].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            items = [(f"{parameter}[{name!r}]", item) for name, item in value.items()]
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            items = [(f"{parameter}[{index}]", item) for index, item in enumerate(value)]
        else:
            items = [(repr(parameter), value)]
        for label, item in items:
            if not _is_hashable(item):
                return TypeError(
                    f"argument {label} of {_name(func)}() is unhashable "
                    f"({type(item).__name__}), so the call has no cache key; "
                    f"pass hashable arguments or a key= function to @cached"
                )
    return None


def _name(func: Callable[..., object]) -> str:
    target = func.func if isinstance(func, functools.partial) else func
    return getattr(target, "__qualname__", safe_repr(target))


@final
class Invalidation:
    """The outcome of an invalidation, usable with or without ``await``.

    On a :class:`~sweepcache.Cache` the entries are removed when the
    invalidation is called; awaiting the result only returns the same value,
    so that code written for an asynchronous tier keeps working (AnyIO 3 did
    the same for ``current_time()``). On another tier (see
    :class:`AsyncCacheLike`) nothing happens until it is awaited, and ``bool()``
    of it raises :class:`TypeError`.

    Example::

        assert fetch_user.invalidate(7)  # sync
        assert not await fetch_user.invalidate(7)  # already gone
    """

    __slots__ = ("_pending", "_result")

    def __init__(
        self, result: int | bool, pending: Coroutine[Any, Any, int | bool] | None = None
    ) -> None:
        self._result = result
        self._pending = pending

    def __bool__(self) -> bool:
        if self._pending is not None:
            raise TypeError("this invalidation runs on a remote tier: await it")
        return bool(self._result)

    @property
    def count(self) -> int:
        """How many live entries the invalidation removed (local caches)."""
        if self._pending is not None:
            raise TypeError("this invalidation runs on a remote tier: await it")
        return int(self._result)

    def __await__(self) -> Generator[Any, Any, bool]:
        pending = self._pending
        if pending is not None:
            self._pending = None
            self._result = yield from pending.__await__()
        return bool(self._result)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Invalidation):
            return bool(self) == bool(other)
        return bool(self) == other if isinstance(other, (bool, int)) else NotImplemented

    def __hash__(self) -> int:
        return hash(bool(self))

    def __repr__(self) -> str:
        if self._pending is not None:
            return "<sweepcache invalidation pending (await it)>"
        return f"<sweepcache invalidation removed={self._result!r}>"

    def __del__(self) -> None:
        pending = self._pending
        if pending is not None:
            pending.close()  # never awaited: no "coroutine was never awaited" warning


class CacheInfo(NamedTuple):
    """``cache_info()`` of a ``@cached`` function, in async-lru's (and functools') shape.

    ``hits`` counts calls that got a result without running the function
    (callers that waited on another caller's run included, as async-lru
    counts them); ``misses`` the calls that ran it; ``maxsize`` is the
    cache's bound (``None``: unbounded); ``currsize`` the entries of this
    function in the cache now.
    """

    hits: int
    misses: int
    maxsize: int | None
    currsize: int


@final
class FunctionTag:
    """The tag every entry of one ``@cached`` function carries (for ``cache_clear``)."""

    __slots__ = ("namespace",)

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FunctionTag) and other.namespace == self.namespace

    def __hash__(self) -> int:
        return hash((FunctionTag, self.namespace))

    def __repr__(self) -> str:
        return f"FunctionTag({self.namespace!r})"


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
        fetch_user.cache_clear()  # every result of fetch_user
    """

    # Copied from the wrapped function by functools.update_wrapper.
    __name__: str
    __qualname__: str
    __wrapped__: Callable[P, Awaitable[R]]

    def __init__(
        self,
        func: Callable[P, Awaitable[R]],
        cache: Cache[Any, Any] | AsyncCacheLike,
        ttl: TTLArg,
        key: Callable[P, Hashable] | None,
        timeout: float | None,
        refresh_ahead: float | None,
        condition: Callable[[R], bool] | None,
        namespace: str | None,
        tags: Callable[..., Iterable[Hashable]] | None,
    ) -> None:
        functools.update_wrapper(self, func)
        self._func = func
        self._cache = cache
        self._local = isinstance(cache, Cache)
        # The call's fast paths skip the cache's own get_or_load: only for
        # Cache itself, not a subclass that may override it.
        self._inline = self._local and getattr(type(cache), "_origin", None) is Cache
        self._ttl = ttl
        self._timeout = timeout
        self._refresh_ahead = refresh_ahead
        self._condition = condition
        self._namespace = namespace_of(func) if namespace is None else namespace
        self._tag = FunctionTag(self._namespace)
        self._own_tags = (self._tag,)  # one tuple shared by every entry of the function
        self._tags = tags
        self._result_tags = tags is not None and _takes_result(tags)
        self._key: Callable[P, Hashable] = (
            default_key_builder(func, self._namespace) if key is None else key
        )
        self._hits = itertools.count()
        self._misses = itertools.count()
        if hasattr(inspect, "markcoroutinefunction"):  # Python 3.12+
            inspect.markcoroutinefunction(self)

    @property
    def cache(self) -> Cache[Any, Any] | AsyncCacheLike:
        """The cache the results are stored in."""
        return self._cache

    @property
    def namespace(self) -> str:
        """The namespace of this function's keys (and of its ``cache_clear``)."""
        return self._namespace

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
        try:
            if self._inline and self._refresh_ahead is None:
                # The hit path of get_or_load without its keyword arguments
                # and closure: a third of a cached hit (975 -> 664 ns per
                # `await f(1)` hit, 200k-call loop, CPython 3.11). A miss goes
                # straight to the load: get_nowait has counted it already.
                value: R = cache.get_nowait(key, _MISSING)  # type: ignore[union-attr]
                if value is not _MISSING:
                    next(self._hits)
                    return value
            ran: list[bool] = []  # set by the loader if this call runs the function
            try:
                if self._inline and self._refresh_ahead is None:
                    return await load(
                        cache,  # type: ignore[arg-type]
                        key,
                        self._loader(args, kwargs, ran),
                        self._ttl,
                        self._timeout,
                        None,
                        self._call_tags(args, kwargs),
                    )
                return await cache.get_or_load(  # type: ignore[no-any-return]
                    key,
                    self._loader(args, kwargs, ran),
                    ttl=self._ttl,
                    timeout=self._timeout,
                    refresh_ahead=self._refresh_ahead,
                    tags=self._call_tags(args, kwargs),
                )
            finally:
                next(self._misses if ran else self._hits)
        except TypeError:
            self._raise_if_unhashable(key, args, kwargs)
            raise

    def _loader(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], ran: list[bool]
    ) -> Callable[[], Awaitable[Any]]:
        func = self._func
        condition = self._condition

        async def run() -> Any:
            ran.append(True)
            result = await func(*args, **kwargs)
            if condition is None or condition(result):
                return result
            return DoNotStore(result)

        return run

    def _call_tags(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        own = self._tag
        tags = self._tags
        if tags is None:
            return self._own_tags
        if self._result_tags:
            return lambda result: (own, *tags(*args, **kwargs, result=result))
        return (own, *tags(*args, **kwargs))

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
            if self._local:
                return Invalidation(self._cache.delete_nowait(key))  # type: ignore[union-attr]
            hash(key)
            return Invalidation(False, self._cache.delete(key))
        except TypeError:
            self._raise_if_unhashable(key, args, kwargs)
            raise

    def cache_clear(self) -> Invalidation:
        """Delete every result this function cached (async-lru's name), now.

        Loads in flight for it are detached.

        Returns:
            An :class:`Invalidation` whose :attr:`~Invalidation.count` is the
            number of live entries removed; awaitable too.

        Example::

            fetch_user.cache_clear()
        """
        cache = self._cache
        if self._local:
            return Invalidation(cache.invalidate_tags_nowait(self._tag))  # type: ignore[union-attr]
        return Invalidation(0, cache.invalidate_tags(self._tag))

    def cache_info(self) -> CacheInfo:
        """Return hits, misses, the cache's ``maxsize`` and this function's entries now.

        Example::

            await fetch_user(7)
            await fetch_user(7)
            assert fetch_user.cache_info()[:2] == (1, 1)
        """
        cache = self._cache
        currsize = 0
        maxsize = None
        if isinstance(cache, Cache):
            maxsize = getattr(cache, "maxsize", None)
            # (``get`` with one argument: on free-threaded builds the index is a
            # LookupDict, whose ``get`` takes no default.)
            currsize = sum(len(shard.tag_index.get(self._tag) or ()) for shard in cache._shards)
        return CacheInfo(count_value(self._hits), count_value(self._misses), maxsize, currsize)

    def _raise_if_unhashable(
        self, key: Hashable, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> None:
        try:
            hash(key)
        except TypeError:
            error = _unhashable_argument(self._func, args, kwargs)
            if error is None:
                error = TypeError(
                    f"the key= function of @cached {_name(self._func)}() returned an "
                    f"unhashable key ({type(key).__name__}): keys must be hashable"
                )
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
        return f"<sweepcache cached function {self._namespace}>"


def _takes_result(tags: Callable[..., object]) -> bool:
    """Whether a ``tags=`` callable wants the result (a keyword-only ``result`` parameter)."""
    try:
        parameter = inspect.signature(tags).parameters.get("result")
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind is inspect.Parameter.KEYWORD_ONLY


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

    def cache_clear(self) -> Invalidation:
        """Delete every result of the function, for every instance (see ``CachedFunction``)."""
        return self.__func__.cache_clear()

    def cache_info(self) -> CacheInfo:
        """Statistics of the function, for every instance (see ``CachedFunction``)."""
        return self.__func__.cache_info()

    @property
    def cache(self) -> Cache[Any, Any] | AsyncCacheLike:
        """The cache the results are stored in."""
        return self.__func__.cache

    def __copy__(self) -> CachedMethod[P, R]:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> CachedMethod[P, R]:
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CachedMethod):
            return NotImplemented
        return other.__func__ is self.__func__ and other.__self__ is self.__self__

    def __hash__(self) -> int:
        return hash((id(self.__func__), id(self.__self__)))

    def __getattr__(self, name: str) -> Any:
        # __name__, __doc__, __wrapped__... of the underlying function. Looked
        # up without recursion on a half-built copy (pickle, copy) that has
        # no __func__ yet.
        try:
            function = object.__getattribute__(self, "__func__")
        except AttributeError:
            raise AttributeError(name) from None
        return getattr(function, name)

    def __repr__(self) -> str:
        return f"<bound {self.__func__!r} of {safe_repr(self.__self__)}>"


@overload
def cached(
    cache: Cache[Any, Any] | AsyncCacheLike,
    *,
    ttl: TTLArg = ...,
    key: None = None,
    timeout: float | None = None,
    refresh_ahead: float | None = None,
    condition: Callable[[Any], bool] | None = None,
    namespace: str | None = None,
    tags: Callable[..., Iterable[Hashable]] | None = None,
) -> Callable[[Callable[P, Awaitable[R]]], CachedFunction[P, R]]: ...
@overload
def cached(
    cache: Cache[Any, Any] | AsyncCacheLike,
    *,
    ttl: TTLArg = ...,
    key: Callable[P, Hashable],
    timeout: float | None = None,
    refresh_ahead: float | None = None,
    condition: Callable[[Any], bool] | None = None,
    namespace: str | None = None,
    tags: Callable[..., Iterable[Hashable]] | None = None,
) -> Callable[[Callable[P, Awaitable[R]]], CachedFunction[P, R]]: ...
def cached(
    cache: Cache[Any, Any] | AsyncCacheLike,
    *,
    ttl: TTLArg = DEFAULT_TTL,
    key: Callable[..., Hashable] | None = None,
    timeout: float | None = None,
    refresh_ahead: float | None = None,
    condition: Callable[[Any], bool] | None = None,
    namespace: str | None = None,
    tags: Callable[..., Iterable[Hashable]] | None = None,
) -> Callable[[Callable[..., Awaitable[Any]]], CachedFunction[..., Any]]:
    """Cache an async function's results in ``cache``, loading each key once at a time.

    The decorated function keeps its signature for type checkers. Calls go
    through :meth:`sweepcache.Cache.get_or_load`, so concurrent calls with
    the same key run the function once and share its result or exception.
    It works on methods too (``self`` is part of the key), on
    :func:`functools.partial` objects of async functions, and over any
    :class:`AsyncCacheLike` tier.

    Args:
        cache: Where results are stored. It takes any key type: the keys are
            the key builder's.
        ttl: Seconds a result lives, as in :meth:`sweepcache.Cache.set`.
        key: Builds the cache key from the call's arguments (it gets the
            same arguments as the function, ``self`` included). Defaults to
            :func:`default_key_builder`.
        timeout: Seconds one run of the function may take; see
            :meth:`sweepcache.Cache.get_or_load`.
        refresh_ahead: Early refresh window, shorter than ``ttl``; see
            :meth:`sweepcache.Cache.get_or_load`.
        condition: Called with each result; a false return means "return
            it, but do not cache it" (for example ``lambda user: user is not
            None`` to skip caching misses).
        namespace: The first item of every key (see :func:`namespace_of`):
            give equivalent closures, or the same function in several
            processes sharing a tier, one namespace.
        tags: Builds the tags of a result (see
            :meth:`sweepcache.Cache.invalidate_tags`) from the call's
            arguments; if it has a keyword-only parameter ``result``, also
            from the result: ``tags=lambda uid, *, result: [f"org:{result.org}"]``.

    Returns:
        A decorator turning an ``async def`` function into a
        :class:`CachedFunction` with ``.key(...)``, ``.invalidate(...)`` and
        ``.cache_clear()``.

    Raises:
        TypeError: The decorated object is not an ``async def`` function (or
            a partial of one), or an argument has the wrong type. Calls raise
            ``TypeError`` naming the parameter when an argument is unhashable.
        ValueError: ``ttl``, ``timeout`` or ``refresh_ahead`` is out of
            range, or ``refresh_ahead`` is not shorter than the ttl.

    Example::

        cache = Cache[Any, Any](default_ttl=60)

        @cached(cache, ttl=300)
        async def fetch_user(uid: int) -> dict:
            return await db.fetch_user(uid)

        user = await fetch_user(7)
        fetch_user.invalidate(7)
    """
    if not isinstance(cache, (Cache, AsyncCacheLike)):
        raise TypeError(
            f"cache must be a sweepcache.Cache or have get_or_load/delete/invalidate_tags, "
            f"got {type(cache).__name__}"
        )
    seconds = check_ttl(ttl) if ttl is not DEFAULT_TTL else None
    if ttl is DEFAULT_TTL and isinstance(cache, Cache):
        seconds = cache.default_ttl
    check_timeout(timeout)
    check_refresh_window(check_refresh_ahead(refresh_ahead), seconds)
    for name, value in (("key", key), ("condition", condition), ("tags", tags)):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be a callable or None, got {safe_repr(value)}")
    if namespace is not None and not isinstance(namespace, str):
        raise TypeError(f"namespace must be a str or None, got {type(namespace).__name__}")

    def decorate(func: Callable[..., Awaitable[Any]]) -> CachedFunction[..., Any]:
        target = func.func if isinstance(func, functools.partial) else func
        if not inspect.iscoroutinefunction(target):
            raise TypeError(
                f"@cached wraps async def functions (or partials of them), got "
                f"{safe_repr(func)}; caching a sync function's result (or a coroutine "
                f"object) is not supported"
            )
        return CachedFunction(
            func, cache, ttl, key, timeout, refresh_ahead, condition, namespace, tags
        )

    return decorate
