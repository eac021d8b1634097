"""The clock that decides expiry."""

from __future__ import annotations

import time
from collections.abc import Callable

#: A clock is any callable returning seconds as a float, never going backwards.
Clock = Callable[[], float]

#: The default clock: :func:`time.monotonic` (immune to wall-clock changes).
default_clock: Clock = time.monotonic
