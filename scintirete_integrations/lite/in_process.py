"""Calls from this process into an embedded Lite server's servicer, without a gRPC round trip.

An embedded store's every read first asks the server for a collection's counters. Over loopback
gRPC that question costs 1-2 ms of thread hand-offs and HTTP/2 framing inside one Python
process, more than the exact search it guards (about 1 ms at 20,000 records). Through
:class:`InProcessCalls` the same request object reaches the same servicer method, with the same
password check, size limit and status codes, in the calling thread.

The clients take it as a drop-in stub::

    calls = server.in_process()
    response = calls.stub().GetCollectionInfo(request)               # blocking client
    response = await calls.async_stub().GetCollectionInfo(request)   # asyncio client
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc

from .servicer import ScintireteServiceServicer


class InProcessError(grpc.RpcError):
    """A status a servicer aborted with, shaped like the error a grpc channel raises."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class _Context:
    """The one part of ``grpc.ServicerContext`` the servicer uses."""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise InProcessError(code, details)


_CONTEXT = _Context()


class InProcessCalls:
    """Runs RPCs on a servicer in the caller's thread, until :meth:`close`.

    ``close`` refuses new calls (UNAVAILABLE, as a stopped server's channel would) and waits
    for those running, so a server stops or crashes between whole calls, never inside one.
    """

    def __init__(self, servicer: ScintireteServiceServicer, max_request_bytes: int) -> None:
        self._servicer = servicer
        self._max_request_bytes = max_request_bytes
        self._idle = threading.Condition()
        self._running = 0
        self._open = True

    def call(self, rpc: str, request: Any) -> Any:
        """``rpc`` with ``request``: its response, or the InProcessError a server would answer."""
        with self._idle:
            if not self._open:
                raise InProcessError(
                    grpc.StatusCode.UNAVAILABLE, "the embedded Scintirete Lite server stopped"
                )
            self._running += 1
        try:
            size = request.ByteSize()
            if size > self._max_request_bytes:  # what the gRPC server's receive limit answers
                raise InProcessError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"Received message larger than max ({size} vs. {self._max_request_bytes})",
                )
            return getattr(self._servicer, rpc)(request, _CONTEXT)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def close(self) -> None:
        """Refuse new calls and wait for the running ones."""
        with self._idle:
            self._open = False
            self._idle.wait_for(lambda: self._running == 0)

    def stub(self) -> _Stub:
        """An object with the blocking stub's methods (``Search(request, timeout=...)``, ``.future``)."""
        return _Stub(self)

    def async_stub(self) -> _AsyncStub:
        """An object with the grpc.aio stub's methods, awaited; each call runs in a worker thread."""
        return _AsyncStub(self)


class _Done:
    """A finished call, shaped as the future ``stub.Method.future()`` returns."""

    def __init__(self, calls: InProcessCalls, rpc: str, request: Any) -> None:
        self._response: Any = None
        self._error: InProcessError | None = None
        try:
            self._response = calls.call(rpc, request)
        except InProcessError as exc:
            self._error = exc

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._response


class _Method:
    def __init__(self, calls: InProcessCalls, rpc: str) -> None:
        self._calls = calls
        self._rpc = rpc

    def __call__(self, request: Any, timeout: float | None = None) -> Any:
        return self._calls.call(self._rpc, request)

    def future(self, request: Any, timeout: float | None = None) -> _Done:
        return _Done(self._calls, self._rpc, request)


class _Stub:
    def __init__(self, calls: InProcessCalls) -> None:
        self._calls = calls

    def __getattr__(self, rpc: str) -> _Method:
        return _Method(self._calls, rpc)


class _AsyncMethod:
    def __init__(self, calls: InProcessCalls, rpc: str) -> None:
        self._calls = calls
        self._rpc = rpc

    async def __call__(self, request: Any, timeout: float | None = None) -> Any:
        # A worker thread keeps the event loop free while a write or a large search runs.
        return await asyncio.to_thread(self._calls.call, self._rpc, request)


class _AsyncStub:
    def __init__(self, calls: InProcessCalls) -> None:
        self._calls = calls

    def __getattr__(self, rpc: str) -> _AsyncMethod:
        return _AsyncMethod(self._calls, rpc)
