"""OpenAIEmbeddings against a loopback HTTP server that speaks the OpenAI embeddings API."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import grpc
import pytest

from scintirete_integrations.lite import EmbeddingError, LiteServer, OpenAIEmbeddings

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb, scintirete_pb2_grpc as pb_grpc  # isort: skip


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers POST /v1/embeddings with [len(text), index, 1.0] per input, in reverse order."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if body["model"] == "forbidden":
            self.answer(401, {"error": {"message": "bad key"}})
        elif body["model"] == "broken":
            self.answer(200, {"unexpected": True})
        else:
            data = [
                {"index": i, "embedding": [float(len(t)), float(i), 1.0]} for i, t in enumerate(body["input"])
            ]
            self.answer(200, {"object": "list", "data": data[::-1], "model": body["model"]})

    def answer(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    FakeOpenAI.requests = []
    http = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_address[1]}/v1"
    http.shutdown()
    http.server_close()
    thread.join()


def test_batches_order_auth_and_dimension(endpoint: str) -> None:
    provider = OpenAIEmbeddings(endpoint, "sk-test", "text-embedding-3-small", batch_size=2)
    vectors = provider.embed(["a", "bb", "ccc"])
    assert vectors.tolist() == [
        [1.0, 0.0, 1.0],
        [2.0, 1.0, 1.0],
        [3.0, 0.0, 1.0],
    ]  # index order, batch by batch
    assert [r["body"]["input"] for r in FakeOpenAI.requests] == [["a", "bb"], ["ccc"]]
    assert {r["path"] for r in FakeOpenAI.requests} == {"/v1/embeddings"}
    assert {r["auth"] for r in FakeOpenAI.requests} == {"Bearer sk-test"}
    assert provider.models()[0].dimension == 3
    provider.embed(["x"], "other-model")  # passed through to the endpoint
    assert FakeOpenAI.requests[-1]["body"]["model"] == "other-model"
    OpenAIEmbeddings(endpoint).embed(["x"])
    assert FakeOpenAI.requests[-1]["auth"] is None  # no key, no header


def test_failures_are_embedding_errors_without_the_key(endpoint: str) -> None:
    with pytest.raises(EmbeddingError, match=r"answered HTTP 401: .*bad key") as denied:
        OpenAIEmbeddings(endpoint, "sk-secret", "forbidden").embed(["a"])
    assert "sk-secret" not in str(denied.value)
    with pytest.raises(EmbeddingError, match="no 'data' list"):
        OpenAIEmbeddings(endpoint, model="broken").embed(["a"])
    with pytest.raises(EmbeddingError, match=re.escape("cannot reach http://127.0.0.1:9/embeddings")):
        OpenAIEmbeddings("http://127.0.0.1:9", timeout=2).embed(["a"])


def test_lite_server_embeds_through_the_endpoint(endpoint: str) -> None:
    provider = OpenAIEmbeddings(endpoint, "sk-test", "m1")
    auth = pb.AuthInfo(password="pw")
    with (
        LiteServer(password="pw", embedding=provider) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        stub = pb_grpc.ScintireteServiceStub(channel)
        results = stub.EmbedText(pb.EmbedTextRequest(auth=auth, texts=["hello"])).results
        assert [list(r.embedding) for r in results] == [[5.0, 0.0, 1.0]]
        assert stub.ListEmbeddingModels(pb.ListEmbeddingModelsRequest(auth=auth)).default_model == "m1"
        with pytest.raises(grpc.RpcError) as failed:
            stub.EmbedText(pb.EmbedTextRequest(auth=auth, texts=["a"], embedding_model="forbidden"))
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        assert failed.value.details().startswith("failed to get embeddings: ")
        assert "sk-test" not in failed.value.details()
