"""Argument types, valid ranges and their checks, shared by every public entry point.

Every check raises :class:`TypeError` for the wrong kind of value and
:class:`ValueError` for a value out of range, with a message naming the
argument and the bad value. Durations are seconds as any real number (``int``,
``float``, ``Fraction``, NumPy floats; not ``bool``) or a
:class:`datetime.timedelta`.
"""

from __future__ import annotations

import datetime
import enum
import math
from numbers import Real
from typing import Final, Literal

#: Smallest ``sweep_interval``: below a millisecond the sweeper's own passes
#: would be most of what the loop does.
MIN_SWEEP_INTERVAL: Final = 0.001
#: Largest ``sweep_interval``: a day. Expired entries of a cache without a
#: sweeper are still reclaimed by reads and writes.
MAX_SWEEP_INTERVAL: Final = 86_400.0
#: Largest ``shards``: more stripes than this only cost memory and sweep time.
MAX_SHARDS: Final = 1024


class _Default(enum.Enum):
    """The type of :data:`DEFAULT_TTL`: "use the cache's ``default_ttl``"."""

    TTL = "the cache's default_ttl"

    def __repr__(self) -> str:
        return "<default_ttl>"


#: Pass as ``ttl`` to mean "the cache's ``default_ttl``" (the default of every
#: ``ttl`` parameter), for instance to forward a ``ttl`` argument unchanged.
DEFAULT_TTL: Final = _Default.TTL

#: What a ``ttl`` parameter accepts: seconds (any real number, or a
#: :class:`datetime.timedelta`), ``None`` for "never expires", or
#: :data:`DEFAULT_TTL` for the cache's ``default_ttl``.
TTLArg = float | datetime.timedelta | None | Literal[_Default.TTL]

_INF: Final = math.inf


def seconds_of(value: object, name: str, *, nullable: bool = True) -> float:
    """Return ``value`` as float seconds, or raise ``TypeError`` naming ``name``.

    A real number too large for a float (``10**400``) is ``inf``; one too
    negative is ``-inf``. NaN passes through for the caller's range check.
    """
    cls = value.__class__
    if cls is float:
        return value  # type: ignore[return-value]
    if cls is int:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            return _INF if value > 0 else -_INF  # type: ignore[operator]
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{name} must be a number of seconds{' or None' if nullable else ''}, "
            f"got {type(value).__name__} {_short_repr(value)} (a datetime.timedelta works too)"
        )
    try:
        return float(value)
    except OverflowError:
        return _INF if value > 0 else -_INF  # type: ignore[operator]


def check_ttl(ttl: object, name: str = "ttl") -> float | None:
    """Return ``ttl`` as float seconds >= 0, ``None`` for "never", or raise.

    ``None`` and infinity (``math.inf``, or an ``int`` too large for a float)
    mean "never expires". ``0`` is returned as ``0.0``: the callers delete.

    Raises:
        TypeError: ``ttl`` is not a number of seconds, a timedelta or ``None``.
        ValueError: ``ttl`` is negative or NaN.
    """
    if ttl is None:
        return None
    seconds = seconds_of(ttl, name)
    if not seconds >= 0.0:  # negative or NaN
        raise ValueError(f"{name} must be >= 0 or None, got {_short_repr(ttl)}")
    return None if seconds == _INF else seconds


def check_default_ttl(ttl: object) -> float | None:
    """Check a cache's ``default_ttl``: seconds > 0, or ``None`` for "never"."""
    if ttl is None:
        return None
    seconds = seconds_of(ttl, "default_ttl")
    if not seconds > 0.0:  # zero, negative or NaN
        raise ValueError(
            f"default_ttl must be > 0 or None, got {_short_repr(ttl)} "
            f"(ttl=0 deletes a key, so it cannot be a default)"
        )
    return None if seconds == _INF else seconds


def check_timeout(timeout: object, name: str = "timeout") -> float | None:
    """Check a load timeout: seconds > 0, or ``None`` (or infinity) for none."""
    if timeout is None:
        return None
    seconds = seconds_of(timeout, name)
    if not seconds > 0.0:
        raise ValueError(f"{name} must be > 0 or None, got {_short_repr(timeout)}")
    return None if seconds == _INF else seconds


def check_refresh_ahead(refresh_ahead: object) -> float | None:
    """Check an early-refresh window: finite seconds >= 0, or ``None`` for none."""
    if refresh_ahead is None:
        return None
    seconds = seconds_of(refresh_ahead, "refresh_ahead")
    if not 0.0 <= seconds < _INF:
        raise ValueError(
            f"refresh_ahead must be >= 0 and finite, or None, got {_short_repr(refresh_ahead)}"
        )
    return seconds


def check_refresh_window(refresh_ahead: float | None, ttl: float | None) -> None:
    """Reject a refresh window that covers the whole life of the entry.

    With ``refresh_ahead >= ttl`` every hit would start a reload: the cache
    would cost a load per read and save nothing.
    """
    if refresh_ahead is not None and ttl is not None and refresh_ahead >= ttl:
        raise ValueError(
            f"refresh_ahead must be shorter than the ttl ({ttl!r} s), got {refresh_ahead!r}: "
            f"every hit would reload"
        )


def check_sweep_interval(interval: object) -> float:
    """Check a sweep interval: seconds in [``MIN_SWEEP_INTERVAL``, ``MAX_SWEEP_INTERVAL``]."""
    seconds = seconds_of(interval, "sweep_interval", nullable=False)
    if not MIN_SWEEP_INTERVAL <= seconds <= MAX_SWEEP_INTERVAL:
        raise ValueError(
            f"sweep_interval must be between {MIN_SWEEP_INTERVAL} and {MAX_SWEEP_INTERVAL:g} "
            f"seconds, got {_short_repr(interval)}"
        )
    return seconds


def check_shards(shards: object) -> int:
    """Check a shard count: a power of two from 1 to ``MAX_SHARDS``."""
    if isinstance(shards, bool) or not isinstance(shards, int):
        raise TypeError(f"shards must be an int, got {type(shards).__name__} {shards!r}")
    if not 1 <= shards <= MAX_SHARDS or shards & (shards - 1):
        raise ValueError(f"shards must be a power of two from 1 to {MAX_SHARDS}, got {shards!r}")
    return shards


def check_maxsize(maxsize: object) -> int | None:
    """Check a size bound: an int >= 0 (entries, or total weight), or ``None``."""
    if maxsize is None:
        return None
    if isinstance(maxsize, bool) or not isinstance(maxsize, int):
        raise TypeError(f"maxsize must be an int or None, got {type(maxsize).__name__} {maxsize!r}")
    if maxsize < 0:
        raise ValueError(f"maxsize must be >= 0 or None, got {maxsize!r}")
    return maxsize


def safe_repr(value: object, limit: int = 200) -> str:
    """``repr(value)``, shortened, or a placeholder if ``repr`` raises.

    Used wherever the cache names a key in a log line, a task name or an
    error: a key whose ``__repr__`` raises must never make a cache operation fail.
    """
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__} object (repr failed)>"
    return _shorten(text, limit)


def _short_repr(value: object) -> str:
    return safe_repr(value, 80)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
