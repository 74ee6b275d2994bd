"""One deadline per call, across its retries, in both clients and on both call paths.

The server below turns the first attempt away with UNAVAILABLE and records the deadline every
attempt arrived with; the retry must arrive with what is left of the first one, not a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from scintirete_integrations import AsyncScintireteClient, RetryPolicy, ScintireteClient
from scintirete_integrations.client import Call, Plan
from scintirete_integrations.lite import Engine, HashEmbeddings
from scintirete_integrations.lite.servicer import ScintireteServiceServicer

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb, scintirete_pb2_grpc as pb_grpc  # isort: skip

TIMEOUT = 2.0
BACKOFF = 0.5
RETRY = RetryPolicy(max_attempts=3, initial_backoff=BACKOFF, jitter=0.0)


class TurnAwayFirst(grpc.ServerInterceptor):  # type: ignore[misc]
    """Refuses the first attempt of each call with UNAVAILABLE; records every attempt's time left."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.remaining: list[float] = []

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        def turn_away(request: Any, context: grpc.ServicerContext) -> Any:
            with self.lock:
                self.remaining.append(context.time_remaining())
                first = len(self.remaining) == 1
            if first:
                context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
            return inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            turn_away,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


@pytest.fixture
def server() -> Iterator[tuple[str, TurnAwayFirst]]:
    recorder = TurnAwayFirst()
    grpc_server = grpc.server(ThreadPoolExecutor(max_workers=4), interceptors=[recorder])
    pb_grpc.add_ScintireteServiceServicer_to_server(
        ScintireteServiceServicer(Engine(), "pw", HashEmbeddings(8)), grpc_server
    )
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    try:
        yield f"127.0.0.1:{port}", recorder
    finally:
        grpc_server.stop(None).wait()


def _single(client: Any) -> Plan[Any]:
    return (yield Call("ListDatabases", pb.ListDatabasesRequest(auth=client._auth)))


def _concurrent(client: Any) -> Plan[Any]:
    (result,) = yield [Call("ListDatabases", pb.ListDatabasesRequest(auth=client._auth))]
    return result


def _check(recorder: TurnAwayFirst, result: Any) -> None:
    assert isinstance(result, pb.ListDatabasesResponse)
    first, retry = recorder.remaining
    # The retry waited BACKOFF seconds first, so at least that much of the one deadline is gone.
    assert retry < first - 0.8 * BACKOFF, recorder.remaining


@pytest.mark.parametrize("plan", [_single, _concurrent])
def test_sync_client_retries_within_the_first_deadline(server: tuple[str, TurnAwayFirst], plan: Any) -> None:
    address, recorder = server
    with ScintireteClient(address, password="pw", timeout=TIMEOUT, retry=RETRY) as client:
        _check(recorder, client._run(plan(client)))


@pytest.mark.parametrize("plan", [_single, _concurrent])
async def test_async_client_retries_within_the_first_deadline(
    server: tuple[str, TurnAwayFirst], plan: Any
) -> None:
    address, recorder = server
    async with AsyncScintireteClient(address, password="pw", timeout=TIMEOUT, retry=RETRY) as client:
        _check(recorder, await client._run(plan(client)))
