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


def test_a_request_over_the_servers_size_limit_names_max_message_bytes_and_is_never_retried() -> None:
    from scintirete_integrations import RateLimitedError, RequestTooLargeError, RetryPolicy

    message = "grpc: received message larger than max (5875731 vs. 4194304)"
    exc = error_for(grpc.StatusCode.RESOURCE_EXHAUSTED, message, "InsertVectors")
    assert isinstance(exc, RequestTooLargeError) and isinstance(exc, InvalidArgumentError)
    assert not isinstance(exc, RateLimitedError)  # backing off would not help
    assert message in str(exc) and "max_message_bytes" in str(exc)
    assert code_for(exc) is grpc.StatusCode.RESOURCE_EXHAUSTED
    for rpc in ("InsertVectors", "DeleteVectors", "Search"):
        assert not RetryPolicy().should_retry(
            rpc, error_for(grpc.StatusCode.RESOURCE_EXHAUSTED, message, rpc)
        )
    assert isinstance(error_for(grpc.StatusCode.RESOURCE_EXHAUSTED, "rate limited"), RateLimitedError)


def test_explain_embedding_failure_adds_the_fix_only_to_embedding_failures() -> None:
    with (
        pytest.raises(InternalError, match="failed to get embeddings: down; pass one") as caught,
        errors.explain_embedding_failure("pass one"),
    ):
        raise InternalError("failed to get embeddings: down", code=grpc.StatusCode.INTERNAL, rpc="EmbedText")
    assert (caught.value.code, caught.value.rpc) == (grpc.StatusCode.INTERNAL, "EmbedText")
    with pytest.raises(InternalError, match=r"^disk full$"), errors.explain_embedding_failure("pass one"):
        raise InternalError("disk full")


def test_unimplemented_says_the_server_does_not_support_the_call() -> None:
    exc = error_for(grpc.StatusCode.UNIMPLEMENTED, "unknown method Reindex", "Reindex")
    assert isinstance(exc, errors.UnimplementedError) and not isinstance(exc, errors.InternalError)
    assert "this server does not support Reindex (unknown method Reindex)" in str(exc)
    assert code_for(exc) is grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(errors.UnimplementedError, match="does not support Search"), map_rpc_errors("Search"):
        raise _FakeRpcError(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
