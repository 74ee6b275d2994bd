"""Against a server that keeps gRPC's default 4 MiB receive limit, as a real Scintirete server does."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from scintirete_integrations import AsyncScintireteClient, RequestTooLargeError, ScintireteClient
from scintirete_integrations.lite import LiteServer


@pytest.fixture(scope="module")
def server() -> Iterator[LiteServer]:
    with LiteServer() as lite:  # the real server's 4 MiB receive limit, Lite's default
        yield lite


VECTORS = np.random.default_rng(5).random((1000, 1536), dtype=np.float32)  # about 6 MB on the wire


def test_the_default_client_inserts_what_one_request_could_not_carry(server: LiteServer) -> None:
    with ScintireteClient(server.address, password=server.password, insert_batch_size=1000) as client:
        client.ensure_collection("size", "ok", metric="l2")
        assert client.insert_vectors("size", "ok", VECTORS) == list(range(1, 1001))
        assert client.delete_vectors("size", "ok", list(range(1, 600_001))) == 1000
        client.drop_database("size")


async def test_the_async_client_too(server: LiteServer) -> None:
    async with AsyncScintireteClient(
        server.address, password=server.password, insert_batch_size=1000
    ) as client:
        await client.ensure_collection("size-async", "ok", metric="l2")
        assert await client.insert_vectors("size-async", "ok", VECTORS) == list(range(1, 1001))
        await client.drop_database("size-async")


def test_a_limit_above_the_servers_is_a_clear_error_naming_max_message_bytes(server: LiteServer) -> None:
    with ScintireteClient(
        server.address, password=server.password, max_message_bytes=8 << 20, insert_batch_size=1000
    ) as client:
        client.ensure_collection("size-big", "c", metric="l2")
        with pytest.raises(
            RequestTooLargeError, match=r"larger than max.*lower the client's max_message_bytes"
        ):
            client.insert_vectors("size-big", "c", VECTORS)
        assert client.get_collection_info("size-big", "c").vector_count == 0  # refused before storing
        client.drop_database("size-big")
