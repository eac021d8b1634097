"""The key codec: cache keys to Redis keys and back (see :class:`KeyCodec`)."""

from __future__ import annotations

import math
import threading
from typing import Final, final

#: What ``decode`` returns for bytes that are no encoded key (tag sets, leases, garbage).
NOT_A_KEY: Final = object()

_ESCAPE: Final = "\x00"
_ESCAPE_BYTE: Final = 0
#: Deepest nesting of tuples/frozensets that decode accepts (encode has no limit
#: beyond Python's recursion; a hostile payload must not exhaust the stack).
MAX_DEPTH: Final = 64


@final
class KeyCodec:
    """Encodes cache keys into Redis keys under ``prefix`` and decodes them back.

    A Redis key is the namespace ``prefix`` followed by the encoded cache key:

    * a ``str`` that does not start with ``"\\x00"`` is its UTF-8 bytes
      (``"user:1"`` -> ``b"user:1"``, readable in ``redis-cli``); lone surrogates
      are kept (``surrogatepass``);
    * any other key is ``b"\\x00"`` followed by its *element* form:

      ======================================  ==========================================
      key                                     element
      ======================================  ==========================================
      ``None``                                ``n``
      ``int``, ``bool``, an integral float    ``i<decimal>;`` (``True``, ``1.0`` as ``1``)
      another ``float`` (``inf`` too)         ``f<repr>;``
      ``str``                                 ``s<length>:<UTF-8 bytes>``
      ``bytes``                               ``b<length>:<bytes>``
      ``tuple``                               ``t<count>:`` then each item's element
      ``frozenset``                           ``z<count>:`` then the items' elements, sorted
      a class (``int``, ``MyModel``)          ``y<length>:<module.qualname>``
      ======================================  ==========================================

    The encoding is injective and canonical: keys that compare equal encode
    alike (``1``, ``1.0`` and ``True``; ``(1,)`` and ``(1.0,)``), as they share
    an entry in a ``dict``. NaN (never equal to itself)
    and other types (lists are not hashable; dataclasses, ``Decimal``...) raise
    :class:`TypeError` or :class:`ValueError`: convert them to one of the above.
    Decoding never imports anything: a class decodes only if this process encoded
    it before (a class it never saw cannot be a key of its own cache).

    Args:
        prefix: The namespace: every Redis key of the cache starts with it.

    Raises:
        TypeError: ``prefix`` is not ``str`` or ``bytes``.
        ValueError: ``prefix`` is empty.

    Example::

        codec = KeyCodec("app:")
        assert codec.encode("user:1") == b"app:user:1"
        assert codec.decode(codec.encode(("user", 1))) == ("user", 1)
    """

    __slots__ = ("_classes", "_lock", "prefix")

    def __init__(self, prefix: str | bytes) -> None:
        if isinstance(prefix, str):
            prefix = prefix.encode("utf-8", "surrogatepass")
        if not isinstance(prefix, bytes):
            raise TypeError(f"prefix must be a str or bytes, got {type(prefix).__name__}")
        if not prefix:
            raise ValueError("prefix must not be empty (clear() removes every key under it)")
        #: The namespace, as bytes.
        self.prefix = prefix
        self._classes: dict[bytes, type] = {}
        self._lock = threading.Lock()

    def encode(self, key: object) -> bytes:
        """Return the Redis key of ``key``.

        Raises:
            TypeError: ``key`` (or an item of it) has a type without an encoding.
            ValueError: ``key`` is or holds a NaN.
        """
        if isinstance(key, str) and key.__class__ is str and not key.startswith(_ESCAPE):
            return self.prefix + key.encode("utf-8", "surrogatepass")
        parts: list[bytes] = [self.prefix, b"\x00"]
        self._element(key, parts, key)
        return b"".join(parts)

    def _element(self, value: object, parts: list[bytes], key: object) -> None:
        if value is None:
            parts.append(b"n")
        elif isinstance(value, (bool, int)):
            parts.append(b"i%d;" % value)
        elif isinstance(value, float):
            if value != value:
                raise ValueError(f"a NaN cannot be a Redis cache key (key {key!r})")
            if math.isfinite(value) and value.is_integer():
                parts.append(b"i%d;" % int(value))
            else:
                parts.append(b"f" + repr(value).encode("ascii") + b";")
        elif isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
            parts.append(b"s%d:" % len(data))
            parts.append(data)
        elif isinstance(value, bytes):
            parts.append(b"b%d:" % len(value))
            parts.append(value)
        elif isinstance(value, tuple):
            parts.append(b"t%d:" % len(value))
            for item in value:
                self._element(item, parts, key)
        elif isinstance(value, frozenset):
            items: list[bytes] = []
            for item in value:
                sub: list[bytes] = []
                self._element(item, sub, key)
                items.append(b"".join(sub))
            items.sort()
            parts.append(b"z%d:" % len(items))
            parts.extend(items)
        elif isinstance(value, type):
            name = f"{value.__module__}.{value.__qualname__}".encode("utf-8", "surrogatepass")
            if self._classes.get(name) is not value:
                with self._lock:
                    self._classes[name] = value
            parts.append(b"y%d:" % len(name))
            parts.append(name)
        else:
            raise TypeError(
                f"cannot encode a key holding a {type(value).__name__} for Redis (key {key!r}): "
                f"keys are str, bytes, int, float, bool, None, classes, and tuples or "
                f"frozensets of those"
            )

    def decode(self, redis_key: bytes) -> object:
        """Return the cache key encoded in ``redis_key``, or :data:`NOT_A_KEY`.

        Never raises: any input that is not an encoded key of this codec's
        namespace (another prefix, a tag set, a lease, garbage) gives
        :data:`NOT_A_KEY`.
        """
        prefix = self.prefix
        if not isinstance(redis_key, bytes) or not redis_key.startswith(prefix):
            return NOT_A_KEY
        start = len(prefix)
        if len(redis_key) == start or redis_key[start] != _ESCAPE_BYTE:
            try:
                return redis_key[start:].decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                return NOT_A_KEY
        try:
            value, end = self._parse(redis_key, start + 1, 0)
        except (ValueError, IndexError, UnicodeDecodeError, OverflowError, RecursionError):
            return NOT_A_KEY
        if end != len(redis_key):
            return NOT_A_KEY
        return value

    def _parse(self, data: bytes, at: int, depth: int) -> tuple[object, int]:
        if depth > MAX_DEPTH:
            raise ValueError("too deep")
        kind = data[at]
        at += 1
        if kind == 0x6E:  # n
            return None, at
        if kind == 0x69:  # i
            end = data.index(b";", at)
            digits = data[at:end]
            if not _is_decimal(digits):
                raise ValueError("bad int")
            return int(digits), end + 1
        if kind == 0x66:  # f
            end = data.index(b";", at)
            text = data[at:end].decode("ascii")
            number = float(text)
            if number != number or repr(number) != text or number.is_integer():
                raise ValueError("not canonical")
            return number, end + 1
        colon = data.index(b":", at)
        digits = data[at:colon]
        if not _is_count(digits):
            raise ValueError("bad length")
        count = int(digits)
        at = colon + 1
        if kind == 0x73:  # s
            end = at + count
            if end > len(data):
                raise ValueError("short")
            return data[at:end].decode("utf-8", "surrogatepass"), end
        if kind == 0x62:  # b
            end = at + count
            if end > len(data):
                raise ValueError("short")
            return data[at:end], end
        if kind == 0x79:  # y
            end = at + count
            if end > len(data):
                raise ValueError("short")
            cls = self._classes.get(data[at:end])
            if cls is None:
                raise ValueError("unknown class")
            return cls, end
        if kind in (0x74, 0x7A):  # t, z
            if count > len(data) - at:  # every item takes at least one byte
                raise ValueError("short")
            items: list[object] = []
            for _ in range(count):
                item, at = self._parse(data, at, depth + 1)
                items.append(item)
            if kind == 0x74:
                return tuple(items), at
            try:
                return frozenset(items), at
            except TypeError:
                raise ValueError("unhashable") from None
        raise ValueError("unknown element")

    def __repr__(self) -> str:
        return f"KeyCodec(prefix={self.prefix!r})"


def _is_decimal(digits: bytes) -> bool:
    """``-?[0-9]+`` without leading zeros (one canonical form per int)."""
    body = digits[1:] if digits[:1] == b"-" else digits
    if not body or not body.isdigit() or not body.isascii():
        return False
    return (body == b"0" and digits == b"0") or body[:1] != b"0"


def _is_count(digits: bytes) -> bool:
    return bool(digits) and digits.isdigit() and digits.isascii() and len(digits) <= 12
