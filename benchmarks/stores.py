"""One factory per store: each returns a fresh, empty LangChain vector store wrapped in a Handle.

Peers are imported inside their factory, so a peer that is missing or broken fails only its own
measurement (the benchmark reports it). ``lite_process`` runs ``scintirete-lite`` as a separate
process on loopback for the stores and measurements that need one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from corpus import DIM
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore


@dataclass
class Handle:
    store: VectorStore
    group_filter: Callable[[str], Any]  # the store's native filter for metadata["group"] == value
    upsert_replaces: bool = True  # False: add_texts refuses existing ids, so an upsert is delete + add
    server_pid: int | None = None  # a separate server process whose memory counts too
    raw_search: Callable[[list[float], int], list[Any]] | None = None  # ours: the bare client search
    closers: list[Callable[[], None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                close()


@dataclass
class LiteProcess:
    address: str
    password: str
    pid: int


@contextlib.contextmanager
def lite_process() -> Iterator[LiteProcess]:
    """``scintirete-lite --port 0`` in a child process (in memory), stopped with SIGTERM at the end."""
    password = secrets.token_urlsafe(16)
    command = [sys.executable, "-m", "scintirete_integrations.lite", "--port", "0", "--log-level", "WARNING"]
    env = {**os.environ, "SCINTIRETE_PASSWORD": password}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"scintirete-lite did not start (exit code {process.poll()}): {line!r}")
        yield LiteProcess(line.rsplit(" ", 1)[1].strip(), password, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ours(embeddings: Embeddings, address: str | None, password: str | None) -> Handle:
    """Ours over ``address``; None: the embedded Lite server the store starts itself."""
    from scintirete_integrations.langchain import ScintireteVectorStore

    name = f"bench_{uuid.uuid4().hex[:8]}"
    store = ScintireteVectorStore(embeddings, collection_name=name, address=address, password=password)
    client = store._collection.client  # raw searches go the way the store's calls go

    def raw_search(vector: list[float], k: int) -> list[Any]:
        return client.search("default", name, vector, k)

    handle = Handle(store, lambda group: {"group": group}, raw_search=raw_search)
    handle.closers += [store.delete_collection]
    return handle


def scintirete_lite(embeddings: Embeddings) -> Handle:
    """Ours on the embedded Lite server ``ScintireteVectorStore(embeddings)`` starts in this process."""
    os.environ.pop("SCINTIRETE_ADDRESS", None)  # this worker measures the embedded server only
    return _ours(embeddings, None, None)


def scintirete_lite_process(embeddings: Embeddings) -> Handle:
    """Ours on a separate ``scintirete-lite`` process on loopback."""
    stack = contextlib.ExitStack()
    lite = stack.enter_context(lite_process())
    handle = _ours(embeddings, lite.address, lite.password)
    handle.server_pid = lite.pid
    handle.closers.insert(0, stack.close)
    return handle


def scintirete_server(embeddings: Embeddings) -> Handle:
    """Ours on the real Scintirete server at $SCINTIRETE_ADDRESS (with $SCINTIRETE_PASSWORD)."""
    address = os.environ.get("SCINTIRETE_ADDRESS")
    if not address:
        raise Skipped("SCINTIRETE_ADDRESS is not set")
    return _ours(embeddings, address, os.environ.get("SCINTIRETE_PASSWORD"))


def in_memory(embeddings: Embeddings) -> Handle:
    from langchain_core.vectorstores import InMemoryVectorStore

    # InMemoryVectorStore filters only with a callable over Documents.
    return Handle(
        InMemoryVectorStore(embeddings),
        lambda group: lambda doc: doc.metadata.get("group") == group,
    )


def faiss_flat(embeddings: Embeddings) -> Handle:
    import faiss
    from langchain_community.docstore.in_memory import InMemoryDocstore
    from langchain_community.vectorstores import FAISS

    store = FAISS(embeddings, faiss.IndexFlatL2(DIM), InMemoryDocstore(), {})
    handle = Handle(store, lambda group: {"group": group}, upsert_replaces=False)
    handle.notes.append("filter is applied after fetching fetch_k=20 (the default)")
    return handle


def chroma(embeddings: Embeddings) -> Handle:
    import chromadb
    from langchain_chroma import Chroma

    client = chromadb.EphemeralClient()
    name = f"bench-{uuid.uuid4().hex[:8]}"
    store = Chroma(name, embeddings, client=client, collection_metadata={"hnsw:space": "cosine"})
    handle = Handle(store, lambda group: {"group": group})
    handle.closers.append(store.delete_collection)
    return handle


def qdrant_local(embeddings: Embeddings) -> Handle:
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    name = "bench"
    client.create_collection(name, models.VectorParams(size=DIM, distance=models.Distance.COSINE))

    def group_filter(group: str) -> models.Filter:
        condition = models.FieldCondition(key="metadata.group", match=models.MatchValue(value=group))
        return models.Filter(must=[condition])

    handle = Handle(
        QdrantVectorStore(client, name, embeddings, validate_collection_config=False), group_filter
    )
    handle.closers.append(client.close)
    return handle


class Skipped(Exception):
    """The store cannot run here (e.g. no server configured); reported, not an error."""


FACTORIES: dict[str, Callable[[Embeddings], Handle]] = {
    "scintirete-lite": scintirete_lite,
    "scintirete-lite-process": scintirete_lite_process,
    "scintirete-server": scintirete_server,
    "in-memory": in_memory,
    "faiss-flat": faiss_flat,
    "chroma": chroma,
    "qdrant-local": qdrant_local,
}
OURS = ("scintirete-lite", "scintirete-lite-process", "scintirete-server")
