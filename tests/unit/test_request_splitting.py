"""How the client splits inserts and deletes into requests a default server accepts; no sockets.

A real server refuses requests over 4 MiB and stores about 150 vectors/s, so requests are capped
by size (``max_message_bytes``) and by count (``insert_batch_size``), and each one gets the
call's full timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from scintirete_integrations import InvalidArgumentError, ScintireteClient
from scintirete_integrations.client import DEFAULT_MAX_MESSAGE_BYTES, Call, Plan

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb  # isort: skip

SERVER_LIMIT = 4 * 1024 * 1024  # gRPC's default receive limit, kept by the real server


def drive(plan: Plan[Any], respond: Callable[[Call], Any]) -> tuple[list[Call], Any]:
    """Run ``plan`` against ``respond`` instead of a server; the calls it made and its result."""
    calls: list[Call] = []
    try:
        step = next(plan)
        while True:
            assert isinstance(step, Call)
            calls.append(step)
            step = plan.send(respond(step))
    except StopIteration as stop:
        return calls, stop.value


def assign_ids() -> Callable[[Call], Any]:
    next_id = [1]

    def respond(call: Call) -> Any:
        count = len(call.request.vectors) if call.rpc == "InsertVectors" else len(call.request.texts)
        ids = list(range(next_id[0], next_id[0] + count))
        next_id[0] += count
        return pb.InsertVectorsResponse(inserted_ids=ids, inserted_count=count)

    return respond


def test_the_default_limit_fits_a_default_server_with_headroom() -> None:
    assert ScintireteClient("localhost:9090").max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES
    assert DEFAULT_MAX_MESSAGE_BYTES <= SERVER_LIMIT - 256 * 1024


def test_a_large_insert_is_split_under_the_size_limit_in_order() -> None:
    client = ScintireteClient("localhost:9090", insert_batch_size=10_000)
    vectors = np.random.default_rng(1).random((1000, 1536), dtype=np.float32)  # 6 MB: refused whole
    calls, ids = drive(client._insert_vectors_plan("db", "c", vectors, None, 5.0), assign_ids())
    assert len(calls) >= 2
    assert all(call.request.ByteSize() < DEFAULT_MAX_MESSAGE_BYTES for call in calls)
    assert ids == list(range(1, 1001))
    sent = np.array([list(v.elements) for call in calls for v in call.request.vectors], dtype=np.float32)
    assert np.array_equal(sent, vectors)


def test_inserts_are_split_by_count_and_each_request_has_the_whole_timeout() -> None:
    client = ScintireteClient("localhost:9090")
    assert client.insert_batch_size == 500
    calls, ids = drive(client._insert_vectors_plan("db", "c", np.ones((1200, 4)), None, 7.0), assign_ids())
    assert [len(call.request.vectors) for call in calls] == [500, 500, 200]
    assert [call.timeout for call in calls] == [7.0, 7.0, 7.0]  # per request, not shared
    assert ids == list(range(1, 1201))


def test_embed_and_insert_is_split_like_insert_vectors() -> None:
    client = ScintireteClient("localhost:9090", insert_batch_size=100)
    texts = [f"text {i}" for i in range(250)]
    plan = client._embed_and_insert_plan("db", "c", texts, [{"i": i} for i in range(250)], "m", 3.0)
    calls, ids = drive(plan, assign_ids())
    assert [len(call.request.texts) for call in calls] == [100, 100, 50]
    assert [item.text for call in calls for item in call.request.texts] == texts
    assert [item.metadata["i"] for call in calls for item in call.request.texts] == list(range(250))
    assert {call.request.embedding_model for call in calls} == {"m"}
    assert ids == list(range(1, 251))
    big = ScintireteClient("localhost:9090", max_message_bytes=64 * 1024)
    calls, _ = drive(
        big._embed_and_insert_plan("db", "c", ["x" * 20_000] * 10, None, None, 3.0), assign_ids()
    )
    assert len(calls) >= 4 and all(call.request.ByteSize() < 64 * 1024 for call in calls)


def test_a_failed_batch_reports_what_the_earlier_ones_stored() -> None:
    from scintirete_integrations import UnavailableError

    client = ScintireteClient("localhost:9090", insert_batch_size=2)
    plan = client._insert_vectors_plan("db", "c", np.ones((5, 2)), None, 1.0)
    assert len(next(plan).request.vectors) == 2
    assert len(plan.send(pb.InsertVectorsResponse(inserted_ids=[1, 2])).request.vectors) == 2
    with pytest.raises(UnavailableError) as caught:
        plan.throw(UnavailableError("connection lost"))
    assert caught.value.inserted_ids == [1, 2]


def test_deletes_are_split_and_their_counts_added() -> None:
    client = ScintireteClient("localhost:9090", max_message_bytes=64 * 1024)
    ids = list(range(2**40, 2**40 + 20_000))  # large ids take the most bytes
    calls, deleted = drive(
        client._delete_vectors_plan("db", "c", ids, 2.0),
        lambda call: pb.DeleteVectorsResponse(deleted_count=len(call.request.ids) // 2),
    )
    assert len(calls) >= 4
    assert all(call.request.ByteSize() < 64 * 1024 for call in calls)
    assert [i for call in calls for i in call.request.ids] == ids
    assert deleted == sum(len(call.request.ids) // 2 for call in calls)
    assert {call.timeout for call in calls} == {2.0}
    many, _ = drive(
        ScintireteClient("localhost:9090")._delete_vectors_plan("db", "c", range(1, 12_001), 2.0),
        lambda call: pb.DeleteVectorsResponse(),
    )
    assert [len(call.request.ids) for call in many] == [5000, 5000, 2000]  # ~4 s each on a real server


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_insert_batch_size_must_be_a_positive_integer(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="insert_batch_size must be a positive integer"):
        ScintireteClient("localhost:9090", insert_batch_size=bad)
