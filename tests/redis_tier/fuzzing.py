"""Decoder fuzzing shared by the short run in ``make test`` and the 1M-input reliability run.

Inputs are random bytes, valid payloads and keys, and mutations of them
(bit flips, truncations, insertions, splices, format bytes swapped). Every
decoder must either return or raise an ``Exception`` the cache turns into a
miss (``KeyCodec.decode`` must not raise at all), and the signed pickle
serializer must never reach ``pickle.loads`` with a payload whose tag does
not verify.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from sweepcache.redis import (
    NOT_A_KEY,
    JSONSerializer,
    KeyCodec,
    MsgpackSerializer,
    OrjsonSerializer,
    Serializer,
    SignedPickleSerializer,
    _serializers,
)

if TYPE_CHECKING:
    from collections.abc import Callable

SECRET = b"k" * 32
SEEDS_VALUES: list[object] = [
    None,
    True,
    0,
    -(2**62),
    1.5,
    "",
    "héllo\u2603",
    [1, [2, [3]]],
    {"a": {"b": [None, 1.0]}},
    {"k" * 50: "v" * 200},
]
SEEDS_KEYS: list[object] = [
    "user:1",
    "\x00x",
    ("a", 1, 2.5, None, b"\x00", (True,)),
    frozenset({1, "x"}),
    (int, str),
    -17,
    float("inf"),
]


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """One random mutation of ``data``."""
    choice = rng.randrange(7)
    buffer = bytearray(data)
    if choice == 0 and buffer:
        index = rng.randrange(len(buffer))
        buffer[index] ^= 1 << rng.randrange(8)
    elif choice == 1 and buffer:
        del buffer[rng.randrange(len(buffer)) :]
    elif choice == 2:
        index = rng.randrange(len(buffer) + 1)
        buffer[index:index] = rng.randbytes(rng.randrange(1, 8))
    elif choice == 3:
        other = rng.choice(pool)
        cut = rng.randrange(len(buffer) + 1)
        buffer = buffer[:cut] + other[rng.randrange(len(other) + 1) :]
    elif choice == 4 and buffer:
        buffer[0] = rng.choice(b"jmpx\x00")
    elif choice == 5:
        index = rng.randrange(len(buffer) + 1)
        buffer[index:index] = rng.choice([b"[" * 50, b"{", b"9" * 30, b"\xdc\xff\xff", b"\x80"])
    else:
        return rng.randbytes(rng.randrange(0, 64))
    return bytes(buffer)


def fuzz(count: int, seed: int = 1) -> dict[str, int]:
    """Feed ``count`` inputs to every decoder; return how many each accepted."""
    rng = random.Random(seed)
    signed = SignedPickleSerializer(SECRET)
    serializers: list[Serializer] = [
        JSONSerializer(),
        OrjsonSerializer(),
        MsgpackSerializer(),
        signed,
    ]
    codec = KeyCodec("fz:")
    payload_pool = [s.dumps(v) for s in serializers for v in SEEDS_VALUES]
    key_pool = [codec.encode(k) for k in SEEDS_KEYS]
    unpickled = 0
    original: Callable[[bytes], object] = _serializers._unpickle

    def counting_unpickle(body: bytes) -> object:
        nonlocal unpickled
        unpickled += 1
        return original(body)

    _serializers._unpickle = counting_unpickle
    accepted = {type(s).__name__: 0 for s in serializers} | {"KeyCodec": 0}
    try:
        for index in range(count):
            payload = mutate(rng.choice(payload_pool), rng, payload_pool)
            serializer = serializers[index % len(serializers)]
            try:
                serializer.loads(payload)
            except Exception:
                pass
            else:
                accepted[type(serializer).__name__] += 1
            key = mutate(rng.choice(key_pool), rng, key_pool)
            if codec.decode(key) is not NOT_A_KEY:
                accepted["KeyCodec"] += 1
    finally:
        _serializers._unpickle = original  # type: ignore[assignment]
    # Only payloads whose HMAC verified may reach pickle: the mutated ones
    # that are byte-identical to a valid payload (a mutation can undo itself).
    assert unpickled == accepted["SignedPickleSerializer"]
    return accepted
