"""The filter language: semantics of every operator, every validation error, and properties."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scintirete_integrations import InvalidArgumentError, filters

RECORD: dict[str, Any] = {
    "title": "Deep Learning",
    "street": "Straße",
    "year": 2020,
    "score": 4.5,
    "flag": True,
    "off": False,
    "zero": 0,
    "nothing": None,
    "tags": ["ml", "AI", 3, True, None],
    "words": ["Alpha", "beta"],
    "nested": {"a": {"b": 1}, "list": [1, 2], "s": "x"},
    "empty": [],
    "big": 2**60,
}

CASES: list[tuple[dict[str, Any], bool]] = [
    # equality, the number rule, bool is not a number, None is a value
    ({"title": "Deep Learning"}, True),
    ({"title": "deep learning"}, False),
    ({"year": 2020}, True),
    ({"year": 2020.0}, True),
    ({"year": "2020"}, False),
    ({"flag": True}, True),
    ({"flag": 1}, False),
    ({"zero": False}, False),
    ({"zero": 0.0}, True),
    ({"off": 0}, False),
    ({"off": False}, True),
    ({"nothing": None}, True),
    ({"missing": None}, False),
    ({"title": None}, False),
    ({"big": 2**60}, True),
    ({"big": 2**60 + 1}, False),
    ({"big": float(2**60)}, True),
    # lists compare as a whole, element kinds by the same rule
    ({"tags": ["ml", "AI", 3, True, None]}, True),
    ({"tags": ["ml", "AI", 3.0, True, None]}, True),
    ({"tags": ["ml", "AI", 3, 1, None]}, False),
    ({"tags": ["AI", "ml", 3, True, None]}, False),
    ({"tags": "ml"}, False),
    ({"empty": []}, True),
    ({"empty": {"$eq": []}}, True),
    ({"title": {"$eq": "Deep Learning"}}, True),
    # nested paths walk dicts only
    ({"nested.a.b": 1}, True),
    ({"nested.a.b": True}, False),
    ({"nested.a": {"$eq": {"b": 1.0}}}, True),
    ({"nested.a": {"$eq": {"b": True}}}, False),
    ({"nested.a": {"$eq": {"b": 1, "c": 2}}}, False),
    ({"nested.a.b.c": 1}, False),
    ({"nested.list.0": 1}, False),
    ({"nested.s.x": {"$exists": False}}, True),
    ({"title.x": {"$exists": False}}, True),
    # $ne is exactly NOT $eq: missing matches
    ({"title": {"$ne": "x"}}, True),
    ({"title": {"$ne": "Deep Learning"}}, False),
    ({"missing": {"$ne": 1}}, True),
    ({"flag": {"$ne": 1}}, True),
    ({"year": {"$ne": 2020.0}}, False),
    ({"nothing": {"$ne": None}}, False),
    ({"missing": {"$ne": None}}, True),
    ({"tags": {"$ne": ["ml"]}}, True),
    # ordering: two numbers or two strings, anything else no match
    ({"year": {"$gt": 2019}}, True),
    ({"year": {"$gte": 2020}}, True),
    ({"year": {"$gt": 2020}}, False),
    ({"year": {"$lt": 2020.5}}, True),
    ({"year": {"$lte": 2020}}, True),
    ({"year": {"$lt": 2020}}, False),
    ({"score": {"$gt": 4}}, True),
    ({"big": {"$gt": 2**53}}, True),
    ({"title": {"$gt": "A"}}, True),
    ({"title": {"$lt": "A"}}, False),
    ({"title": {"$gte": "Deep Learning"}}, True),
    ({"year": {"$gt": "1"}}, False),
    ({"title": {"$gt": 1}}, False),
    ({"flag": {"$gt": 0}}, False),
    ({"flag": {"$gte": 1}}, False),
    ({"zero": {"$gte": 0}}, True),
    ({"nothing": {"$gt": 0}}, False),
    ({"missing": {"$lt": 1}}, False),
    ({"tags": {"$gt": 0}}, False),
    ({"nested": {"$gt": "a"}}, False),
    ({"year": {"$gte": 2000, "$lt": 2021}}, True),
    ({"year": {"$gte": 2000, "$lt": 2020}}, False),
    # $in / $nin
    ({"title": {"$in": ["a", "Deep Learning"]}}, True),
    ({"title": {"$in": ("a", "Deep Learning")}}, True),
    ({"year": {"$in": [2020.0]}}, True),
    ({"year": {"$in": [True, "2020"]}}, False),
    ({"flag": {"$in": [1]}}, False),
    ({"flag": {"$in": [True]}}, True),
    ({"zero": {"$in": [False]}}, False),
    ({"nothing": {"$in": [None]}}, True),
    ({"missing": {"$in": [None]}}, False),
    ({"tags": {"$in": ["AI"]}}, True),
    ({"tags": {"$in": ["ai"]}}, False),
    ({"tags": {"$in": [3.0]}}, True),
    ({"tags": {"$in": [1]}}, False),
    ({"tags": {"$in": [False]}}, False),
    ({"tags": {"$in": [None]}}, True),
    ({"empty": {"$in": [1]}}, False),
    ({"title": {"$in": []}}, False),
    ({"title": {"$nin": ["x"]}}, True),
    ({"title": {"$nin": ["Deep Learning"]}}, False),
    ({"missing": {"$nin": ["x"]}}, True),
    ({"tags": {"$nin": ["ml"]}}, False),
    ({"tags": {"$nin": ["zz", 1]}}, True),
    ({"flag": {"$nin": [1]}}, True),
    ({"title": {"$nin": []}}, True),
    # $exists: null is present
    ({"title": {"$exists": True}}, True),
    ({"nothing": {"$exists": True}}, True),
    ({"missing": {"$exists": True}}, False),
    ({"missing": {"$exists": False}}, True),
    ({"nothing": {"$exists": False}}, False),
    ({"nested.a.b": {"$exists": True}}, True),
    ({"nested.x": {"$exists": True}}, False),
    # $contains: list membership or substring
    ({"tags": {"$contains": "ml"}}, True),
    ({"tags": {"$contains": "m"}}, False),
    ({"tags": {"$contains": 3.0}}, True),
    ({"tags": {"$contains": None}}, True),
    ({"tags": {"$contains": True}}, True),
    ({"tags": {"$contains": 1}}, False),
    ({"tags": {"$contains": False}}, False),
    ({"title": {"$contains": "Learn"}}, True),
    ({"title": {"$contains": "learn"}}, False),
    ({"title": {"$contains": ""}}, True),
    ({"title": {"$contains": 1}}, False),
    ({"year": {"$contains": 20}}, False),
    ({"empty": {"$contains": "x"}}, False),
    ({"missing": {"$contains": "x"}}, False),
    ({"nested": {"$contains": "s"}}, False),
    # $icontains: case-insensitive substring or membership
    ({"title": {"$icontains": "LEARN"}}, True),
    ({"title": {"$icontains": "xyz"}}, False),
    ({"street": {"$icontains": "STRASSE"}}, True),
    ({"words": {"$icontains": "ALPHA"}}, True),
    ({"words": {"$icontains": "alp"}}, False),
    ({"tags": {"$icontains": "ai"}}, True),
    ({"year": {"$icontains": "2"}}, False),
    ({"missing": {"$icontains": ""}}, False),
    # $all
    ({"tags": {"$all": ["ml", "AI"]}}, True),
    ({"tags": {"$all": ["ml", "x"]}}, False),
    ({"tags": {"$all": [3.0, True, None]}}, True),
    ({"tags": {"$all": [1]}}, False),
    ({"title": {"$all": ["Deep Learning"]}}, False),
    ({"empty": {"$all": ["x"]}}, False),
    ({"missing": {"$all": ["x"]}}, False),
    # field-level $not
    ({"year": {"$not": {"$gt": 2020}}}, True),
    ({"year": {"$not": {"$gte": 2020}}}, False),
    ({"missing": {"$not": {"$gt": 3}}}, True),
    ({"missing": {"$not": {"$exists": False}}}, False),
    ({"year": {"$not": {"$in": [2020]}}}, False),
    ({"year": {"$gt": 2000, "$not": {"$eq": 2021}}}, True),
    # several keys: AND
    ({"title": "Deep Learning", "year": 2020}, True),
    ({"title": "Deep Learning", "year": 2021}, False),
    # logical operators
    ({"$and": [{"year": 2020}, {"flag": True}]}, True),
    ({"$and": [{"year": 2020}, {"flag": False}]}, False),
    ({"$and": [{}]}, True),
    ({"$or": [{"year": 1999}, {"flag": True}]}, True),
    ({"$or": [{"year": 1999}, {"flag": False}]}, False),
    ({"$or": [{"year": 2020}]}, True),
    ({"$not": {"year": 2020}}, False),
    ({"$not": {"missing": 1}}, True),
    ({"$not": {}}, False),
    ({"$or": [{"$and": [{"year": 2020}, {"missing": 1}]}, {"$not": {"title": "x"}}]}, True),
    ({"title": "Deep Learning", "$or": [{"year": 1}, {"year": 2}]}, False),
    ({}, True),
]


@pytest.mark.parametrize(("filter_", "expected"), CASES, ids=[repr(case[0]) for case in CASES])
def test_semantics(filter_: dict[str, Any], expected: bool) -> None:
    assert filters.compile(filter_)(RECORD) is expected
    assert filters.matches(filter_, RECORD) is expected
    filters.validate(filter_)


def test_none_and_empty_match_everything() -> None:
    empty: list[dict[str, Any] | None] = [None, {}]
    for filter_ in empty:
        predicate = filters.compile(filter_)
        assert predicate({}) is True
        assert predicate(RECORD) is True


def test_predicate_is_reusable_across_records() -> None:
    predicate = filters.compile({"year": {"$gte": 2020}, "tags": {"$contains": "rag"}})
    records: list[dict[str, Any]] = [
        {"year": 2021, "tags": ["rag"]},
        {"year": 2019, "tags": ["rag"]},
        {"year": 2022},
        {},
    ]
    assert [predicate(record) for record in records] == [True, False, False, False]


def test_compile_does_not_keep_a_reference_to_mutable_operands() -> None:
    operand = ["a"]
    predicate = filters.compile({"tags": {"$in": operand}, "t": {"$eq": operand}})
    operand.append("b")
    assert predicate({"tags": ["b"], "t": ["a", "b"]}) is False
    assert predicate({"tags": ["a"], "t": ["a"]}) is True


ERRORS: list[tuple[Any, list[str]]] = [
    (
        {"title": {"$regex": "^A"}},
        [
            "unknown operator '$regex' at filter['title']",
            "supported: $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin",
        ],
    ),
    ({"$regex": 1}, ["unknown operator '$regex' at filter", "supported at filter level: $and, $or, $not"]),
    ({"$gt": 1}, ["operator '$gt' at filter needs a field", "{'field': {'$gt': ...}}"]),
    ({"": 1}, ["filter has an empty field name"]),
    ({"_sci_id": "x"}, ["field '_sci_id' at filter starts with the reserved prefix '_sci_'"]),
    ({1: "x"}, ["filter has the key 1; filter keys must be strings"]),
    ({"a": {}}, ["filter['a'] is an empty operator dict", "{'$eq': {}}"]),
    ({"a": {"b": 1}}, ["unknown operator 'b' at filter['a']", "to compare with a dict write {'$eq': {...}}"]),
    ({"a": {"$gt": 1, "b": 1}}, ["unknown operator 'b' at filter['a']"]),
    ({"a": {"$in": 1}}, ["'$in' at filter['a'] needs a list of JSON scalars", "got int 1"]),
    ({"a": {"$nin": "x"}}, ["'$nin' at filter['a'] needs a list of JSON scalars", "got str 'x'"]),
    ({"a": {"$in": [[1]]}}, ["filter['a']['$in'][0] needs a JSON scalar", "got list [1]"]),
    ({"a": {"$in": [float("nan")]}}, ["filter['a']['$in'][0] needs a JSON scalar"]),
    ({"a": {"$all": []}}, ["'$all' at filter['a'] needs a non-empty list of JSON scalars"]),
    ({"a": {"$all": "x"}}, ["'$all' at filter['a'] needs a non-empty list"]),
    ({"a": {"$exists": 1}}, ["'$exists' at filter['a'] needs true or false, got int 1"]),
    ({"a": {"$gt": True}}, ["'$gt' at filter['a'] needs a number or a string, got bool True"]),
    ({"a": {"$gte": None}}, ["'$gte' at filter['a'] needs a number or a string, got NoneType None"]),
    ({"a": {"$lt": [1]}}, ["'$lt' at filter['a'] needs a number or a string"]),
    ({"a": {"$lte": float("inf")}}, ["'$lte' at filter['a'] needs a number or a string"]),
    ({"a": {"$contains": [1]}}, ["filter['a']['$contains'] needs a JSON scalar", "got list [1]"]),
    ({"a": {"$contains": {"x": 1}}}, ["filter['a']['$contains'] needs a JSON scalar"]),
    ({"a": {"$icontains": 1}}, ["'$icontains' at filter['a'] needs a string, got int 1"]),
    ({"$and": []}, ["'$and' at filter needs a non-empty list of filters, got list []"]),
    ({"$or": {"a": 1}}, ["'$or' at filter needs a non-empty list of filters"]),
    ({"$and": [1]}, ["filter['$and'][0] must be a filter dict, got int 1"]),
    ({"$not": [{"a": 1}]}, ["filter['$not'] must be a filter dict"]),
    ({"a": {"$not": 3}}, ["'$not' at filter['a'] needs an operator dict such as {'$gt': 3}"]),
    ({"a": {"$not": {}}}, ["filter['a']['$not'] is an empty operator dict"]),
    ({"a": {"$not": {"$bad": 1}}}, ["unknown operator '$bad' at filter['a']['$not']"]),
    ({"a": {"$or": [{"a": 1}]}}, ["'$or' at filter['a'] is a filter-level operator"]),
    ({"a": datetime.date(2024, 1, 1)}, ["filter['a'] is date", "filter values must be JSON"]),
    ({"a": float("nan")}, ["filter['a'] is float nan", "finite number"]),
    ({"a": {"$eq": {1: 2}}}, ["filter['a']['$eq'] has the key 1", "must be strings"]),
    ({"a": {"$ne": [1, {"b": {1, 2}}]}}, ["filter['a']['$ne'][1]['b'] is set"]),
    ({"$and": [{"a": {"$regex": 1}}]}, ["unknown operator '$regex' at filter['$and'][0]['a']"]),
    (
        {"$or": [{"a": 1}, {"_sci_x": 1}]},
        ["field '_sci_x' at filter['$or'][1] starts with the reserved prefix"],
    ),
    ({"$not": {"a": {"$in": 1}}}, ["'$in' at filter['$not']['a'] needs a list"]),
    ("year > 3", ["filter must be a dict such as {'field': value}, got a str"]),
    ([{"a": 1}], ["filter must be a dict", "got a list"]),
]


@pytest.mark.parametrize(("filter_", "fragments"), ERRORS, ids=[repr(case[0]) for case in ERRORS])
def test_validation_errors_name_place_problem_and_fix(filter_: Any, fragments: list[str]) -> None:
    for check in (filters.validate, filters.compile):
        with pytest.raises(InvalidArgumentError) as info:
            check(filter_)
        message = str(info.value)
        for fragment in fragments:
            assert fragment in message, message
    assert isinstance(info.value, ValueError)


# -- properties ---------------------------------------------------------------------------------

FIELDS = ["a", "b", "tags", "n.x", "n.y.z"]
_words = st.sampled_from(["", "a", "A", "ab", "Ab", "b", "ß", "SS"])
_numbers = st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False), st.just(2**60))
_scalars = st.one_of(st.none(), st.booleans(), _numbers, _words)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["x", "y", "z"]), children)
    ),
    max_leaves=6,
)
_op = st.one_of(
    st.tuples(st.sampled_from(["$eq", "$ne"]), _json),
    st.tuples(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), _numbers | _words),
    st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(_scalars, max_size=4)),
    st.tuples(st.just("$exists"), st.booleans()),
    st.tuples(st.just("$contains"), _scalars),
    st.tuples(st.just("$icontains"), _words),
    st.tuples(st.just("$all"), st.lists(_scalars, min_size=1, max_size=3)),
)
_base_ops = st.lists(_op, min_size=1, max_size=3).map(dict)
_ops = _base_ops | st.tuples(_base_ops, st.lists(_op, max_size=2).map(dict)).map(
    lambda pair: {**pair[1], "$not": pair[0]}
)
_clause = _scalars | st.lists(_json, max_size=3) | _ops
_leaf_filters = st.dictionaries(st.sampled_from(FIELDS), _clause, max_size=3)
_filters = st.recursive(
    _leaf_filters,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda parts: {"$and": parts}),
        st.lists(children, min_size=1, max_size=3).map(lambda parts: {"$or": parts}),
        children.map(lambda inner: {"$not": inner}),
        st.tuples(children, _leaf_filters).map(lambda pair: {**pair[1], "$or": [pair[0]]}),
    ),
    max_leaves=8,
)
_field_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["x", "y", "z"]), children)
    ),
    max_leaves=8,
)
_metadata = st.dictionaries(st.sampled_from(["a", "b", "tags", "n", "other"]), _field_values, max_size=5)
# Not what decoded metadata holds, but a predicate must not raise on it either.
_odd = st.sampled_from(
    [
        float("nan"),
        float("inf"),
        object(),
        datetime.date(2024, 1, 1),
        {1, 2},
        b"x",
        (1, "a"),
        1j,
        {1: "int key"},
    ]
)
_odd_metadata = st.dictionaries(
    st.sampled_from(["a", "b", "tags", "n"]),
    st.recursive(
        _scalars | _odd,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["x", "y", "z"]), children)
        ),
        max_leaves=6,
    ),
    max_size=4,
)


def _reordered(filter_: dict[str, Any]) -> dict[str, Any]:
    """The same filter with every dict's keys and every $and/$or list in reverse order."""
    out: dict[str, Any] = {}
    for key, value in reversed(list(filter_.items())):
        if key in ("$and", "$or"):
            out[key] = [_reordered(part) for part in reversed(value)]
        elif key == "$not":
            out[key] = _reordered(value)
        elif isinstance(value, dict):  # a field's operator dict
            out[key] = {
                name: (_reordered_ops(operand) if name == "$not" else operand)
                for name, operand in reversed(list(value.items()))
            }
        else:
            out[key] = value
    return out


def _reordered_ops(ops: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (_reordered_ops(operand) if name == "$not" else operand)
        for name, operand in reversed(list(ops.items()))
    }


@settings(max_examples=300)
@given(_filters, _metadata)
def test_property_predicates_return_bools_and_never_raise(
    filter_: dict[str, Any], metadata: dict[str, Any]
) -> None:
    assert filters.compile(filter_)(metadata) in (True, False)


@given(_filters, _odd_metadata)
def test_property_odd_metadata_values_never_raise(filter_: dict[str, Any], metadata: dict[str, Any]) -> None:
    assert filters.compile(filter_)(metadata) in (True, False)


@given(_filters, _metadata)
def test_property_not_is_negation(filter_: dict[str, Any], metadata: dict[str, Any]) -> None:
    assert filters.compile({"$not": filter_})(metadata) is not filters.compile(filter_)(metadata)


@given(st.sampled_from(FIELDS), _ops, _metadata)
def test_property_field_level_not_is_negation(
    field: str, ops: dict[str, Any], metadata: dict[str, Any]
) -> None:
    plain = filters.compile({field: ops})(metadata)
    assert filters.compile({field: {"$not": ops}})(metadata) is not plain


@given(st.sampled_from(FIELDS), st.lists(_scalars, max_size=4), _metadata)
def test_property_nin_is_not_in(field: str, operand: list[Any], metadata: dict[str, Any]) -> None:
    inside = filters.compile({field: {"$in": operand}})(metadata)
    assert filters.compile({field: {"$nin": operand}})(metadata) is not inside


@given(st.sampled_from(FIELDS), _json, _metadata)
def test_property_ne_is_not_eq(field: str, operand: Any, metadata: dict[str, Any]) -> None:
    equal = filters.compile({field: {"$eq": operand}})(metadata)
    assert filters.compile({field: {"$ne": operand}})(metadata) is not equal
    if not isinstance(operand, dict):
        assert filters.compile({field: operand})(metadata) is equal


@given(st.lists(_filters, min_size=1, max_size=4), _metadata)
def test_property_and_or_agree_with_all_any(parts: list[dict[str, Any]], metadata: dict[str, Any]) -> None:
    results = [filters.compile(part)(metadata) for part in parts]
    assert filters.compile({"$and": parts})(metadata) is all(results)
    assert filters.compile({"$or": parts})(metadata) is any(results)


@given(_leaf_filters, _metadata)
def test_property_keys_in_one_dict_are_anded(filter_: dict[str, Any], metadata: dict[str, Any]) -> None:
    each = [filters.compile({key: value})(metadata) for key, value in filter_.items()]
    assert filters.compile(filter_)(metadata) is all(each)


@given(_filters, _metadata)
def test_property_key_order_does_not_matter(filter_: dict[str, Any], metadata: dict[str, Any]) -> None:
    assert filters.compile(_reordered(filter_))(metadata) is filters.compile(filter_)(metadata)


@given(_filters, _metadata)
def test_property_compiling_twice_agrees(filter_: dict[str, Any], metadata: dict[str, Any]) -> None:
    assert filters.matches(filter_, metadata) is filters.compile(filter_)(metadata)


def test_numpy_operands_stand_for_the_python_values_they_hold() -> None:
    stored = {"i": 5, "f": 0.1, "flag": True, "tags": [1, 2]}
    matching = [
        {"i": np.int64(5)},
        {"i": {"$in": list(np.array([5, 6]))}},
        {"i": {"$in": np.array([5, 6])}},
        {"i": {"$gte": np.int32(5), "$lt": np.float64(6.0)}},
        {"f": np.float32(0.1)},  # a float32 is the shortest decimal that reads back as it
        {"f": {"$lte": np.float32(0.1)}},
        {"flag": np.bool_(True)},
        {"i": {"$exists": np.True_}},
        {"tags": np.array([1, 2])},
        {"tags": {"$all": [np.int8(1)], "$contains": np.uint64(2)}},
        {"i": np.array(5)},
    ]
    for case in matching:
        assert filters.matches(case, stored), case
    assert not filters.matches({"flag": np.int64(1)}, stored)  # a bool is never a number
    with pytest.raises(InvalidArgumentError, match="finite"):
        filters.validate({"f": {"$in": [np.float32("nan")]}})


def test_matches_everything_tells_a_filter_without_conditions() -> None:
    for empty in [None, {}, {"$and": [{}]}, {"$and": [{}, {"$or": [{}, {"a": 1}]}]}, {"$or": [{"a": 1}, {}]}]:
        assert filters.matches_everything(empty), empty
        assert filters.matches(empty, {"a": 2})
    for real in [{"a": 1}, {"$and": [{}, {"a": 1}]}, {"$or": [{"a": 1}]}, {"$not": {}}, {"$and": []}]:
        assert not filters.matches_everything(real), real


def test_a_key_holding_dots_wins_over_the_nested_path() -> None:
    metadata = {"a.b": 1, "a": {"b": 2, "c.d": 3, "e": {"f": 4}}, "x.": 5, "p..q": 6, "m.n": {"o": 7}}
    assert filters.matches({"a.b": 1}, metadata)  # the literal key, not metadata["a"]["b"]
    assert filters.matches({"a.c.d": 3, "a.e.f": 4, "x.": 5, "p..q": 6, "m.n.o": 7}, metadata)
    assert filters.matches({"a.b": 2}, {"a": {"b": 2}})  # without a literal key, the path
    assert filters.matches({"a.b.c": 2}, {"a.b": {"c": 1}, "a": {"b": {"c": 2}}}) is False
    assert filters.matches({"a.b.c": 2}, {"a.b": {"z": 1}, "a": {"b": {"c": 2}}})  # falls back
    assert not filters.matches({"a.z": {"$exists": True}}, metadata)
