"""Fail early, naming the extra, when coredis is missing."""

from __future__ import annotations

try:
    import coredis  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("sweepcache.redis needs coredis: pip install 'sweepcache[redis]'") from error
