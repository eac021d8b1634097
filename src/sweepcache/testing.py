"""Helpers for testing code that uses sweepcache, without sleeping.

Example::

    from sweepcache import Cache
    from sweepcache.testing import FakeClock

    clock = FakeClock()
    cache = Cache[str, int](clock=clock)
    cache.set_nowait("k", 1, ttl=10)
    clock.advance(10)
    assert cache.get_nowait("k") is None
"""

from __future__ import annotations

import math
import threading
from typing import final

__all__ = ("FakeClock",)


@final
class FakeClock:
    """A clock that moves only when told to; pass it as ``Cache(clock=...)``.

    Calling it returns the current fake time in seconds. It is thread-safe.

    Args:
        start: The initial time.

    Raises:
        ValueError: ``start`` is not a finite number.

    Example::

        clock = FakeClock(start=100.0)
        clock.advance(1.5)
        assert clock() == 101.5
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: float = 0.0) -> None:
        self._now = _finite(start, "start")
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current fake time."""
        return self._now

    @property
    def now(self) -> float:
        """The current fake time."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time.

        Raises:
            ValueError: ``seconds`` is negative or not finite (a clock never
                goes backwards).
            TypeError: ``seconds`` is not a number.
        """
        step = _finite(seconds, "seconds")
        if step < 0:
            raise ValueError(
                f"seconds must be >= 0 (a clock never goes backwards), got {seconds!r}"
            )
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        return f"FakeClock(start={self._now!r})"


def _finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


FakeClock.__module__ = "sweepcache.testing"
