"""Serializers and the key codec: type mappings, signatures, adversarial input."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweepcache.redis import (
    NOT_A_KEY,
    JSONSerializer,
    KeyCodec,
    MsgpackSerializer,
    OrjsonSerializer,
    SignedPickleSerializer,
    _serializers,
)

from .fuzzing import SECRET, fuzz

JSONABLE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("make", [JSONSerializer, OrjsonSerializer, MsgpackSerializer])
@given(value=JSONABLE)
@settings(max_examples=60)
def test_json_like_values_round_trip(make: Any, value: object) -> None:
    serializer = make()
    assert serializer.loads(serializer.dumps(value)) == value


def test_json_type_mapping() -> None:
    serializer = JSONSerializer()
    assert serializer.loads(serializer.dumps((1, 2))) == [1, 2]
    assert serializer.loads(serializer.dumps({1: "a"})) == {"1": "a"}
    assert serializer.dumps("é") == b'j"\xc3\xa9"'
    for bad in (math.nan, math.inf, [math.inf]):
        with pytest.raises(ValueError, match="JSON compliant"):
            serializer.dumps(bad)
    for bad_type in (b"x", {1, 2}, object()):
        with pytest.raises(TypeError):
            serializer.dumps(bad_type)
    with pytest.raises(ValueError, match="not allowed"):
        serializer.loads(b"jNaN")


def test_json_and_orjson_read_each_other() -> None:
    value = {"a": [1, 2.5, None, "x\u2603"]}
    assert OrjsonSerializer().loads(JSONSerializer().dumps(value)) == value
    assert JSONSerializer().loads(OrjsonSerializer().dumps(value)) == value


def test_a_payload_of_another_format_is_refused() -> None:
    json_payload = JSONSerializer().dumps(1)
    with pytest.raises(ValueError, match="not a msgpack payload"):
        MsgpackSerializer().loads(json_payload)
    with pytest.raises(ValueError, match="not a signed pickle"):
        SignedPickleSerializer(SECRET).loads(json_payload)
    with pytest.raises(ValueError, match="not a JSON payload"):
        JSONSerializer().loads(MsgpackSerializer().dumps(1))


class Boom:
    """Unpickling it would run code."""

    ran = False

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (Boom._explode, ())

    @staticmethod
    def _explode() -> None:
        Boom.ran = True


def test_signed_pickle_round_trips_and_never_unpickles_a_forgery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serializer = SignedPickleSerializer(SECRET)
    value = {"set": {1, 2}, "tuple": (1, b"x")}
    assert serializer.loads(serializer.dumps(value)) == value
    calls: list[bytes] = []
    monkeypatch.setattr(_serializers, "_unpickle", lambda body: calls.append(body))
    body = pickle.dumps(Boom())
    forged = [
        b"p" + b"\x00" * 32 + body,  # wrong tag
        b"p" + SignedPickleSerializer(b"z" * 32).dumps(Boom())[1:],  # another key
        b"p" + body,  # no tag at all
        b"p" + serializer.dumps(1)[1:33] + body,  # a real tag over another body
        b"p",
    ]
    for payload in forged:
        with pytest.raises(ValueError, match=r"signature|not a signed pickle"):
            serializer.loads(payload)
    assert calls == []
    assert not Boom.ran


def test_signed_pickle_key_rotation_and_arguments() -> None:
    old = SignedPickleSerializer(b"o" * 32)
    new = SignedPickleSerializer(b"n" * 32, previous_keys=[b"o" * 32])
    assert new.loads(old.dumps("x")) == "x"
    with pytest.raises(ValueError, match="signature"):
        old.loads(new.dumps("x"))
    with pytest.raises(ValueError, match="at least 32 bytes, got 5"):
        SignedPickleSerializer(b"short")
    with pytest.raises(TypeError, match="secret_key must be bytes, got str"):
        SignedPickleSerializer("x" * 40)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"previous_keys\[0\]"):
        SignedPickleSerializer(SECRET, previous_keys=[b""])
    with pytest.raises(ValueError, match="protocol"):
        SignedPickleSerializer(SECRET, protocol=99)
    with pytest.raises(TypeError, match="cannot pickle"):
        SignedPickleSerializer(SECRET).dumps(lambda: 1)


def test_msgpack_mapping() -> None:
    serializer = MsgpackSerializer()
    assert serializer.loads(serializer.dumps({"b": b"\x00", "n": math.inf})) == {
        "b": b"\x00",
        "n": math.inf,
    }
    with pytest.raises(ValueError, match="out of range"):
        serializer.dumps(2**70)


# -- the key codec ---------------------------------------------------------

KEYS = st.recursive(
    st.none()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.booleans()
    | st.sampled_from([int, str, KeyCodec]),
    lambda children: (
        st.tuples(children, children)
        | st.lists(children, max_size=3).map(tuple)
        | st.frozensets(children.filter(lambda k: not isinstance(k, float)), max_size=3)
    ),
    max_leaves=8,
)


@given(key=KEYS)
@settings(max_examples=300)
def test_every_key_round_trips(key: object) -> None:
    codec = KeyCodec("app:")
    encoded = codec.encode(key)
    assert encoded.startswith(b"app:")
    decoded = codec.decode(encoded)
    assert decoded == key
    assert hash(decoded) == hash(key)


@given(a=KEYS, b=KEYS)
@settings(max_examples=300)
def test_the_encoding_is_injective_and_canonical(a: object, b: object) -> None:
    codec = KeyCodec("p")
    assert (codec.encode(a) == codec.encode(b)) == (a == b)


def test_key_codec_documented_forms() -> None:
    codec = KeyCodec("app:")
    assert codec.encode("user:1") == b"app:user:1"
    assert codec.encode(1) == codec.encode(1.0) == codec.encode(True) == b"app:\x00i1;"
    assert codec.encode("\x00") == b"app:\x00s1:\x00"
    assert codec.encode(("u", 7, int)) == b"app:\x00t3:s1:ui7;y12:builtins.int"
    assert codec.encode(frozenset({2, 1})) == codec.encode(frozenset({1, 2}))
    with pytest.raises(ValueError, match="NaN"):
        codec.encode(("x", math.nan))
    with pytest.raises(TypeError, match="cannot encode a key holding a Fraction"):
        codec.encode(Fraction(1, 3))
    with pytest.raises(ValueError, match="must not be empty"):
        KeyCodec("")
    with pytest.raises(TypeError, match="prefix must be a str or bytes"):
        KeyCodec(3)  # type: ignore[arg-type]


def test_decode_rejects_what_is_not_a_key() -> None:
    codec = KeyCodec("app:")
    for raw in [
        b"other:x",
        b"app:\x00",
        b"app:\x00i01;",
        b"app:\x00i-0;",
        b"app:\x00f1.0;",
        b"app:\x00fnan;",
        b"app:\x00s5:ab",
        b"app:\x00t2:n",
        b"app:\x00y12:builtins.int",  # a class this codec never encoded
        b"app:\x00#lease:x",
        b"app:\x00#tag:x",
        b"app:\x00" + b"t1:" * 200 + b"n",  # deeper than MAX_DEPTH
        b"app:\x00i" + b"9" * 5000 + b";",
        b"app:\xff",
        "x",  # not bytes
    ]:
        assert codec.decode(raw) is NOT_A_KEY  # type: ignore[arg-type]


def test_decoders_survive_fuzzing() -> None:
    """The short run (``tests/reliability`` runs 1M inputs)."""
    accepted = fuzz(20_000)
    assert accepted["KeyCodec"] > 0


def test_importing_without_coredis_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['coredis'] = None\n"
        "import sweepcache\n"
        "assert 'sweepcache.redis' not in sys.modules\n"
        "try:\n"
        "    import sweepcache.redis\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'sweepcache[redis]'" in done.stdout


def test_import_sweepcache_does_not_import_the_redis_tier() -> None:
    code = "import sys, sweepcache; assert 'coredis' not in sys.modules, 'coredis imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    ("module", "make", "extra"),
    [("orjson", OrjsonSerializer, "orjson"), ("msgpack", MsgpackSerializer, "msgpack")],
)
def test_optional_codecs_name_their_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, make: Any, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"pip install 'sweepcache\[{extra}\]'"):
        make()
