"""One client or store object used from many event loops: in turn, and at once from threads.

Scripts call ``asyncio.run`` more than once, notebooks and web servers run their own loops, and
worker threads each run one; a grpc.aio channel works only on the loop that made it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from typing import Any

from langchain_core.embeddings import DeterministicFakeEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery

from scintirete_integrations import AsyncScintireteClient
from scintirete_integrations.langchain import ScintireteVectorStore as LangChainStore
from scintirete_integrations.llama_index import ScintireteVectorStore as LlamaIndexStore


def _name() -> str:
    return f"loops-{uuid.uuid4().hex[:10]}"


def test_async_client_in_one_asyncio_run_after_another(address: str, password: str) -> None:
    client = AsyncScintireteClient(address, password=password)
    db = _name()

    async def create() -> None:
        await client.ensure_collection(db, "c", metric="l2")
        await client.insert_vectors(db, "c", [[0.0, 1.0], [1.0, 0.0]])

    async def count() -> int:
        return (await client.get_collection_info(db, "c")).vector_count

    asyncio.run(create())
    assert asyncio.run(count()) == 2
    assert asyncio.run(count()) == 2

    async def close_then_use() -> int:
        await client.close()
        return await count()  # a closed client opens a new channel on its next call

    assert asyncio.run(close_then_use()) == 2

    async def drop() -> None:
        await client.drop_database(db)
        await client.close()

    asyncio.run(drop())


def test_async_client_from_threads_each_running_its_own_loop(address: str, password: str) -> None:
    client = AsyncScintireteClient(address, password=password)
    db = _name()
    asyncio.run(client.ensure_collection(db, "c", metric="l2"))
    start = threading.Barrier(4)
    errors: list[BaseException] = []
    inserted: list[int] = []

    async def work(index: int) -> None:
        for round_ in range(5):
            ids = await client.insert_vectors(db, "c", [[float(index), float(round_)]])
            inserted.extend(ids)
            await client.search(db, "c", [float(index), 0.0], top_k=3)

    def thread(index: int) -> None:
        try:
            start.wait()
            asyncio.run(work(index))
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(index,)) for index in range(4)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    assert errors == []
    assert len(set(inserted)) == 20
    assert asyncio.run(client.get_collection_info(db, "c")).vector_count == 20
    asyncio.run(client.drop_database(db))


def test_langchain_store_in_two_asyncio_runs(address: str, password: str) -> None:
    store = LangChainStore(
        DeterministicFakeEmbedding(size=8), collection_name=_name(), address=address, password=password
    )
    store.add_texts(["a", "b"], ids=["a", "b"])
    first = asyncio.run(store.asimilarity_search("a", k=1))
    second = asyncio.run(store.asimilarity_search("a", k=1))
    assert [doc.id for doc in first] == [doc.id for doc in second] == ["a"]
    asyncio.run(store.aadd_texts(["c"], ids=["c"]))
    assert {doc.id for doc in store.similarity_search("c", k=3)} == {"a", "b", "c"}


def test_langchain_store_from_threads_each_running_its_own_loop(address: str, password: str) -> None:
    store = LangChainStore(
        DeterministicFakeEmbedding(size=8), collection_name=_name(), address=address, password=password
    )
    store.add_texts(["seed"], ids=["seed"])
    errors: list[BaseException] = []

    async def work(index: int) -> None:
        await store.aadd_texts([f"text {index}"], ids=[f"t{index}"])
        await store.asimilarity_search(f"text {index}", k=2)

    def thread(index: int) -> None:
        try:
            asyncio.run(work(index))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(index,)) for index in range(3)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    assert errors == []
    assert len(store.similarity_search("text", k=10)) == 4


def _node(node_id: str, vector: list[float]) -> TextNode:
    return TextNode(id_=node_id, text=node_id, embedding=vector)


def test_llama_index_store_in_several_asyncio_runs(address: str, password: str) -> None:
    store = LlamaIndexStore(_name(), address=address, password=password)
    asyncio.run(store.async_add([_node("x", [1.0, 0.0]), _node("y", [0.0, 1.0])]))
    asyncio.run(store.async_add([_node("z", [1.0, 1.0])]))
    query = VectorStoreQuery(query_embedding=[1.0, 0.1], similarity_top_k=1)
    first = asyncio.run(store.aquery(query))
    second = asyncio.run(store.aquery(query))
    assert first.ids == second.ids == ["x"]
    store.collection.drop()


SCRIPT = """
import asyncio
from langchain_core.embeddings import DeterministicFakeEmbedding
from scintirete_integrations.langchain import ScintireteVectorStore

store = ScintireteVectorStore(DeterministicFakeEmbedding(size=8))
store.add_texts(["a"], ids=["a"])

async def search() -> str:
    return (await store.asimilarity_search("a", k=1))[0].id

assert asyncio.run(search()) == "a"
assert asyncio.run(search()) == "a"
print("ok")
"""


def test_asyncio_run_twice_then_exit_prints_nothing_from_grpc() -> None:
    # The embedded Lite server stops at exit; a channel left open under it makes grpc log GOAWAY.
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("SCINTIRETE_")}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr == ""


STOP_UNDER_AN_OPEN_CHANNEL = """
import time
from scintirete_integrations import ScintireteClient
from scintirete_integrations.lite import LiteServer

server = LiteServer(password="pw").start()
client = ScintireteClient(server.address, password="pw")
client.list_databases()
server.stop()  # the client's connection is still open
time.sleep(0.3)  # time for the client to hear of it
print("ok")
"""


def test_stopping_lite_under_an_open_channel_prints_nothing_from_grpc() -> None:
    # A channel still connected when the server stops (at exit its closing can lag behind under
    # load) must be told gracefully: an abrupt stop makes grpc log a GOAWAY line in the client.
    done = subprocess.run(
        [sys.executable, "-c", STOP_UNDER_AN_OPEN_CHANNEL], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout.strip(), done.stderr) == ("ok", "")
