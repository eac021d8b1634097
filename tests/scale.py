"""How big the long-running tests are: short in ``make test``, long in ``make reliability``."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def model_settings(examples: int, steps: int) -> settings:
    """Settings of a hypothesis state machine.

    ``make reliability`` sets ``SWEEPCACHE_MODEL_EXAMPLES`` and
    ``SWEEPCACHE_MODEL_STEPS`` (2,000 x 50) instead of the short defaults.
    """
    return settings(
        max_examples=int(os.environ.get("SWEEPCACHE_MODEL_EXAMPLES", examples)),
        stateful_step_count=int(os.environ.get("SWEEPCACHE_MODEL_STEPS", steps)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
