"""The write path, specialised per cache when the cache is built.

Like the read path (:mod:`sweepcache._readpath`), ``set_nowait`` and its
awaitable twin ``set`` exist in one copy per write variant, generated from
the one template below:

* **plain**: no listener, no statistics, no bound; what a write replaced or
  reclaimed is only freed (after the lock);
* **reporting** (``on_removal`` or ``record_stats``): the same store, then
  what left is counted and reported after the lock;
* **bounded** (``maxsize``): the value is weighed before anything changes
  (a weigher that raises, or a negative weight, changes nothing), then the
  shard's policy keeps the budget; what left (the replaced entry, evictions,
  expired entries reclaimed first) is reported after the lock.

``set`` is generated with the same body as ``set_nowait`` rather than
calling it: the call would add a Python frame to every awaited write (about
5% of it on CPython 3.11), which the ``hotpath`` suite's "a feature that is
off costs at most 3%" target has no room for.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final

from ._readpath import compile_methods, fill

if TYPE_CHECKING:
    from collections.abc import Callable

PLAIN: Final = "plain"
REPORTING: Final = "reporting"
BOUNDED: Final = "bounded"

_SET: Final = """
{async_}def {name}(self, key, value, ttl=DEFAULT_TTL, *, tags=None):
    if ttl is DEFAULT_TTL:
        seconds = self._default_ttl
    elif ttl.__class__ is float and 0.0 < ttl < NEVER:
        seconds = ttl
    else:
        seconds = check_ttl(ttl)
        if seconds == 0.0:
            if tags is not None:
                check_tags(tags)
            self.delete_nowait(key)
            return
    {prepare}
    if self._loads:  # a load in flight must not store a result older than this
        self._detach_loads((key,))
    now = self._clock()
    expires_at = NEVER if seconds is None else now + seconds
    lock = shard.lock
    lock.acquire()  # not `with`: half the cost (bench/micro)
    try:
        # Kept until this function returns, after the lock is released:
        # whatever the write replaced or reclaimed is freed out of it.
        garbage = {put}
    finally:
        lock.release()
    {report}
"""

#: Unbounded caches: a tagged write takes the tag-keeping path.
_FIND_SHARD: Final = """
if tags is not None:
    set_tagged(self, key, value, ttl, tags)
    return
try:
    shard = self._shards[hash(key) & self._mask]
except TypeError:
    raise unhashable(key) from None
"""

#: Bounded caches: tags, the hash and the weight are all checked before any change.
_FIND_SHARD_AND_WEIGH: Final = """
tag_set = None if tags is None else entry_tags(tags)
try:
    hash_ = hash(key)
except TypeError:
    raise unhashable(key) from None
shard = self._shards[hash_ & self._mask]
weight = 1 if self._weigher is None else self._weigh(key, value)
"""

_REPORT: Final = """
stats = self._stats
if stats is not None:
    stats.put()
if garbage is not None and (stats is not None or self._listener is not None):
    self._report_put(key, garbage, now)
"""

_BLOCKS: Final = {
    PLAIN: {
        "prepare": _FIND_SHARD,
        "put": "shard.put(key, value, expires_at, now)",
        "report": "",
    },
    REPORTING: {
        "prepare": _FIND_SHARD,
        "put": "shard.put(key, value, expires_at, now)",
        "report": _REPORT,
    },
    BOUNDED: {
        "prepare": _FIND_SHARD_AND_WEIGH,
        "put": "shard.put(key, value, expires_at, now, hash_, weight, tag_set)",
        "report": _REPORT,
    },
}


@functools.cache
def write_methods(writes: str) -> dict[str, Callable[..., Any]]:
    """Generate ``set_nowait`` and ``set`` for the write variant ``writes``."""
    from . import _arguments, _cache, _expiry  # the generated code's globals

    blocks = _BLOCKS[writes]
    source = "\n".join(
        [
            fill(_SET, name="set_nowait", async_="", **blocks),
            fill(_SET, name="set", async_="async ", **blocks),
        ]
    )
    namespace: dict[str, Any] = {
        "DEFAULT_TTL": _cache.DEFAULT_TTL,
        "NEVER": _expiry.NEVER,
        "check_ttl": _arguments.check_ttl,
        "check_tags": _cache.check_tags,
        "entry_tags": _cache.entry_tags,
        "set_tagged": _cache.set_tagged,
        "unhashable": _cache.unhashable,
    }
    filename = f"<sweepcache write path: {writes}>"
    return compile_methods(source, filename, namespace, ("set_nowait", "set"))
