"""Exceptions raised by scintirete_integrations.

Every failure of a call reaches the user as one of these; a raw
``grpc.RpcError`` never does::

    ScintireteError                 base class: .code, .rpc, .details
    ├── AuthenticationError         UNAUTHENTICATED: missing or wrong password
    ├── PermissionDeniedError       PERMISSION_DENIED
    ├── NotFoundError               NOT_FOUND: unknown database or collection
    ├── AlreadyExistsError          ALREADY_EXISTS
    ├── InvalidArgumentError        INVALID_ARGUMENT, and client-side validation (also a ValueError)
    │   └── RequestTooLargeError    RESOURCE_EXHAUSTED "received message larger than max" (never retried)
    ├── RateLimitedError            RESOURCE_EXHAUSTED (retried)
    ├── UnavailableError            UNAVAILABLE: server down or unreachable (retried when safe)
    ├── DeadlineExceededError       DEADLINE_EXCEEDED (also a TimeoutError)
    ├── UnimplementedError          UNIMPLEMENTED: this server does not support the call
    ├── InternalError               INTERNAL, UNKNOWN and every other status
    └── ClosedError                 the store was closed (client-side, no status; also a RuntimeError)

The Lite server reads the same table backwards (:func:`code_for`), so a
mistake gets the same status from Lite as from a real server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "ClosedError",
    "DeadlineExceededError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTooLargeError",
    "ScintireteError",
    "UnavailableError",
    "UnimplementedError",
    "code_for",
    "error_for",
    "explain_embedding_failure",
    "map_rpc_errors",
]


class ScintireteError(Exception):
    """Base class. ``code`` is the gRPC status (None for client-side checks), ``rpc`` the call's name."""

    default_code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, code: grpc.StatusCode | None = None, rpc: str | None = None) -> None:
        super().__init__(message)
        self.details = message
        self.code = code
        self.rpc = rpc
        #: For a batched insert that failed part way: the ids the server had already assigned.
        self.inserted_ids: list[int] = []

    def __str__(self) -> str:
        where = f"{self.rpc}: " if self.rpc else ""
        status = f" [{self.code.name}]" if self.code is not None else ""
        return f"{where}{self.details}{status}"


class AuthenticationError(ScintireteError):
    """The server refused the password (or none was sent)."""

    default_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(ScintireteError):
    """The caller is known but not allowed to do this."""

    default_code = grpc.StatusCode.PERMISSION_DENIED


class NotFoundError(ScintireteError):
    """The database or collection does not exist."""

    default_code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(ScintireteError):
    """The database or collection exists already."""

    default_code = grpc.StatusCode.ALREADY_EXISTS


class InvalidArgumentError(ScintireteError, ValueError):
    """The request is malformed: caught by the client before sending, or refused by the server."""

    default_code = grpc.StatusCode.INVALID_ARGUMENT


class RequestTooLargeError(InvalidArgumentError):
    """The server refused a request over its message size limit (4 MiB on a default server).

    The same request fails the same way every time, so it is never retried: the fix is a lower
    ``max_message_bytes`` on the client (which splits inserts and deletes under it) or smaller calls.
    """

    default_code = grpc.StatusCode.RESOURCE_EXHAUSTED


def _too_large(code: grpc.StatusCode, message: str) -> bool:
    return code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in message.lower()


class RateLimitedError(ScintireteError):
    """The server is rate limiting; the client retries these with backoff."""

    default_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class UnavailableError(ScintireteError):
    """The server could not be reached or went away during the call."""

    default_code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceededError(ScintireteError, TimeoutError):
    """The call did not finish within its timeout."""

    default_code = grpc.StatusCode.DEADLINE_EXCEEDED


class UnimplementedError(ScintireteError):
    """The server does not support this call (an older or different server than v1 describes)."""

    default_code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(ScintireteError):
    """The server failed (INTERNAL, UNKNOWN, or a status with no closer match)."""

    default_code = grpc.StatusCode.INTERNAL


class ClosedError(ScintireteError, RuntimeError):
    """The store (or its document collection) was closed; make a new one to go on."""


_CLASS_FOR_CODE: dict[grpc.StatusCode, type[ScintireteError]] = {
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: InvalidArgumentError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimitedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.CANCELLED: UnavailableError,
    grpc.StatusCode.ABORTED: UnavailableError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.DATA_LOSS: InternalError,
}


def error_for(code: grpc.StatusCode, message: str, rpc: str | None = None) -> ScintireteError:
    """Build the exception that stands for ``code``."""
    if _too_large(code, message):
        return RequestTooLargeError(
            f"{message}: the request is larger than the server accepts; lower the client's "
            "max_message_bytes (requests are split under it) or send less per call",
            code=code,
            rpc=rpc,
        )
    cls = _CLASS_FOR_CODE.get(code, InternalError)
    if cls is UnimplementedError:
        message = f"this server does not support {rpc or 'this call'} ({message})"
    return cls(message, code=code, rpc=rpc)


def code_for(exc: BaseException) -> grpc.StatusCode:
    """The status a server answers with for ``exc`` (the table read backwards)."""
    if isinstance(exc, ScintireteError):
        return exc.code or exc.default_code
    return grpc.StatusCode.INTERNAL


def _rpc_error_code(exc: grpc.RpcError) -> grpc.StatusCode:
    code = exc.code() if callable(getattr(exc, "code", None)) else None
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def _rpc_error_details(exc: grpc.RpcError) -> str:
    details = exc.details() if callable(getattr(exc, "details", None)) else None
    return str(details) if details else "no details from the server"


@contextmanager
def map_rpc_errors(rpc: str) -> Iterator[None]:
    """Turn a ``grpc.RpcError`` raised inside the block into the matching :class:`ScintireteError`.

    Works around ``await`` as well, since the async error is raised at the await::

        with map_rpc_errors("Search"):
            response = await stub.Search(request)
    """
    try:
        yield
    except grpc.RpcError as exc:
        raise error_for(_rpc_error_code(exc), _rpc_error_details(exc), rpc) from exc


@contextmanager
def explain_embedding_failure(fix: str) -> Iterator[None]:
    """Add ``fix`` to a server's failure to embed ("failed to get embeddings", INTERNAL).

    The server answers so when no embedding model is configured, or its provider fails; the
    adapters say how to embed on the client instead.
    """
    try:
        yield
    except InternalError as exc:
        if "failed to get embeddings" not in exc.details:
            raise
        explained = InternalError(f"{exc.details}; {fix}", code=exc.code, rpc=exc.rpc)
        explained.inserted_ids = exc.inserted_ids
        raise explained from exc
