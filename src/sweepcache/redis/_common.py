"""Errors, statistics and argument checks shared by the Redis tier's classes."""

from __future__ import annotations

import dataclasses
import datetime
import math
from numbers import Real
from typing import TYPE_CHECKING, Final, Literal, final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("L2Error", "RedisStats", "ValueTooLarge")

#: What a failed L2 read does: ``"raise"`` :class:`L2Error`, or ``"fallback"``
#: (a read is a miss; ``get_or_load`` calls the loader and returns its value
#: without storing it). Failed writes always raise.
OnL2Error = Literal["raise", "fallback"]

#: Longest ``PX`` sent to Redis (about 4,460 years): a longer ttl is clamped to it.
MAX_PX: Final = 2**47


@final
class L2Error(Exception):
    """An L2 (Redis) operation failed or did not finish within ``op_timeout``.

    The original error is its ``__cause__``. Raised by every write whose
    outcome is unknown, and by reads when ``on_l2_error="raise"``.

    Example::

        try:
            await cache.set("k", 1)
        except L2Error:
            ...  # Redis is down; the key is no longer in this process's L1
    """


@final
class ValueTooLarge(ValueError):
    """A value serialized to more than the cache's ``max_value_size`` bytes.

    Example::

        with pytest.raises(ValueTooLarge):
            await cache.set("k", "x" * 2_000_000)
    """


@final
@dataclasses.dataclass(frozen=True, slots=True)
class RedisStats:
    """Counters of a :class:`RedisCache` (and of a :class:`TieredCache`'s second tier).

    Example::

        stats = cache.stats()
        print(stats.l2_hits, stats.decode_errors)
    """

    #: Reads answered from Redis.
    l2_hits: int = 0
    #: Reads Redis had no (readable) entry for.
    l2_misses: int = 0
    #: Payloads that failed to verify or decode (each also counted as a miss).
    decode_errors: int = 0
    #: L2 operations that failed or timed out, by exception type name.
    l2_errors: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: Loader calls made by ``get_or_load`` in this process.
    loads: int = 0
    #: Times ``get_or_load`` waited for another process's load.
    lease_waits: int = 0
    #: Invalidation messages received (one per key, ``None`` counts as one).
    invalidations: int = 0
    #: Times the invalidation link was lost.
    link_losses: int = 0
    #: Times the invalidation link was (re)established.
    link_ups: int = 0


class Counters:
    """The mutable counters behind :class:`RedisStats` (one event loop, no lock)."""

    __slots__ = tuple(field.name for field in dataclasses.fields(RedisStats))

    def __init__(self) -> None:
        for field in dataclasses.fields(RedisStats):
            setattr(self, field.name, {} if field.name == "l2_errors" else 0)

    def error(self, exc: BaseException) -> None:
        errors: dict[str, int] = self.l2_errors  # type: ignore[attr-defined]
        name = type(exc).__name__
        errors[name] = errors.get(name, 0) + 1

    def snapshot(self) -> RedisStats:
        values = {name: getattr(self, name) for name in self.__slots__}
        values["l2_errors"] = dict(values["l2_errors"])
        return RedisStats(**values)


def ttl_seconds(ttl: object, name: str = "ttl") -> float | None:
    """Return ``ttl`` as seconds >= 0 (``None`` for never), or raise naming ``name``.

    Accepts real numbers (not ``bool``) and :class:`datetime.timedelta`, as
    :class:`sweepcache.Cache` does.
    """
    if ttl is None:
        return None
    if isinstance(ttl, datetime.timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, bool) or not isinstance(ttl, Real):
        raise TypeError(
            f"{name} must be a number of seconds, a timedelta or None, "
            f"got {type(ttl).__name__} {ttl!r}"
        )
    else:
        try:
            seconds = float(ttl)
        except OverflowError:
            seconds = math.inf if ttl > 0 else -math.inf  # type: ignore[operator]
    if not seconds >= 0.0:
        raise ValueError(f"{name} must be >= 0 or None, got {ttl!r}")
    return None if seconds == math.inf else seconds


def positive_seconds(value: object, name: str, *, nullable: bool = False) -> float | None:
    """Check a duration that must be > 0 and finite (or ``None`` if ``nullable``)."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, datetime.timedelta)):
        raise TypeError(
            f"{name} must be a number of seconds{' or None' if nullable else ''}, "
            f"got {type(value).__name__} {value!r}"
        )
    seconds = value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)
    if not 0.0 < seconds < math.inf:
        raise ValueError(f"{name} must be > 0 and finite, got {value!r}")
    return seconds


def px_of(seconds: float) -> int:
    """Milliseconds for ``PX``: at least 1 (Redis rejects 0), at most :data:`MAX_PX`."""
    return max(1, min(MAX_PX, math.ceil(seconds * 1000.0)))


for _cls in (L2Error, ValueTooLarge, RedisStats):
    _cls.__module__ = "sweepcache.redis"
