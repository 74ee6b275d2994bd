"""Mistakes a new user makes end in an error that names the fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from scintirete_integrations import (
    AsyncScintireteClient,
    InternalError,
    InvalidArgumentError,
    ScintireteClient,
)
from scintirete_integrations.langchain import ScintireteEmbeddings
from scintirete_integrations.langchain import ScintireteVectorStore as LangChainStore
from scintirete_integrations.lite import LiteServer
from scintirete_integrations.llama_index import ScintireteEmbedding


@pytest.mark.parametrize("cls", [ScintireteClient, AsyncScintireteClient])
@pytest.mark.parametrize(
    ("address", "fix"),
    [
        ("localhost", "has no port; pass 'host:port', e.g. 'localhost:9090'"),
        ("db.example.com:", "e.g. 'db.example.com:9090'"),
        ("[::1]", r"e.g. '\[::1\]:9090'"),
        ("http://localhost:9090", "is a URL, .* pass address='localhost:9090'$"),
        ("https://db.example.com:443/", "pass address='db.example.com:443', tls=True$"),
        ("", "address must be 'host:port'"),
    ],
)
def test_an_address_without_a_port_or_with_a_scheme(cls: type, address: str, fix: str) -> None:
    with pytest.raises(InvalidArgumentError, match=fix):
        cls(address)


@pytest.mark.parametrize(
    "address", ["localhost:9090", "[::1]:9090", "unix:/run/scintirete.sock", "dns:///db:9090"]
)
def test_addresses_grpc_understands_are_accepted(address: str) -> None:
    assert ScintireteClient(address).address == address  # nothing is dialled before the first call


HOLDER = """
import sys
from scintirete_integrations.lite import LiteServer
with LiteServer(data_dir=sys.argv[1]):
    print("ready", flush=True)
    sys.stdin.read()
"""


def test_a_data_dir_in_use_by_another_process(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(Exception, match="in use by another process") as caught:
            LangChainStore(DeterministicFakeEmbedding(size=4), data_dir=tmp_path)
        message = str(caught.value)
        assert f"scintirete-lite --data-dir {tmp_path}" in message
        assert "address='127.0.0.1:9090'" in message
    finally:
        holder.communicate("", timeout=60)


@pytest.fixture(scope="module")
def no_embedding_server() -> Iterator[LiteServer]:
    with LiteServer() as server:  # no embedding provider configured
        yield server


def test_no_embedding_and_none_on_the_server_says_pass_embeddings(no_embedding_server: LiteServer) -> None:
    server = no_embedding_server
    store = LangChainStore(address=server.address, password=server.password)
    for call in (lambda: store.add_texts(["a"]), lambda: store.similarity_search("a")):
        with pytest.raises(InternalError, match=r"no embedding provider.*pass a LangChain Embeddings object"):
            call()
    embeddings = ScintireteEmbeddings(address=server.address, password=server.password)
    with pytest.raises(InternalError, match="pass a LangChain Embeddings object"):
        embeddings.embed_query("a")


async def test_no_embedding_and_none_on_the_server_async(no_embedding_server: LiteServer) -> None:
    server = no_embedding_server
    store = LangChainStore(address=server.address, password=server.password)
    with pytest.raises(InternalError, match="pass a LangChain Embeddings object"):
        await store.aadd_texts(["a"])
    with pytest.raises(InternalError, match="pass a LangChain Embeddings object"):
        await store.asimilarity_search("a")
    embed = ScintireteEmbedding(address=server.address, password=server.password)
    with pytest.raises(InternalError, match="pass another embed_model"):
        await embed.aget_text_embedding("a")
    with pytest.raises(InternalError, match="pass another embed_model"):
        embed.get_query_embedding("a")
