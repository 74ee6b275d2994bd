"""The one filter language of scintirete_integrations: Mongo-style dicts, evaluated client-side.

The same convention as Chroma, PGVector and Pinecone. LangChain users pass these dicts as
``filter=``; LlamaIndex ``MetadataFilters`` are translated into them. Filters are checked
before anything is sent, and :func:`compile` builds the predicate once::

    from scintirete_integrations import filters

    match = filters.compile({"year": {"$gte": 2020}, "tags": {"$contains": "rag"}})
    match({"year": 2021, "tags": ["rag", "llm"]})   # True
    filters.matches({"$or": [{"lang": "en"}, {"lang": "de"}]}, {"lang": "fr"})   # False
    filters.validate({"title": {"$regex": "^A"}})
    # InvalidArgumentError: unknown operator '$regex' at filter['title']; supported: $eq, $ne, ...

Shape: ``{"field": value}`` is equality; several keys in one dict are ANDed; several operators
on one field, ``{"field": {"$gte": 1, "$lt": 5}}``, are ANDed. A dict given as a field's value
is always an operator dict; to compare with a dict, write ``{"field": {"$eq": {...}}}``. Field
names are dotted paths into nested dicts (``"a.b"`` is ``metadata["a"]["b"]``; a step through
anything but a dict finds nothing), and a key that itself holds dots wins over the path: ``"a.b"``
finds ``{"a.b": 1}`` before ``{"a": {"b": 2}}``, at any depth, so every stored key can be
filtered. Names may not be empty, start with ``$`` (metadata keys may not either), or start with
the reserved prefix ``_sci_``. ``None`` and ``{}`` match everything.

Semantics. "Equal" means: numbers compare numerically (``1`` equals ``1.0``), but a bool is
never a number (``True`` does not equal ``1``); strings, bools and None equal only their own
kind; lists equal lists element by element and dicts equal dicts key by key, by the same rule.

::

    operator: operand              matches when the field ...                          missing field
    -----------------------------  --------------------------------------------------  -------------
    "f": v  or  $eq: v (any JSON)  equals v; a list field is compared as a whole       no match
    $ne: v (any JSON)              does not equal v (exactly NOT $eq)                  matches
    $gt $gte $lt $lte: number|str  is of the same kind (two numbers or two strings)    no match
                                   and the comparison holds; other kinds never match
    $in: [scalars]                 equals one of them; a list field: any element does  no match
    $nin: [scalars]                exactly NOT $in                                     matches
    $contains: scalar              is a list with an element equal to it, or a string  no match
                                   containing it as a substring (when it is a str)
    $icontains: str                is a string containing it, ignoring case, or a      no match
                                   list with a string equal to it, ignoring case
    $all: [scalars] (non-empty)    is a list with an element equal to each of them     no match
    $exists: bool                  is present (null counts as present) == operand      only if false
    $not: {ops} (inside a field)   does not match {ops}                                NOT of {ops}
    $and: [filters] (non-empty)    every filter matches                                -
    $or: [filters] (non-empty)     at least one filter matches                         -
    $not: filter                   the filter does not match                           -

``{"f": None}`` matches a field that is present and null, not a missing one. Case-insensitive
means ``str.casefold``. "Scalar" is a str, int, float, bool or None; floats must be finite;
a tuple (or a 1-d numpy array) is accepted wherever a list is. numpy scalars stand for the
Python values they hold, by the rule metadata is stored with (``_metadata.plain_value``): a
float32 operand is the shortest decimal that reads back as it, so ``{"f": np.float32(0.1)}``
matches ``0.1``. Evaluation never raises: a value of the wrong kind simply does not match.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

import numpy as np

from ._metadata import RESERVED_PREFIX, plain_value
from .errors import InvalidArgumentError

__all__ = ["Filter", "Predicate", "compile", "matches", "matches_everything", "validate"]

#: A filter as users write it.
Filter: TypeAlias = Mapping[str, Any]
#: A compiled filter: decoded user metadata -> does it match.
Predicate: TypeAlias = Callable[[Mapping[str, Any]], bool]
# Tests one field's value (or _MISSING); the building block of a field's operator dict.
_Test: TypeAlias = Callable[[Any], bool]

_FIELD_OPERATORS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exists",
    "$contains",
    "$icontains",
    "$all",
    "$not",
)
_LOGICAL_OPERATORS = ("$and", "$or", "$not")
_ORDERING = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


class _Missing:
    """The value of a field the metadata does not have; equal to nothing, not even None."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


# Named after re.compile and shadowing the builtin on purpose: callers write filters.compile(...).
def compile(filter: Filter | None) -> Predicate:
    """Validate ``filter`` and build its predicate once; the predicate takes decoded user metadata.

    Raises InvalidArgumentError naming the place in the filter, the problem and what is supported.
    """
    if filter is None:
        return _always
    if not isinstance(filter, Mapping):
        raise InvalidArgumentError(
            f"filter must be a dict such as {{'field': value}}, got a {type(filter).__name__}"
        )
    return _compile_filter(filter, "filter")


def validate(filter: Filter | None) -> None:
    """Raise InvalidArgumentError if ``filter`` is not a valid filter; see :func:`compile`."""
    compile(filter)


def matches(filter: Filter | None, metadata: Mapping[str, Any]) -> bool:
    """One-off check; compile once and reuse the predicate when testing many records."""
    return compile(filter)(metadata)


def matches_everything(filter: Filter | None) -> bool:
    """True when ``filter`` places no condition at all, so it matches every record.

    That is None, ``{}``, an ``$and`` of such filters, or an ``$or`` with one of them. Deletes
    refuse these, so that an empty filter never deletes everything by accident::

        filters.matches_everything({})                           # True
        filters.matches_everything({"$and": [{}, {"$or": [{}]}]})  # True
        filters.matches_everything({"year": 2024})               # False
    """
    if filter is None:
        return True
    if not isinstance(filter, Mapping):
        return False
    for key, operand in filter.items():
        if not isinstance(operand, (list, tuple)) or not operand or key not in ("$and", "$or"):
            return False
        empty = [isinstance(item, Mapping) and matches_everything(item) for item in operand]
        if not (all(empty) if key == "$and" else any(empty)):
            return False
    return True


def _always(metadata: Mapping[str, Any]) -> bool:
    return True


# -- compiling: filter level ---------------------------------------------------------------------


def _compile_filter(filter: Mapping[Any, Any], where: str) -> Predicate:
    parts: list[Predicate] = []
    for key, value in filter.items():
        if not isinstance(key, str):
            raise InvalidArgumentError(f"{where} has the key {key!r}; filter keys must be strings")
        if key.startswith("$"):
            parts.append(_compile_logical(key, value, where))
        else:
            parts.append(_compile_field(key, value, where))
    return _all_of(parts)


def _all_of(parts: list[Predicate]) -> Predicate:
    if not parts:
        return _always
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda metadata: first(metadata) and second(metadata)
    return lambda metadata: all(part(metadata) for part in parts)


def _compile_logical(name: str, operand: Any, where: str) -> Predicate:
    at = f"{where}[{name!r}]"
    if name in ("$and", "$or"):
        if not isinstance(operand, (list, tuple)) or not operand:
            raise InvalidArgumentError(
                f"'{name}' at {where} needs a non-empty list of filters, got {_describe(operand)}"
            )
        parts = [
            _compile_filter(_filter_dict(item, f"{at}[{index}]"), f"{at}[{index}]")
            for index, item in enumerate(operand)
        ]
        if name == "$and":
            return _all_of(parts)
        if len(parts) == 1:
            return parts[0]
        return lambda metadata: any(part(metadata) for part in parts)
    if name == "$not":
        inner = _compile_filter(_filter_dict(operand, at), at)
        return lambda metadata: not inner(metadata)
    if name in _FIELD_OPERATORS:
        raise InvalidArgumentError(
            f"operator '{name}' at {where} needs a field: write {{'field': {{'{name}': ...}}}}; "
            f"supported at filter level: {_listing(_LOGICAL_OPERATORS)}"
        )
    raise InvalidArgumentError(
        f"unknown operator '{name}' at {where}; supported at filter level: {_listing(_LOGICAL_OPERATORS)}, "
        f"and inside a field: {_listing(_FIELD_OPERATORS)}"
    )


def _filter_dict(value: Any, where: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{where} must be a filter dict, got {_describe(value)}")
    return value


def _compile_field(name: str, value: Any, where: str) -> Predicate:
    at = f"{where}[{name!r}]"
    get = _getter(name, where)
    test = _compile_ops(value, at) if isinstance(value, Mapping) else _eq_test(_json(value, at))
    return lambda metadata: test(get(metadata))


def _getter(name: str, where: str) -> Callable[[Mapping[str, Any]], Any]:
    if not name:
        raise InvalidArgumentError(f"{where} has an empty field name")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidArgumentError(
            f"field '{name}' at {where} starts with the reserved prefix '{RESERVED_PREFIX}', "
            "which holds the document layer's own fields; filter on your metadata keys"
        )
    steps = tuple(name.split("."))
    if len(steps) == 1:
        return lambda metadata: metadata.get(name, _MISSING)
    return lambda metadata: _lookup(metadata, steps)


def _lookup(value: Mapping[str, Any], steps: tuple[str, ...]) -> Any:
    """The value at ``steps``; a key holding dots wins: the longest run of steps that is a key."""
    for end in range(len(steps), 0, -1):
        key = ".".join(steps[:end])
        if key not in value:
            continue
        if end == len(steps):
            return value[key]
        child = value[key]
        if isinstance(child, Mapping):
            found = _lookup(child, steps[end:])
            if found is not _MISSING:
                return found
    return _MISSING


# -- compiling: field level ----------------------------------------------------------------------


def _compile_ops(ops: Mapping[Any, Any], where: str) -> _Test:
    if not ops:
        raise InvalidArgumentError(
            f"{where} is an empty operator dict; to match an empty dict write {{'$eq': {{}}}}"
        )
    tests = [_compile_op(name, operand, where) for name, operand in ops.items()]
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:  # a range such as {"$gte": a, "$lt": b}: skip the generator
        low, high = tests
        return lambda value: low(value) and high(value)
    return lambda value: all(test(value) for test in tests)


def _compile_op(name: Any, operand: Any, where: str) -> _Test:
    at = f"{where}[{name!r}]"
    operand = plain_value(operand)
    if name == "$eq":
        return _eq_test(_json(operand, at))
    if name == "$ne":
        equal = _eq_test(_json(operand, at))
        return lambda value: not equal(value)
    if name in _ORDERING:
        return _ordering_test(_ORDERING[name], name, operand, where)
    if name == "$in":
        return _in_test(_scalars(name, operand, where, allow_empty=True))
    if name == "$nin":
        member = _in_test(_scalars(name, operand, where, allow_empty=True))
        return lambda value: not member(value)
    if name == "$exists":
        if not isinstance(operand, bool):
            raise InvalidArgumentError(f"'$exists' at {where} needs true or false, got {_describe(operand)}")
        if operand:
            return lambda value: value is not _MISSING
        return lambda value: value is _MISSING
    if name == "$contains":
        return _contains_test(_scalar(operand, at))
    if name == "$icontains":
        if not isinstance(operand, str):
            raise InvalidArgumentError(f"'$icontains' at {where} needs a string, got {_describe(operand)}")
        return _icontains_test(operand)
    if name == "$all":
        return _all_test(_scalars(name, operand, where, allow_empty=False))
    if name == "$not":
        if not isinstance(operand, Mapping):
            raise InvalidArgumentError(
                f"'$not' at {where} needs an operator dict such as {{'$gt': 3}}, got {_describe(operand)}"
            )
        inner = _compile_ops(operand, at)
        return lambda value: not inner(value)
    if name in ("$and", "$or"):
        raise InvalidArgumentError(
            f"'{name}' at {where} is a filter-level operator; write {{'{name}': [{{'field': ...}}, ...]}}"
        )
    hint = "; to compare with a dict write {'$eq': {...}}" if not str(name).startswith("$") else ""
    raise InvalidArgumentError(
        f"unknown operator {name!r} at {where}; supported: {_listing(_FIELD_OPERATORS)}{hint}"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _eq_test(operand: Any) -> _Test:
    """Equality with ``operand``, specialised by its kind so the common cases skip _same()."""
    if operand is None:
        return lambda value: value is None
    if isinstance(operand, bool):
        return lambda value: isinstance(value, bool) and value == operand
    if isinstance(operand, str):
        return lambda value: isinstance(value, str) and value == operand
    if isinstance(operand, (int, float)):
        return lambda value: _is_number(value) and value == operand
    return lambda value: _same(value, operand)


def _same(left: Any, right: Any) -> bool:
    """JSON equality under the number rule: 1 equals 1.0, a bool is never a number.

    The kinds are checked before ``==`` runs, so odd objects in metadata cannot raise.
    """
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (int, float)):
        return isinstance(right, (int, float)) and left == right
    if isinstance(left, str):
        return isinstance(right, str) and left == right
    if left is None:
        return right is None
    if isinstance(left, (list, tuple)):
        return (
            isinstance(right, (list, tuple))
            and len(left) == len(right)
            and all(_same(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, Mapping):
        return (
            isinstance(right, Mapping)
            and len(left) == len(right)
            and all(key in right and _same(item, right[key]) for key, item in left.items())
        )
    return False


def _member_test(operands: Iterable[Any]) -> _Test:
    """Is a scalar equal to one of ``operands``? Sets per kind keep True apart from 1."""
    strings: set[str] = set()
    numbers: set[int | float] = set()
    bools: set[bool] = set()
    null = False
    for operand in operands:
        if operand is None:
            null = True
        elif isinstance(operand, bool):
            bools.add(operand)
        elif isinstance(operand, str):
            strings.add(operand)
        else:
            numbers.add(operand)

    def member(value: Any) -> bool:
        if isinstance(value, str):
            return value in strings
        if isinstance(value, bool):
            return value in bools
        if isinstance(value, (int, float)):
            return value in numbers  # set lookup agrees with ==: 1 and 1.0 hash alike
        return value is None and null

    return member


def _in_test(operands: list[Any]) -> _Test:
    member = _member_test(operands)

    def test(value: Any) -> bool:
        if isinstance(value, (list, tuple)):
            return any(member(item) for item in value)
        return member(value)

    return test


def _contains_test(operand: Any) -> _Test:
    member = _member_test([operand])
    substring = operand if isinstance(operand, str) else None

    def test(value: Any) -> bool:
        if isinstance(value, (list, tuple)):
            return any(member(item) for item in value)
        return substring is not None and isinstance(value, str) and substring in value

    return test


def _icontains_test(operand: str) -> _Test:
    folded = operand.casefold()

    def test(value: Any) -> bool:
        if isinstance(value, str):
            return folded in value.casefold()
        if isinstance(value, (list, tuple)):
            return any(isinstance(item, str) and item.casefold() == folded for item in value)
        return False

    return test


def _all_test(operands: list[Any]) -> _Test:
    members = [_member_test([operand]) for operand in operands]

    def test(value: Any) -> bool:
        if not isinstance(value, (list, tuple)):
            return False
        return all(any(member(item) for item in value) for member in members)

    return test


def _ordering_test(compare: Callable[[Any, Any], bool], name: str, operand: Any, where: str) -> _Test:
    if isinstance(operand, str):
        return lambda value: isinstance(value, str) and compare(value, operand)
    if _is_number(operand) and _finite(operand):
        return lambda value: _is_number(value) and compare(value, operand)
    raise InvalidArgumentError(
        f"'{name}' at {where} needs a number or a string, got {_describe(operand)}; "
        "ordering never matches bools, None, lists or dicts"
    )


# -- operand checks ------------------------------------------------------------------------------


def _finite(number: int | float) -> bool:
    return not isinstance(number, float) or math.isfinite(number)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool)) or (_is_number(value) and _finite(value))


def _scalar(value: Any, where: str) -> Any:
    value = plain_value(value)
    if not _is_scalar(value):
        raise InvalidArgumentError(
            f"{where} needs a JSON scalar (str, finite number, bool or None), got {_describe(value)}"
        )
    return value


def _scalars(name: str, operand: Any, where: str, *, allow_empty: bool) -> list[Any]:
    kind = "a list" if allow_empty else "a non-empty list"
    if isinstance(operand, np.ndarray) and operand.ndim == 1:
        operand = list(operand)
    if not isinstance(operand, (list, tuple)) or (not operand and not allow_empty):
        raise InvalidArgumentError(
            f"'{name}' at {where} needs {kind} of JSON scalars (str, number, bool, None), got {_describe(operand)}"
        )
    at = f"{where}[{name!r}]"
    return [_scalar(item, f"{at}[{index}]") for index, item in enumerate(operand)]


def _json(value: Any, where: str) -> Any:
    """Check that a comparison operand is JSON; tuples and numpy arrays become lists."""
    value = plain_value(value)
    if _is_scalar(value):
        return value
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        value = list(value)
    if isinstance(value, (list, tuple)):
        return [_json(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise InvalidArgumentError(
                    f"{where} has the key {key!r}; dict keys in a filter must be strings"
                )
        return {key: _json(item, f"{where}[{key!r}]") for key, item in value.items()}
    raise InvalidArgumentError(
        f"{where} is {_describe(value)}; filter values must be JSON: str, finite number, bool, None, list or dict"
    )


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _listing(names: Iterable[str]) -> str:
    return ", ".join(names)
