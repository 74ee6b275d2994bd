"""Exact metadata round trip through ``google.protobuf.Struct``, and the reserved key prefix.

A Struct holds JSON only and hands every number back as a double, so ``1`` would come back
``1.0`` and ``2**60`` would lose digits. :func:`encode_metadata` turns a user's metadata into a
JSON dict that survives the trip, adding one small hint key only when there is something to
restore; :func:`decode_metadata` reads it back with the original types::

    from scintirete_integrations import _convert
    from scintirete_integrations._metadata import decode_metadata, encode_metadata

    stored = encode_metadata({"source": "a.pdf", "page": 3})
    # {'source': 'a.pdf', 'page': 3, '_sci_t': 'i'}
    struct = _convert.metadata_to_pb(stored)  # on the wire, page is 3.0
    decode_metadata(_convert.metadata_from_pb(struct))
    # {'source': 'a.pdf', 'page': 3}

What is stored, and what comes back:

=============================  ===================================  ===========================
value                          stored as                            read back as
=============================  ===================================  ===========================
str, bool, None                itself                               itself
float, finite                  a number                             float (``1.0`` stays float)
float NaN, inf, -inf           InvalidArgumentError
int, ``|v| <= 2**53``          a number, hinted ``"i"``             int
int, ``|v| > 2**53``           a decimal string, hinted ``"b"``     int
dict, str keys                 a dict, recursively                  dict
dict with a non-str key        InvalidArgumentError
list, tuple                    a list, recursively                  list (a tuple becomes a list)
numpy integer, bool_           int, bool (:func:`plain_value`)      int, bool
numpy float64                  float (:func:`plain_value`)          float
numpy float32, float16         the shortest decimal that reads      float: ``np.float32(0.1)``
                               back as the same float32/float16     is stored and read as 0.1
numpy.ndarray                  a list, recursively (0-d: a scalar)  list (or a scalar, 0-d)
subclass of str/int/float      converted to the base type first     str/int/float
datetime, date, time           InvalidArgumentError: use ``value.isoformat()``
bytes, bytearray, memoryview   InvalidArgumentError: use ``value.decode()`` or base64
set, frozenset                 InvalidArgumentError: use ``sorted(value)``
Decimal                        InvalidArgumentError: use ``str(value)`` or ``float(value)``
anything else                  InvalidArgumentError naming the key path and the type
=============================  ===================================  ===========================

Filters (:mod:`scintirete_integrations.filters`) read numpy values in their operands by the
same rule, :func:`plain_value`, so ``{"f": np.float32(0.1)}`` and ``{"f": 0.1}`` both match a
stored ``np.float32(0.1)``. :func:`plain_metadata` is metadata as it reads back once stored.

Top-level keys starting with ``$`` are refused: a filter reads such a name as an operator, so
no filter could reach them. Keys holding dots are fine: a filter finds the literal key first.

Top-level keys starting with ``RESERVED_PREFIX`` (``"_sci_"``) belong to the document layer,
which keeps its own fields (string id, text, group id, fingerprint) there. A user key with that
prefix is refused by :func:`encode_metadata`, and :func:`decode_metadata` drops all of them.
User keys stay plain top-level keys, so server-side tools show them readably.

The hint ``_sci_t`` is a JSON value that mirrors the metadata, holding only the places that
need restoring:

==============  =============================================================================
hint            meaning
==============  =============================================================================
``"i"``         every number in this value is an int (a leaf, or a whole dict or list)
``"b"``         this string is an int written in decimal
``{k: hint}``   a dict (by key) or a list (by decimal index): these children need restoring
==============  =============================================================================

So ``{"source": "a.pdf", "page": 3}`` gets ``"_sci_t": "i"``, ``{"page": 3, "score": 0.5}``
gets ``{"page": "i"}``, ``{"ids": [0.5, 2**60]}`` gets ``{"ids": {"1": "b"}}``, and metadata
without ints gets no hint at all. Decoding is lenient: a hint that does not fit the value (say,
a tool edited the record) leaves the value as it is, so reading never fails. Values and types
come back exactly; the order of dict keys is whatever the server's map returns.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

from .errors import InvalidArgumentError

__all__ = [
    "HINT_KEY",
    "RESERVED_PREFIX",
    "decode_metadata",
    "encode_metadata",
    "is_reserved",
    "plain_metadata",
    "plain_value",
]

RESERVED_PREFIX = "_sci_"
#: The one key encode_metadata adds; see the module docstring for its format.
HINT_KEY = RESERVED_PREFIX + "t"

# Doubles hold every int up to 2**53 exactly; beyond that a number would lose digits.
_MAX_EXACT = 2**53
_INT = "i"
_BIG = "b"
# Internal only, never stored: "there are floats in here", so the parent cannot be summed up as "i".
_FLOAT = "f"

_Hint: TypeAlias = str | dict[str, Any] | None

_SUGGESTIONS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    ((datetime.datetime, datetime.date, datetime.time), "store value.isoformat() instead"),
    ((bytes, bytearray, memoryview), "store value.decode() (text) or a base64 string (binary) instead"),
    ((set, frozenset), "store sorted(value) (a list) instead"),
    (decimal.Decimal, "store str(value), or float(value) if rounding is acceptable, instead"),
    (complex, "store [value.real, value.imag] instead"),
)


def is_reserved(key: str) -> bool:
    """True for keys of the document layer (``_sci_...``), which user metadata may not use."""
    return key.startswith(RESERVED_PREFIX)


def plain_value(value: Any) -> Any:
    """A numpy scalar (or 0-d array) as the Python value it stands for; any other value unchanged.

    numpy integers become ``int`` and ``bool_`` becomes ``bool``. A float64 becomes the same
    ``float``. A narrower float (float32, float16) becomes the shortest decimal that reads back
    as the same narrow float, which is what it was written as: ``np.float32(0.1)`` is ``0.1``,
    not ``0.10000000149011612``. Metadata and filter operands both go through this rule::

        plain_value(np.float32(0.1)), plain_value(np.array(5)), plain_value("a")
        # (0.1, 5, 'a')
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, np.generic):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        if value.dtype.itemsize >= 8 or not np.isfinite(value):
            return float(value)
        return float(np.format_float_positional(value, unique=True))
    return value.item()


def plain_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metadata`` as it reads back once stored: numpy values as Python values, tuples as lists.

    Raises InvalidArgumentError, as :func:`encode_metadata` does, for metadata that cannot be
    stored::

        plain_metadata({"n": np.int64(5), "tags": ("a", "b")})
        # {'n': 5, 'tags': ['a', 'b']}
    """
    return decode_metadata(encode_metadata(metadata))


# -- encoding -----------------------------------------------------------------------------------


def encode_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """User metadata -> a JSON dict for a Struct, plus the hint ``_sci_t`` only when needed.

    Raises InvalidArgumentError naming the key path for values JSON cannot hold exactly and for
    top-level keys that start with ``RESERVED_PREFIX``. Never mutates ``metadata``.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(
            f"metadata must be a dict with string keys, got a {type(metadata).__name__}"
        )
    encoded, hint = _encode_dict(metadata, "", top=True)
    if hint is not None and hint != _FLOAT:
        encoded[HINT_KEY] = hint
    return encoded


def _summary(hints: dict[str, Any], only_ints: bool, floats: bool) -> _Hint:
    """One container's hint from its children's: "i" when all of its numbers are ints."""
    if not hints:
        return _FLOAT if floats else None
    if only_ints and not floats:
        return _INT
    return hints


def _encode_dict(mapping: Mapping[Any, Any], path: str, *, top: bool) -> tuple[dict[str, Any], _Hint]:
    out: dict[str, Any] = {}
    hints: dict[str, Any] = {}
    only_ints = True
    floats = False
    for key, value in mapping.items():
        if type(key) is not str:
            if not isinstance(key, str):
                where = f"metadata '{path}'" if path else "metadata"
                raise InvalidArgumentError(
                    f"{where} has the key {key!r} ({type(key).__name__}); keys must be strings"
                )
            key = str.__str__(key)  # a str subclass (a str Enum, say) is stored as its plain text
        if top and key.startswith("$"):
            raise InvalidArgumentError(
                f"metadata key '{key}' starts with '$', which filters read as an operator ($and, "
                "$or, ...), so no filter could reach it; rename the key"
            )
        if top and key.startswith(RESERVED_PREFIX):
            raise InvalidArgumentError(
                f"metadata key '{key}' starts with the reserved prefix '{RESERVED_PREFIX}', "
                "which the document layer uses for its own fields; rename the key"
            )
        # The common scalars are handled inline, without a call or building a path: this loop runs
        # for every record on ingest.
        cls = type(value)
        if cls is str or cls is bool or value is None:
            out[key] = value
        elif cls is float:
            if not math.isfinite(value):
                raise _not_finite(_key_path(path, key), value)
            out[key] = value
            floats = True
        elif cls is int and -_MAX_EXACT <= value <= _MAX_EXACT:
            out[key] = value
            hints[key] = _INT
        else:
            out[key], hint = _encode_value(value, _key_path(path, key))
            if hint == _FLOAT:
                floats = True
            elif hint is not None:
                hints[key] = hint
                only_ints = only_ints and hint == _INT
    return out, _summary(hints, only_ints, floats)


def _encode_list(items: Sequence[Any], path: str) -> tuple[list[Any], _Hint]:
    out: list[Any] = []
    hints: dict[str, Any] = {}
    only_ints = True
    floats = False
    for index, value in enumerate(items):
        cls = type(value)
        if cls is str or cls is bool or value is None:
            out.append(value)
        elif cls is float:
            if not math.isfinite(value):
                raise _not_finite(f"{path}[{index}]", value)
            out.append(value)
            floats = True
        elif cls is int and -_MAX_EXACT <= value <= _MAX_EXACT:
            out.append(value)
            hints[str(index)] = _INT
        else:
            encoded, hint = _encode_value(value, f"{path}[{index}]")
            out.append(encoded)
            if hint == _FLOAT:
                floats = True
            elif hint is not None:
                hints[str(index)] = hint
                only_ints = only_ints and hint == _INT
    return out, _summary(hints, only_ints, floats)


def _encode_int(value: int, path: str) -> tuple[int | str, _Hint]:
    if -_MAX_EXACT <= value <= _MAX_EXACT:
        return value, _INT
    try:
        return str(value), _BIG
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        raise InvalidArgumentError(
            f"metadata '{path}' is an int too large to write in decimal; store it as a string yourself"
        ) from None


def _encode_value(value: Any, path: str) -> tuple[Any, _Hint]:
    """Any value the inline fast paths did not take: containers, subclasses, numpy, errors."""
    if value is None or isinstance(value, bool):
        return value, None
    if isinstance(value, str):
        return str.__str__(value), None
    if isinstance(value, int):
        return _encode_int(int(value), path)
    if isinstance(value, float):  # includes numpy.float64, a float subclass
        number = float(value)
        if not math.isfinite(number):
            raise _not_finite(path, number)
        return number, _FLOAT
    if isinstance(value, Mapping):
        return _encode_dict(value, path, top=False)
    if isinstance(value, (list, tuple)):
        return _encode_list(value, path)
    if isinstance(value, (np.bool_, np.integer, np.floating)) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    ):
        return _encode_value(plain_value(value), path)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and value.dtype.itemsize < 8:
            return _encode_list(list(value), path)  # each float32 by plain_value's rule
        # tolist() yields Python scalars (or datetimes, complex... which then fail by path).
        return _encode_value(value.tolist(), path)
    raise _unsupported(value, path)


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _not_finite(path: str, value: float) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"metadata '{path}' is {value!r}; JSON has no NaN or infinity, store None or a string instead"
    )


def _unsupported(value: Any, path: str) -> InvalidArgumentError:
    name = type(value).__name__
    for types, suggestion in _SUGGESTIONS:
        if isinstance(value, types):
            return InvalidArgumentError(f"metadata '{path}' is a {name}; {suggestion}")
    return InvalidArgumentError(
        f"metadata '{path}' is a {name}, which metadata cannot hold; "
        "convert it to str, int, float, bool, None, list or dict first"
    )


# -- decoding -----------------------------------------------------------------------------------


def decode_metadata(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored JSON dict -> the user's metadata with exact types; drops every ``_sci_`` key.

    Never raises on what a server returns and never mutates ``stored``.
    """
    user = {key: value for key, value in stored.items() if not key.startswith(RESERVED_PREFIX)}
    hint = stored.get(HINT_KEY)
    if hint == _INT:
        for key, value in user.items():
            user[key] = _ints(value)
    elif isinstance(hint, dict):
        # `user` is our own fresh dict, so its top level may be updated in place.
        for key, sub in hint.items():
            if key in user:
                user[key] = _restore(user[key], sub)
    return user


def _ints(value: Any) -> Any:
    """Under an "i" hint: every integral float back to int, in new containers."""
    cls = type(value)
    if cls is float:
        return int(value) if value.is_integer() else value
    if cls is list:
        return [_ints(item) for item in value]
    if cls is dict:
        return {key: _ints(item) for key, item in value.items()}
    return value


def _restore(value: Any, hint: Any) -> Any:
    if hint == _INT:
        return _ints(value)
    if hint == _BIG:
        if type(value) is str:
            try:
                return int(value)
            except ValueError:
                return value
        return value
    if isinstance(hint, dict):
        if type(value) is dict:
            restored = dict(value)  # a copy: the caller's nested dicts are never changed
            for key, sub in hint.items():
                if key in restored:
                    restored[key] = _restore(restored[key], sub)
            return restored
        if type(value) is list:
            items = list(value)
            for key, sub in hint.items():
                try:
                    index = int(key)
                except (TypeError, ValueError):
                    continue
                if 0 <= index < len(items):
                    items[index] = _restore(items[index], sub)
            return items
    return value
