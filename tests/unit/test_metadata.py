"""Exact metadata round trip through a real Struct, hints, reserved keys and refusals by path."""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scintirete_integrations import InvalidArgumentError, _convert
from scintirete_integrations._metadata import (
    HINT_KEY,
    RESERVED_PREFIX,
    decode_metadata,
    encode_metadata,
    is_reserved,
    plain_metadata,
    plain_value,
)


def through_struct(metadata: Any) -> dict[str, Any]:
    """encode -> Struct -> decode, the way records travel."""
    return decode_metadata(_convert.metadata_from_pb(_convert.metadata_to_pb(encode_metadata(metadata))))


def identical(left: Any, right: Any) -> bool:
    """== with exact types at every level (1, 1.0 and True are all == in Python) and the sign of 0.0."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(identical(left[key], right[key]) for key in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(identical(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, float):
        return left == right and math.copysign(1.0, left) == math.copysign(1.0, right)
    return bool(left == right)


ROUND_TRIPS = [
    pytest.param({}, id="empty"),
    pytest.param({"s": "text", "f": 0.5, "b": True, "n": None}, id="flat-no-ints"),
    pytest.param({"one": 1, "one_float": 1.0, "yes": True}, id="int-float-bool-apart"),
    pytest.param({"zero": 0, "neg_zero": -0.0, "neg": -7}, id="zeros"),
    pytest.param({"edge": 2**53, "neg_edge": -(2**53)}, id="exact-edge"),
    pytest.param({"past": 2**53 + 1, "neg_past": -(2**53) - 1, "huge": 10**40}, id="big-ints"),
    pytest.param({"looks_numeric": "123", "also": "-5"}, id="numeric-strings-stay-strings"),
    pytest.param({"ids": [1, 2, 3], "mixed": [1, 1.0, True, None, "1"], "empty": []}, id="lists"),
    pytest.param({"grid": [[1, 2], [3]], "deep": {"a": {"b": [0.5, 2**60, {"c": 3}]}}}, id="nested"),
    pytest.param({"ünï": "çødé ✓", "emoji 🎉": ["日本", {"ключ": 1}]}, id="unicode"),
    pytest.param({"": "empty key", "d": {}, "dl": [{}, []]}, id="empty-key-and-containers"),
    pytest.param({"nested": {"_sci_x": 1}}, id="reserved-prefix-only-reserved-at-top"),
    pytest.param({"big_float": 1e300, "tiny": 5e-324, "float_past_2_53": 2.0**60}, id="extreme-floats"),
]


@pytest.mark.parametrize("metadata", ROUND_TRIPS)
def test_round_trip_through_struct_is_exact(metadata: dict[str, Any]) -> None:
    before = copy.deepcopy(metadata)
    assert identical(through_struct(metadata), metadata)
    assert identical(decode_metadata(encode_metadata(metadata)), metadata)  # also without the wire
    assert identical(metadata, before)  # input untouched


@pytest.mark.parametrize(
    ("metadata", "hint"),
    [
        ({"s": "x", "f": 0.5, "b": False, "n": None, "l": ["a", 0.5]}, None),
        ({"source": "a.pdf", "page": 3}, "i"),
        ({"page": 3, "score": 0.5}, {"page": "i"}),
        ({"ids": [1, 2], "tags": ["a"]}, "i"),
        ({"ids": [0.5, 2**60]}, {"ids": {"1": "b"}}),
        ({"big": 2**60}, {"big": "b"}),
        ({"a": {"b": [[1, 2], [3]], "c": [1.5, 2]}}, {"a": {"b": "i", "c": {"1": "i"}}}),
        ({"a": {"x": 1}, "f": 1.5}, {"a": "i"}),
        ({"empty": {}, "none": []}, None),
    ],
)
def test_hint_is_present_only_when_needed_and_compact(metadata: dict[str, Any], hint: Any) -> None:
    encoded = encode_metadata(metadata)
    assert encoded.get(HINT_KEY) == hint
    assert (HINT_KEY in encoded) == (hint is not None)
    assert {key: value for key, value in encoded.items() if key != HINT_KEY}.keys() == metadata.keys()


def test_encoded_is_plain_json() -> None:
    encoded = encode_metadata({"t": (1, "a"), "big": -(2**70), "d": {"x": [1.5]}})
    assert json.loads(json.dumps(encoded, allow_nan=False)) == encoded
    assert encoded["t"] == [1, "a"]
    assert encoded["big"] == str(-(2**70))


def test_none_means_empty() -> None:
    assert encode_metadata(None) == {}


def test_tuples_come_back_as_lists() -> None:
    assert identical(through_struct({"t": (1, (2.5, "x")), "e": ()}), {"t": [1, [2.5, "x"]], "e": []})


def test_numpy_values_are_converted_to_python_types() -> None:
    metadata = {
        "i64": np.int64(5),
        "u64": np.uint64(2**64 - 1),
        "f32": np.float32(0.5),
        "f64": np.float64(1.0),
        "flag": np.bool_(True),
        "arr": np.arange(3),
        "matrix": np.array([[0.5, 1.5], [2.5, 3.5]]),
        "scalar_array": np.array(7),
    }
    expected = {
        "i64": 5,
        "u64": 2**64 - 1,
        "f32": 0.5,
        "f64": 1.0,
        "flag": True,
        "arr": [0, 1, 2],
        "matrix": [[0.5, 1.5], [2.5, 3.5]],
        "scalar_array": 7,
    }
    assert identical(through_struct(metadata), expected)


def test_a_float32_is_stored_as_the_shortest_decimal_that_reads_back_as_it() -> None:
    metadata = {
        "f": np.float32(0.1),
        "half": np.float16(0.1),
        "zero_d": np.array(np.float32(0.3)),
        "row": np.array([0.1, 0.7], dtype=np.float32),
        "nested": {"xs": [np.float32(1e-7), np.float32(3.4e38)]},
    }
    expected = {"f": 0.1, "half": 0.1, "zero_d": 0.3, "row": [0.1, 0.7], "nested": {"xs": [1e-7, 3.4e38]}}
    assert identical(through_struct(metadata), expected)
    assert np.float32(through_struct(metadata)["f"]) == np.float32(0.1)  # the same float32 again
    assert plain_value(np.float64(0.1)) == 0.1 and plain_value(np.float32(2.5)) == 2.5


def test_top_level_keys_starting_with_a_dollar_are_refused() -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"'\$or' starts with '\$', which filters read as an operator"
    ):
        encode_metadata({"$or": 1})
    assert through_struct({"a": {"$b": 1}}) == {"a": {"$b": 1}}  # nested: reachable as "a.$b"


def test_plain_value_and_plain_metadata() -> None:
    values = [np.int64(5), np.bool_(False), np.array(7), np.float32(0.1), "text", [1], None]
    assert [plain_value(value) for value in values] == [5, False, 7, 0.1, "text", [1], None]
    assert [type(plain_value(value)) for value in values[:4]] == [int, bool, int, float]
    assert math.isnan(plain_value(np.float32("nan")))
    metadata = {"n": np.int64(5), "tags": ("a", "b"), "f": np.float32(0.1)}
    assert identical(plain_metadata(metadata), {"n": 5, "tags": ["a", "b"], "f": 0.1})
    assert isinstance(metadata["n"], np.int64)  # the caller's dict is not changed
    with pytest.raises(InvalidArgumentError, match="isoformat"):
        plain_metadata({"when": datetime.date(2024, 1, 1)})


def test_subclasses_are_stored_as_their_base_type() -> None:
    class Color(enum.StrEnum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    class Key(str):
        pass

    got = through_struct({"color": Color.RED, "level": Level.HIGH, Key("k"): [Color.RED]})
    assert identical(got, {"color": "red", "level": 3, "k": ["red"]})


@pytest.mark.parametrize(
    ("metadata", "fragments"),
    [
        (
            {"when": datetime.datetime(2024, 1, 2)},
            ["metadata 'when' is a datetime; store value.isoformat() instead"],
        ),
        ({"day": datetime.date(2024, 1, 2)}, ["'day' is a date", "isoformat()"]),
        ({"at": datetime.time(12, 0)}, ["'at' is a time", "isoformat()"]),
        ({"blob": b"\x00"}, ["'blob' is a bytes", "value.decode()", "base64"]),
        ({"buf": bytearray(b"x")}, ["'buf' is a bytearray", "value.decode()"]),
        ({"tags": {"a", "b"}}, ["'tags' is a set", "sorted(value)"]),
        ({"tags": frozenset()}, ["'tags' is a frozenset", "sorted(value)"]),
        ({"price": decimal.Decimal("1.10")}, ["'price' is a Decimal", "str(value)"]),
        ({"z": 1j}, ["'z' is a complex"]),
        ({"obj": object()}, ["'obj' is a object", "convert it to str, int, float, bool, None, list or dict"]),
        ({"x": float("nan")}, ["metadata 'x' is nan", "NaN or infinity"]),
        ({"x": float("inf")}, ["metadata 'x' is inf"]),
        ({"a": {"b": [0.5, float("-inf")]}}, ["metadata 'a.b[1]' is -inf"]),
        ({"a": [{"when": datetime.date(2024, 1, 1)}]}, ["metadata 'a[0].when' is a date"]),
        ({"a": {"b": {1: "x"}}}, ["metadata 'a.b' has the key 1 (int); keys must be strings"]),
        ({1: "x"}, ["metadata has the key 1 (int)"]),
        ({"a": np.float32("nan")}, ["metadata 'a' is nan"]),
        ({"a": np.datetime64("2024-01-01")}, ["'a' is a datetime64"]),
        ({"a": np.array([1 + 2j])}, ["'a[0]' is a complex"]),
        ({"_sci_id": "x"}, ["metadata key '_sci_id' starts with the reserved prefix '_sci_'", "rename"]),
        ({HINT_KEY: 1}, ["reserved prefix"]),
    ],
)
def test_unsupported_values_are_refused_by_path(metadata: dict[Any, Any], fragments: list[str]) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        encode_metadata(metadata)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_metadata_must_be_a_mapping() -> None:
    with pytest.raises(InvalidArgumentError, match="metadata must be a dict with string keys, got a list"):
        encode_metadata([("a", 1)])  # type: ignore[arg-type]


def test_int_too_long_for_decimal_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="metadata 'n' is an int too large"):
        encode_metadata({"n": 10**5000})


def test_is_reserved() -> None:
    assert RESERVED_PREFIX == "_sci_"
    assert is_reserved("_sci_id")
    assert is_reserved(HINT_KEY)
    assert not is_reserved("sci_id")
    assert not is_reserved("_sci")


def test_decode_drops_reserved_keys_and_leaves_input_alone() -> None:
    stored = {"_sci_id": "doc-1", "_sci_text": "hello", "page": 3.0, "ids": [1.0], HINT_KEY: {"ids": "i"}}
    before = copy.deepcopy(stored)
    assert identical(decode_metadata(stored), {"page": 3.0, "ids": [1]})
    assert identical(stored, before)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"a": 1.5, HINT_KEY: "i"}, {"a": 1.5}),  # not integral: left alone
        ({"a": "12x", HINT_KEY: {"a": "b"}}, {"a": "12x"}),  # not a decimal
        ({"a": 3.0, HINT_KEY: {"a": "b"}}, {"a": 3.0}),  # "b" on a number
        ({"a": [1.0], HINT_KEY: {"a": {"5": "i", "x": "i", "-1": "i"}}}, {"a": [1.0]}),  # bad indexes
        ({"a": "s", HINT_KEY: {"a": {"b": "i"}}}, {"a": "s"}),  # map on a scalar
        ({"a": 1.0, HINT_KEY: {"missing": "i"}}, {"a": 1.0}),
        ({"a": 1.0, HINT_KEY: 7.0}, {"a": 1.0}),  # garbage hint
        ({"a": 1.0, HINT_KEY: {"a": "zzz"}}, {"a": 1.0}),  # unknown code
        ({"a": 1.0, HINT_KEY: ["a"]}, {"a": 1.0}),
    ],
)
def test_decode_is_lenient_with_hints_that_do_not_fit(
    stored: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert identical(decode_metadata(stored), expected)


# -- properties ---------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-1000, max_value=1000),
    st.integers(),
    st.integers(min_value=2**53 - 3, max_value=2**53 + 3),
    st.integers(min_value=-(2**53) - 3, max_value=-(2**53) + 3),
    st.integers(min_value=2**63, max_value=2**200),
    st.integers(min_value=-(2**200), max_value=-(2**63)),
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
_user_keys = st.text(max_size=10).filter(lambda key: not key.startswith((RESERVED_PREFIX, "$")))
_metadata = st.dictionaries(_user_keys, _values, max_size=8)


@settings(max_examples=400)
@given(_metadata)
def test_property_exact_round_trip_through_struct(metadata: dict[str, Any]) -> None:
    before = copy.deepcopy(metadata)
    encoded = encode_metadata(metadata)
    assert identical(through_struct(metadata), metadata)
    assert identical(decode_metadata(encoded), metadata)
    assert identical(metadata, before)
    # What goes on the wire is plain JSON, and user keys are readable as they are.
    json.dumps(encoded, allow_nan=False)
    assert all(key in encoded for key in metadata)


@given(
    _metadata,
    st.dictionaries(st.text(max_size=6).map(lambda key: RESERVED_PREFIX + key), _values, max_size=3),
)
def test_property_decode_ignores_document_layer_keys(
    metadata: dict[str, Any], reserved: dict[str, Any]
) -> None:
    encoded = encode_metadata(metadata)
    reserved.pop(HINT_KEY, None)
    assert identical(decode_metadata({**encoded, **reserved}), metadata)
