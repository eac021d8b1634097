"""A shard: one striped lock and the expiry index of the keys that hash to it."""

from __future__ import annotations

import threading

from ._expiry import ExpiryIndex, K, V


class Shard(ExpiryIndex[K, V]):
    """The lock and expiry index for the keys whose hash falls in this stripe.

    Entries themselves live in the cache's single dict, so a read needs no
    shard lookup and no lock; the shard's lock serialises every change to the
    entries of its keys together with their index slots, and is never held
    across an ``await``.
    """

    __slots__ = ("lock",)

    def __init__(self, width: float) -> None:
        super().__init__(width)
        self.lock = threading.Lock()
