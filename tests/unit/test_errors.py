from __future__ import annotations

import grpc
import pytest

from scintirete_integrations import errors
from scintirete_integrations.errors import (
    AuthenticationError,
    DeadlineExceededError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    ScintireteError,
    code_for,
    error_for,
    map_rpc_errors,
)


class _FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
def test_every_status_code_maps_to_a_scintirete_error(code: grpc.StatusCode) -> None:
    exc = error_for(code, "boom", "Search")
    assert isinstance(exc, ScintireteError)
    assert exc.code is code
    assert exc.rpc == "Search"
    assert code.name in str(exc) and "boom" in str(exc)


def test_table_read_backwards_gives_the_same_code() -> None:
    for cls in (AuthenticationError, NotFoundError, InvalidArgumentError, InternalError):
        assert code_for(cls("x")) is cls.default_code
    assert code_for(RuntimeError("x")) is grpc.StatusCode.INTERNAL


def test_invalid_argument_is_a_value_error_and_deadline_a_timeout_error() -> None:
    assert isinstance(InvalidArgumentError("x"), ValueError)
    assert isinstance(DeadlineExceededError("x"), TimeoutError)


def test_map_rpc_errors_chains_the_grpc_error() -> None:
    original = _FakeRpcError(grpc.StatusCode.NOT_FOUND, "collection 'c' not found in database 'd'")
    with pytest.raises(NotFoundError) as info, map_rpc_errors("GetCollectionInfo"):
        raise original
    assert info.value.__cause__ is original
    assert info.value.details == "collection 'c' not found in database 'd'"
    assert info.value.rpc == "GetCollectionInfo"


def test_all_public_names_exist() -> None:
    for name in errors.__all__:
        assert hasattr(errors, name)
