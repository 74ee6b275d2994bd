"""Security of Lite and the clients: passwords, binding, TLS, secrets in logs and reprs, size limits.

test_lite_server.py already covers the password check on every RPC with raw stubs, the warning
for 0.0.0.0 without TLS, TLS with raw channels and one size limit; this file extends those to the
clients, the document layer, the stores and the command line.
"""

from __future__ import annotations

import hmac
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from lite_helpers import LiteProcess, listening_addresses, openssl_certificate
from llama_index.core.schema import TextNode

from scintirete_integrations import (
    AsyncDocumentCollection,
    AsyncScintireteClient,
    AuthenticationError,
    DocumentCollection,
    Record,
    RequestTooLargeError,
    RetryPolicy,
    ScintireteClient,
    UnavailableError,
)
from scintirete_integrations.documents import resolve_clients
from scintirete_integrations.langchain import ScintireteEmbeddings
from scintirete_integrations.langchain import ScintireteVectorStore as LangChainStore
from scintirete_integrations.lite import HashEmbeddings, LiteServer
from scintirete_integrations.lite import servicer as servicer_module
from scintirete_integrations.llama_index import ScintireteEmbedding
from scintirete_integrations.llama_index import ScintireteVectorStore as LlamaIndexStore

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb, scintirete_pb2_grpc as pb_grpc  # isort: skip

SECRET = "Sup3r-s3cret-pässwörd-🔑-4f9c2a"
DIM = 4
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")


@pytest.fixture(scope="module")
def server() -> Iterator[LiteServer]:
    with LiteServer(password=SECRET, embedding=HashEmbeddings(DIM)) as lite:
        yield lite


# -- passwords --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attempt", [SECRET[:-1], SECRET + "a", " " + SECRET, SECRET.upper(), SECRET + "\x00", "x", "🔑" * 8]
)
def test_near_miss_passwords_are_refused(server: LiteServer, attempt: str) -> None:
    with (
        ScintireteClient(server.address, password=attempt) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.list_databases()
    assert info.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert info.value.details == "invalid credentials"


def test_the_password_is_compared_in_constant_time(
    server: LiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[type, type]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((type(a), type(b)))
        return real(a, b)

    monkeypatch.setattr(servicer_module.hmac, "compare_digest", spy)
    with ScintireteClient(server.address, password=SECRET) as client:
        client.list_databases()
    with ScintireteClient(server.address, password="wrong") as client, pytest.raises(AuthenticationError):
        client.list_databases()
    assert compared == [(bytes, bytes), (bytes, bytes)]  # one per call, on bytes: no early exit on a str


# -- binding --------------------------------------------------------------------------------------

# 127.0.0.1 as /proc/net/tcp writes it, and as /proc/net/tcp6 writes ::ffff:127.0.0.1 (grpc may bind that).
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F"}


def loopback_only(port: int) -> bool:
    found = listening_addresses(port)
    return bool(found) and found <= LOOPBACK


@linux_only
def test_lite_and_the_embedded_server_listen_on_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCINTIRETE_ADDRESS", raising=False)
    with LiteServer() as lite:
        assert lite.host == "127.0.0.1"
        assert loopback_only(int(lite.address.rsplit(":", 1)[1]))
    client, _ = resolve_clients()  # no address: the embedded server
    assert client.address.startswith("127.0.0.1:")
    assert loopback_only(int(client.address.rsplit(":", 1)[1]))


@linux_only
def test_the_cli_listens_on_loopback_only_by_default(tmp_path: Path) -> None:
    with LiteProcess(None, tmp_path) as lite:
        address = lite.start()
        assert address.startswith("127.0.0.1:")
        assert loopback_only(lite.port)


@needs_openssl
def test_non_loopback_warns_only_without_tls(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cert, key = openssl_certificate(tmp_path, "server")
    with caplog.at_level(logging.WARNING, logger="scintirete_integrations.lite.server"):
        with LiteServer(host="127.0.0.2"):  # all of 127.0.0.0/8 is loopback
            pass
        with LiteServer(host="0.0.0.0", tls_certificate=cert, tls_private_key=key):
            pass
    assert "without TLS" not in caplog.text
    with (
        caplog.at_level(logging.WARNING, logger="scintirete_integrations.lite.server"),
        LiteServer(host="0.0.0.0"),
    ):
        pass
    assert "listens on 0.0.0.0" in caplog.text and "without TLS" in caplog.text


def test_the_cli_warns_when_bound_beyond_loopback_without_tls(tmp_path: Path) -> None:
    with LiteProcess(None, tmp_path, extra=("--host", "0.0.0.0")) as lite:
        lite.start()
        lite.terminate()
    assert "without TLS" in lite.stderr()


# -- TLS through the clients, the document layer and the stores --------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    directory = tmp_path_factory.mktemp("certs")
    files: dict[str, Path] = {}
    for name in ("server", "client", "stranger"):
        files[f"{name}_cert"], files[f"{name}_key"] = openssl_certificate(directory, name)
    return files


@pytest.fixture(scope="module")
def mtls_server(certificates: dict[str, Path]) -> Iterator[LiteServer]:
    """TLS with client certificates: only clients holding a certificate signed by client_cert get in."""
    with LiteServer(
        password=SECRET,
        embedding=HashEmbeddings(DIM),
        tls_certificate=certificates["server_cert"],
        tls_private_key=certificates["server_key"],
        tls_client_ca=certificates["client_cert"],
    ) as lite:
        yield lite


def mtls_options(certificates: dict[str, Path], **overrides: object) -> dict[str, object]:
    return {
        "password": SECRET,
        "root_certificates": certificates["server_cert"],
        "client_certificate": certificates["client_cert"],
        "client_key": certificates["client_key"],
        "timeout": 10,
        **overrides,
    }


def test_clients_with_a_client_certificate_get_in(
    mtls_server: LiteServer, certificates: dict[str, Path]
) -> None:
    with ScintireteClient(mtls_server.address, **mtls_options(certificates)) as client:
        assert client.tls
        client.ensure_collection("tls", "c", "l2")
        assert client.insert_vectors("tls", "c", np.eye(DIM))
    # The name in the certificate is checked; tls_server_name picks the one to expect.
    options = mtls_options(certificates, tls_server_name="localhost")
    with ScintireteClient(mtls_server.address, **options) as client:
        assert "tls" in client.list_databases()


async def test_the_async_client_with_a_client_certificate_gets_in(
    mtls_server: LiteServer, certificates: dict[str, Path]
) -> None:
    async with AsyncScintireteClient(mtls_server.address, **mtls_options(certificates)) as client:
        await client.ensure_collection("tls", "async", "l2")
        assert await client.insert_vectors("tls", "async", np.eye(DIM)) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "change",
    [
        {"client_certificate": None, "client_key": None},  # no client certificate
        {"client_certificate": "stranger_cert", "client_key": "stranger_key"},  # not signed by the CA
        {"root_certificates": "stranger_cert"},  # does not trust the server
        {"tls_server_name": "elsewhere.example"},  # the certificate names another host
    ],
    ids=["no-client-cert", "unknown-client-cert", "untrusted-server", "wrong-server-name"],
)
async def test_tls_refusals_are_unavailable_errors_for_both_clients(
    mtls_server: LiteServer, certificates: dict[str, Path], change: dict[str, str | None]
) -> None:
    options = mtls_options(
        certificates,
        **{key: certificates.get(value, value) if value else None for key, value in change.items()},
    )
    options["retry"] = RetryPolicy.disabled()
    with ScintireteClient(mtls_server.address, **options) as client, pytest.raises(UnavailableError):
        client.list_databases()
    async with AsyncScintireteClient(mtls_server.address, **options) as aclient:
        with pytest.raises(UnavailableError):
            await aclient.list_databases()


def test_plaintext_to_a_tls_server_is_refused(mtls_server: LiteServer) -> None:
    with (
        ScintireteClient(mtls_server.address, password=SECRET, timeout=10) as client,
        pytest.raises(UnavailableError),
    ):
        client.list_databases()


async def test_the_document_layer_and_the_stores_run_over_mutual_tls(
    mtls_server: LiteServer, certificates: dict[str, Path]
) -> None:
    client = ScintireteClient(mtls_server.address, **mtls_options(certificates))
    docs = DocumentCollection("docs", client, db="tls", metric="l2")
    docs.upsert([Record("a", "over TLS", [1.0, 0.0, 0.0, 0.0])])
    adocs = AsyncDocumentCollection(
        "docs",
        AsyncScintireteClient(mtls_server.address, **mtls_options(certificates)),
        db="tls",
        metric="l2",
    )
    assert [hit.record.id for hit in await adocs.search([1.0, 0.0, 0.0, 0.0], 1)] == ["a"]

    # The stores build the async twin from the sync client's settings: certificates included.
    lc = LangChainStore(
        DeterministicFakeEmbedding(size=DIM), collection_name="lc", db_name="tls", client=client
    )
    await lc.aadd_texts(["async over mTLS"], ids=["x"])
    assert [doc.id for doc in lc.similarity_search("async over mTLS", k=1)] == ["x"]
    li = LlamaIndexStore("li", "tls", client=client)
    await li.async_add([TextNode(id_="n", text="node", embedding=[0.0, 1.0, 0.0, 0.0])])
    assert [node.node_id for node in li.get_nodes(["n"])] == ["n"]
    embeddings = ScintireteEmbeddings(client=client)
    assert len(await embeddings.aembed_query("server-side, over mTLS")) == DIM


def test_from_env_reads_the_root_certificate(
    mtls_server: LiteServer, certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCINTIRETE_ADDRESS", mtls_server.address)
    monkeypatch.setenv("SCINTIRETE_PASSWORD", SECRET)
    monkeypatch.setenv("SCINTIRETE_ROOT_CERTIFICATES", str(certificates["server_cert"]))
    client = ScintireteClient.from_env(
        client_certificate=certificates["client_cert"], client_key=certificates["client_key"]
    )
    assert client.tls and isinstance(client.list_databases(), list)


# -- the password never shows: reprs, exceptions, logs, files ---------------------------------------


def test_reprs_and_exceptions_never_show_the_password(server: LiteServer) -> None:
    client = ScintireteClient(server.address, password=SECRET)
    aclient = AsyncScintireteClient(server.address, password=SECRET)
    docs = DocumentCollection("docs", client)
    lc = LangChainStore(DeterministicFakeEmbedding(size=DIM), client=client)
    li = LlamaIndexStore("li", client=client)
    shown = [
        server, client, aclient, client.retry, docs, docs.async_twin(aclient), lc, li, li.to_json(),
        li.model_dump(), ScintireteEmbeddings(client=client), ScintireteEmbedding(client=client),
        ScintireteEmbedding(client=client).to_json(), server.engine, servicer_module.ScintireteServiceServicer(
            server.engine, SECRET
        ),
    ]  # fmt: skip
    for thing in shown:
        assert SECRET not in repr(thing) and SECRET not in str(thing), type(thing)
    with pytest.raises(AuthenticationError) as wrong:
        ScintireteClient(server.address, password=SECRET + "!").list_databases()
    failures = [wrong.value]
    with pytest.raises(UnavailableError) as down:
        ScintireteClient(
            "127.0.0.1:1", password=SECRET, retry=RetryPolicy.disabled(), timeout=5
        ).list_databases()
    failures.append(down.value)
    for failure in failures:
        text = f"{failure!s} {failure!r} {failure.details} {failure.__cause__!r} {failure.__cause__!s}"
        assert SECRET not in text and SECRET[:8] not in text


SESSION = textwrap.dedent(
    """
    import asyncio, logging, sys
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    for name in ("grpc", "grpc._server", "grpc._channel", "grpc.aio", "asyncio", "scintirete_integrations"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    secret, data_dir = sys.argv[1], sys.argv[2]

    from scintirete_integrations import *
    from scintirete_integrations.documents import DocumentCollection, Record
    from scintirete_integrations.lite import HashEmbeddings, LiteServer

    server = LiteServer(data_dir, password=secret, embedding=HashEmbeddings(4), fsync="always").start()
    client = ScintireteClient(server.address, password=secret)
    docs = DocumentCollection("docs", client, metric="l2")
    docs.upsert([Record("a", "text", [1.0, 0.0, 0.0, 0.0], {"k": 1})])
    print(docs.search([1.0, 0.0, 0.0, 0.0], 1), docs.count(), client.embed_text(["x"]))
    print(repr(server), repr(client), repr(docs))

    async def use_async():
        async with AsyncScintireteClient(server.address, password=secret) as aclient:
            print(await aclient.list_databases())
    asyncio.run(use_async())

    def broken(*args):
        raise RuntimeError("engine failure")
    real, server.engine.list_databases = server.engine.list_databases, broken
    for attempt in (lambda: client.list_databases(),
                    lambda: ScintireteClient(server.address, password=secret + "x").list_databases(),
                    lambda: client.get_collection_info("nope", "nope")):
        try:
            attempt()
        except ScintireteError as exc:
            logging.getLogger("session").exception("call failed: %s", exc)
            print(repr(exc))
    server.engine.list_databases = real
    client.save()
    address = server.address
    server.stop()
    try:
        ScintireteClient(address, password=secret, retry=RetryPolicy.disabled()).list_databases()
    except ScintireteError as exc:
        logging.getLogger("session").exception("after stop: %s", exc)
    """
)


def test_the_password_never_appears_in_debug_logs_or_data_files(tmp_path: Path) -> None:
    script = tmp_path / "session.py"
    script.write_text(SESSION)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SCINTIRETE_", "GRPC_"))}
    env.update(GRPC_VERBOSITY="debug", GRPC_TRACE="api,http,channel")
    done = subprocess.run(
        [sys.executable, str(script), SECRET, str(tmp_path / "data")],
        capture_output=True,
        timeout=120,
        env=env,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output.decode(errors="replace")[-3000:]
    assert b"engine failure" in output and b"invalid credentials" in output  # the session did run
    assert b"RuntimeError" in output  # the servicer logged its traceback
    secret = SECRET.encode()
    for form in (secret, secret.hex().encode(), secret.hex(" ").encode(), secret.hex(":").encode()):
        assert form not in output
    for path in (tmp_path / "data").iterdir():
        assert SECRET.encode() not in path.read_bytes(), path.name


def test_the_cli_never_prints_a_given_password(tmp_path: Path) -> None:
    with LiteProcess(tmp_path / "data", tmp_path, password=SECRET, extra=("--log-level", "DEBUG")) as lite:
        lite.start()
        ScintireteClient(lite.address, password=SECRET).ensure_collection("d", "c")
        assert lite.terminate() == 0
    assert SECRET not in lite.stderr()


# -- request size limits ---------------------------------------------------------------------------


def test_one_huge_request_is_refused_and_lite_keeps_serving(server: LiteServer) -> None:
    """Lite refuses a request over its limit (4 MiB by default) before any handler sees it."""
    with grpc.insecure_channel(server.address, options=[("grpc.max_send_message_length", -1)]) as channel:
        call = channel.unary_unary(
            "/scintirete.v1.ScintireteService/InsertVectors",
            request_serializer=None,
            response_deserializer=None,
        )
        with pytest.raises(grpc.RpcError) as huge:
            call(b"\x12" + b"\x01a" * (65 * 1024 * 512), timeout=60)
        assert huge.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        stub = pb_grpc.ScintireteServiceStub(channel)
        assert stub.ListDatabases(pb.ListDatabasesRequest(auth=pb.AuthInfo(password=SECRET))) is not None
    with ScintireteClient(server.address, password=SECRET, max_message_bytes=1 << 30) as client:
        with pytest.raises(RequestTooLargeError, match="max_message_bytes") as refused:
            client.embed_text(["x" * (65 << 20)])
        assert refused.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert not client.retry.should_retry("EmbedText", refused.value)  # resending cannot help
        assert isinstance(client.list_databases(), list)
