"""Value serializers for the Redis tier: JSON by default, signed pickle only on opt-in.

Every payload stored in Redis is one format byte followed by the body:
``j`` JSON (written by :class:`JSONSerializer` and :class:`OrjsonSerializer`,
read by both), ``m`` msgpack, ``p`` signed pickle. A payload in another format
than the reader's, or one that fails to decode or verify, is treated as a miss
by the cache (logged and counted), never raised to the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
from typing import TYPE_CHECKING, Final, Protocol, final, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = (
    "JSONSerializer",
    "MsgpackSerializer",
    "OrjsonSerializer",
    "Serializer",
    "SignedPickleSerializer",
)

JSON_FORMAT: Final = b"j"
MSGPACK_FORMAT: Final = b"m"
PICKLE_FORMAT: Final = b"p"
#: Bytes of an HMAC-SHA256 tag.
_TAG_SIZE: Final = 32
#: Shortest secret key accepted by :class:`SignedPickleSerializer`.
MIN_SECRET_KEY_SIZE: Final = 32


@runtime_checkable
class Serializer(Protocol):
    """Turns values into payload bytes and back (the Redis tier's value codec).

    ``dumps`` may raise :class:`TypeError` or :class:`ValueError` for a value
    it cannot store; ``loads`` may raise any :class:`Exception` for a payload
    it cannot read: the cache turns that into a miss.
    """

    def dumps(self, value: object) -> bytes:
        """Return the payload of ``value``, format byte first."""
        ...

    def loads(self, payload: bytes) -> object:
        """Return the value of ``payload`` (as made by ``dumps``)."""
        ...


@final
class JSONSerializer:
    """The default: JSON (standard library), for JSON-able values.

    Type mapping: ``None``, ``bool``, ``int``, ``float``, ``str`` come back
    as they were; ``list`` and ``tuple`` come back as ``list``; ``dict``
    comes back as ``dict`` with its keys as ``str`` (``int``, ``float``,
    ``bool`` and ``None`` keys are turned into strings by JSON). NaN and
    infinities, and any other type (``bytes``, ``set``, ``datetime``...), raise
    on ``set``. Nothing in a payload can run code.

    Example::

        serializer = JSONSerializer()
        assert serializer.loads(serializer.dumps({"id": 7})) == {"id": 7}
    """

    __slots__ = ("_decoder", "_encoder")

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=True
        )
        self._decoder = json.JSONDecoder(parse_constant=_reject_constant)

    def dumps(self, value: object) -> bytes:
        """Return ``b"j"`` and the JSON of ``value``.

        Raises:
            TypeError: ``value`` holds a type JSON cannot store.
            ValueError: ``value`` holds a NaN or an infinity, or a cycle.
        """
        return JSON_FORMAT + self._encoder.encode(value).encode("utf-8", "surrogatepass")

    def loads(self, payload: bytes) -> object:
        """Return the value of a ``b"j"`` payload.

        Raises:
            ValueError: The payload is not valid JSON in this format.
        """
        if payload[:1] != JSON_FORMAT:
            raise ValueError("not a JSON payload")
        return self._decoder.decode(payload[1:].decode("utf-8", "surrogatepass"))

    def __repr__(self) -> str:
        return "JSONSerializer()"


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


@final
class OrjsonSerializer:
    """JSON through orjson (faster; ``pip install 'sweepcache[orjson]'``).

    Its payloads are JSON, readable by :class:`JSONSerializer` and back.
    Mapping as :class:`JSONSerializer`, except that ``dict`` keys must be
    ``str`` and that orjson also writes (one-way) ``datetime``, ``date``,
    ``UUID``, dataclasses and enums as their JSON form; integers must fit
    in 64 bits.

    Raises:
        ImportError: orjson is not installed.

    Example::

        serializer = OrjsonSerializer()
        assert serializer.loads(serializer.dumps([1, "a"])) == [1, "a"]
    """

    __slots__ = ("_dumps", "_loads")

    def __init__(self) -> None:
        try:
            import orjson
        except ImportError:
            raise ImportError(
                "OrjsonSerializer needs orjson: pip install 'sweepcache[orjson]'"
            ) from None
        self._dumps = orjson.dumps
        self._loads = orjson.loads

    def dumps(self, value: object) -> bytes:
        """Return ``b"j"`` and the JSON of ``value``.

        Raises:
            TypeError: orjson cannot store ``value`` (``orjson.JSONEncodeError``).
        """
        return JSON_FORMAT + self._dumps(value)

    def loads(self, payload: bytes) -> object:
        """Return the value of a ``b"j"`` payload.

        Raises:
            ValueError: The payload is not valid JSON in this format.
        """
        if payload[:1] != JSON_FORMAT:
            raise ValueError("not a JSON payload")
        return self._loads(payload[1:])

    def __repr__(self) -> str:
        return "OrjsonSerializer()"


@final
class MsgpackSerializer:
    """msgpack (compact, fast; ``pip install 'sweepcache[msgpack]'``).

    Type mapping: as :class:`JSONSerializer`, plus ``bytes`` (kept), NaN and
    infinities (kept); ``dict`` keys must be ``str`` or ``bytes`` when read
    back. Extension types are never turned into objects.

    Raises:
        ImportError: msgpack is not installed.

    Example::

        serializer = MsgpackSerializer()
        assert serializer.loads(serializer.dumps({"raw": b"\\x00"})) == {"raw": b"\\x00"}
    """

    __slots__ = ("_msgpack",)

    def __init__(self) -> None:
        try:
            import msgpack
        except ImportError:
            raise ImportError(
                "MsgpackSerializer needs msgpack: pip install 'sweepcache[msgpack]'"
            ) from None
        self._msgpack = msgpack

    def dumps(self, value: object) -> bytes:
        """Return ``b"m"`` and the msgpack of ``value``.

        Raises:
            TypeError: msgpack cannot store ``value``.
            ValueError: An integer does not fit in 64 bits.
        """
        try:
            return MSGPACK_FORMAT + self._msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]
        except OverflowError as exc:
            raise ValueError(str(exc)) from None

    def loads(self, payload: bytes) -> object:
        """Return the value of a ``b"m"`` payload.

        Raises:
            ValueError: The payload is not msgpack in this format.
        """
        if payload[:1] != MSGPACK_FORMAT:
            raise ValueError("not a msgpack payload")
        return self._msgpack.unpackb(
            payload[1:], raw=False, strict_map_key=True, use_list=True, timestamp=0
        )

    def __repr__(self) -> str:
        return "MsgpackSerializer()"


@final
class SignedPickleSerializer:
    """pickle, signed with HMAC-SHA256: only for values no other codec can store.

    Unpickling runs code chosen by whoever wrote the payload, so a payload is
    unpickled only after its HMAC-SHA256 tag, computed with ``secret_key``,
    has been checked with :func:`hmac.compare_digest`. The algorithm is fixed
    (nothing in the payload selects it), so there is no downgrade. Anyone who
    can write to the Redis namespace without the key can only cause misses.
    Every process sharing the namespace needs the same key; keep it out of
    the code (an environment variable or a secret store).

    Args:
        secret_key: At least 32 random bytes (``secrets.token_bytes(32)``).
        previous_keys: Older keys still accepted when reading, for rotation;
            payloads are always signed with ``secret_key``.
        protocol: The pickle protocol for writing.

    Raises:
        TypeError: A key is not ``bytes``.
        ValueError: A key is shorter than 32 bytes.

    Example::

        serializer = SignedPickleSerializer(secret_key=os.environb[b"CACHE_KEY"])
    """

    __slots__ = ("_keys", "_protocol", "_secret_key")

    def __init__(
        self,
        secret_key: bytes,
        *,
        previous_keys: Iterable[bytes] = (),
        protocol: int = pickle.HIGHEST_PROTOCOL,
    ) -> None:
        keys = [secret_key, *previous_keys]
        for index, key in enumerate(keys):
            name = "secret_key" if index == 0 else f"previous_keys[{index - 1}]"
            if not isinstance(key, bytes):
                raise TypeError(f"{name} must be bytes, got {type(key).__name__}")
            if len(key) < MIN_SECRET_KEY_SIZE:
                raise ValueError(
                    f"{name} must be at least {MIN_SECRET_KEY_SIZE} bytes, got {len(key)} "
                    f"(use secrets.token_bytes(32))"
                )
        if isinstance(protocol, bool) or not isinstance(protocol, int):
            raise TypeError(f"protocol must be an int, got {type(protocol).__name__}")
        if not 2 <= protocol <= pickle.HIGHEST_PROTOCOL:
            raise ValueError(
                f"protocol must be from 2 to {pickle.HIGHEST_PROTOCOL}, got {protocol!r}"
            )
        self._secret_key = secret_key
        self._keys = tuple(keys)
        self._protocol = protocol

    def dumps(self, value: object) -> bytes:
        """Return ``b"p"``, the HMAC-SHA256 tag and the pickle of ``value``.

        Raises:
            TypeError: ``value`` cannot be pickled.
        """
        try:
            body = pickle.dumps(value, protocol=self._protocol)
        except (pickle.PicklingError, AttributeError) as exc:
            raise TypeError(f"cannot pickle the value: {exc}") from None
        tag = hmac.new(self._secret_key, body, hashlib.sha256).digest()
        return PICKLE_FORMAT + tag + body

    def loads(self, payload: bytes) -> object:
        """Return the value of a ``b"p"`` payload whose tag verifies.

        Raises:
            ValueError: The payload is not in this format or its tag does not
                verify with any key; nothing was unpickled.
        """
        if payload[:1] != PICKLE_FORMAT or len(payload) < 1 + _TAG_SIZE:
            raise ValueError("not a signed pickle payload")
        tag = payload[1 : 1 + _TAG_SIZE]
        body = payload[1 + _TAG_SIZE :]
        for key in self._keys:
            if hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), tag):
                return _unpickle(body)
        raise ValueError("signature does not verify")

    def __repr__(self) -> str:
        return f"SignedPickleSerializer(protocol={self._protocol}, keys={len(self._keys)})"


def _unpickle(body: bytes) -> object:
    """Unpickle a verified body (a separate function so tests can count the calls)."""
    return pickle.loads(body)


for _cls in (JSONSerializer, OrjsonSerializer, MsgpackSerializer, SignedPickleSerializer):
    _cls.__module__ = "sweepcache.redis"
Serializer.__module__ = "sweepcache.redis"
