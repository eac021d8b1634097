"""The read path, specialised per cache when the cache is built.

A hit must cost about one dict lookup and one clock read (the ``hotpath``
benchmark suite holds it to 1.5x a bare ``dict.get`` in a coroutine, and a
feature that is off to 3% of that), so the hot read methods (``get_nowait``,
``get`` and the hit path of ``get_or_load``) exist in one copy per
combination of

* the shard layout: one dict for all shards, read with ``dict.get`` (the
  fastest under the GIL), or one dict per shard, read with ``d[key]`` (on
  free-threaded CPython 3.13, ``dict.get`` takes the dict's lock and one
  shared dict serialises every writer; ``d[key]`` reads lock-free);
* what a hit or a miss records: the eviction policy's access mark, the
  hit/miss counters of ``record_stats``, both, or nothing.

The copies are generated from the templates below, the way :mod:`dataclasses`
and attrs generate ``__init__``: one source, no flag tested on the hot path,
and a feature that is off costs nothing at all. :func:`variant` builds (once)
a private subclass of :class:`~sweepcache.Cache` holding them; the class body
of ``Cache`` documents the methods and the tests run every variant.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Callable

SINGLE: Final = "single"
SHARDED: Final = "sharded"

_LOOKUP: Final = {
    SINGLE: """
try:
    entry = self._data.get(key)
except TypeError:
    raise _unhashable(key) from None
""",
    SHARDED: """
try:
    entry = self._dicts[hash(key) & self._mask][key]  # a LookupDict: None if missing
except TypeError:
    raise _unhashable(key) from None
""",
}

_GET: Final = """
{async_}def {name}(self, key, default=None):
    {lookup}
    if entry is not None and self._clock() < entry[1]:
        {on_hit}
        return entry[0]
    {on_miss}
    if entry is not None:
        self._discard_expired(key, entry)
    return default
"""

_GET_OR_LOAD: Final = """
async def get_or_load(
    self, key, loader, *, ttl=DEFAULT_TTL, timeout=None, refresh_ahead=None, tags=None
):
    {lookup}
    if entry is not None:
        now = self._clock()
        if now < entry[1]:
            {on_hit}
            if refresh_ahead is None:
                return entry[0]
            return await _refresh(self, key, loader, entry, now, ttl, timeout, refresh_ahead, tags)
    {on_miss}
    return await _load(self, key, loader, ttl, timeout, refresh_ahead, tags)
"""

_LOOKUP_ONLY: Final = """
def _lookup(self, key):
    {lookup}
    return entry
"""

#: ``TieredCache.get`` (sweepcache.redis): the L1 cache's own read path inlined
#: (``cache`` is the L1), so that an L1 hit costs a plain ``Cache`` hit, then
#: Redis on a miss.
_TIERED_GET: Final = """
async def get(self, key, default=None):
    cache = self._l1
    {lookup}
    if entry is not None and cache._clock() < entry[1]:
        {on_hit}
        return entry[0]
    {on_miss}
    if entry is not None:
        cache._discard_expired(key, entry)
    return await self._get_l2(key, default)
"""

#: What a hit records, by feature.
ON_HIT: Final = {
    # The eviction policy's read record: one list item, counted lock-free
    # (see _eviction.py); entry[2] is the entry's policy token.
    "policy": "self._counts[entry[2]] += 1",
    "stats": "self._hit_count()",
}
#: What a miss records, by feature.
ON_MISS: Final = {
    "stats": "self._miss_count()",
}


def fill(template: str, **blocks: str) -> str:
    """Replace each line holding only ``{name}`` with ``blocks[name]``, indented alike."""
    lines: list[str] = []
    for line in template.strip("\n").splitlines():
        stripped = line.strip()
        if stripped.startswith("{") and stripped.endswith("}") and stripped[1:-1] in blocks:
            indent = line[: len(line) - len(line.lstrip())]
            block = blocks[stripped[1:-1]].strip("\n")  # empty: the line goes, not even a pass
            lines.extend(indent + part for part in block.splitlines())
        else:
            lines.append(line.format(**blocks) if "{" in line else line)
    return "\n".join(lines) + "\n"


@functools.cache
def read_methods(layout: str, records: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
    """Generate the read methods for ``layout`` that record ``records`` on hits and misses."""
    from . import _cache, _loading  # the generated code's globals

    lookup = _LOOKUP[layout]
    on_hit = "\n".join(ON_HIT[record] for record in records if record in ON_HIT)
    on_miss = "\n".join(ON_MISS[record] for record in records if record in ON_MISS)
    blocks = {"lookup": lookup, "on_hit": on_hit, "on_miss": on_miss}
    source = "\n".join(
        [
            fill(_GET, name="get_nowait", async_="", **blocks),
            fill(_GET, name="get", async_="async ", **blocks),
            fill(_GET_OR_LOAD, **blocks),
            fill(_LOOKUP_ONLY, **blocks),
        ]
    )
    namespace: dict[str, Any] = {
        "DEFAULT_TTL": _cache.DEFAULT_TTL,
        "_unhashable": _cache.unhashable,
        "_load": _loading.load,
        "_refresh": _loading.refresh,
    }
    filename = f"<sweepcache read path: {layout}{''.join('+' + r for r in records)}>"
    return compile_methods(
        source, filename, namespace, ("get_nowait", "get", "get_or_load", "_lookup")
    )


def compile_methods(
    source: str, filename: str, namespace: dict[str, Any], names: tuple[str, ...]
) -> dict[str, Callable[..., Any]]:
    """Run generated ``source``; return its functions ``names`` dressed as ``Cache``'s methods.

    Each takes the name, docstring and (through ``__wrapped__``, for
    ``inspect.signature`` and IDEs) the annotated signature of the
    declaration in the body of ``Cache``.
    """
    from . import _cache

    exec(compile(source, filename, "exec"), namespace)
    methods: dict[str, Callable[..., Any]] = {name: namespace[name] for name in names}
    for name, method in methods.items():
        method.__qualname__ = f"Cache.{name}"
        method.__module__ = "sweepcache"
        declared = getattr(_cache.Cache, name)
        method.__doc__ = declared.__doc__
        method.__wrapped__ = declared  # type: ignore[attr-defined]
    return methods


@functools.cache
def tiered_get(layout: str, records: tuple[str, ...]) -> Callable[..., Any]:
    """Generate ``TieredCache.get`` over an L1 cache of ``layout`` recording ``records``."""
    from . import _cache

    def of_l1(block: str) -> str:
        return block.replace("self.", "cache.")

    source = fill(
        _TIERED_GET,
        lookup=of_l1(_LOOKUP[layout]),
        on_hit=of_l1("\n".join(ON_HIT[record] for record in records if record in ON_HIT)),
        on_miss=of_l1("\n".join(ON_MISS[record] for record in records if record in ON_MISS)),
    )
    namespace: dict[str, Any] = {"_unhashable": _cache.unhashable}
    filename = f"<sweepcache tiered read path: {layout}{''.join('+' + r for r in records)}>"
    exec(compile(source, filename, "exec"), namespace)
    get: Callable[..., Any] = namespace["get"]
    return get
