"""``scintirete-lite`` / ``python -m scintirete_integrations.lite``: run a Lite server until stopped.

    scintirete-lite --port 9090 --data-dir ./data --password s3cret
    SCINTIRETE_PASSWORD=s3cret scintirete-lite --embedding-url https://api.openai.com/v1

Without a password (flag or ``SCINTIRETE_PASSWORD``) one is generated and printed once.
SIGINT or SIGTERM stops the server cleanly, with a final snapshot when ``--data-dir`` is set,
except with ``--persistence server``, which persists as an unmodified Scintirete server does
(no snapshot at SIGTERM; SIGKILL loses the log's buffered bytes):

    scintirete-lite --data-dir ./data --persistence server --log-flush-interval never
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ..errors import InternalError
from .embedding import EmbeddingProvider, HashEmbeddings, OpenAIEmbeddings
from .index import DEFAULT_INDEX, INDEX_KINDS
from .server import DEFAULT_MAX_RECEIVE_MESSAGE_BYTES, LiteServer, new_password
from .server_log import PERSISTENCE_MODES, Persistence, ServerPersistence
from .storage import FSYNC_POLICIES

__all__ = ["main", "parse_args"]

_SERVER_OPTIONS = ("log_flush_interval", "snapshot_interval")


def _seconds(text: str) -> float | None:
    """A positive number of seconds, or "never" (None)."""
    if text == "never":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds or 'never', got {text!r}")
    return seconds


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scintirete-lite", description="Scintirete-compatible gRPC server, pure Python + numpy."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=9090, help="port; 0 picks a free one (default: 9090)")
    parser.add_argument("--data-dir", help="persist here (default: in memory, lost at exit)")
    parser.add_argument(
        "--password", help="required password (default: $SCINTIRETE_PASSWORD, else generated)"
    )
    parser.add_argument("--fsync", choices=FSYNC_POLICIES, default="everysec", help="log sync policy")
    parser.add_argument(
        "--persistence",
        choices=PERSISTENCE_MODES,
        default="exact",
        help="exact: everything survives a restart; server: as an unmodified Scintirete server, the log "
        "drops metadata and buffers its last bytes, and no snapshot is taken at exit (default: exact)",
    )
    parser.add_argument(
        "--log-flush-interval",
        type=_seconds,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="server persistence: flush the log's buffer this often, or 'never' (default: 300)",
    )
    parser.add_argument(
        "--snapshot-interval",
        type=_seconds,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="server persistence: seconds between periodic snapshot checks (each snapshots after 200 "
        "writes or 30 minutes), or 'never' (default: never)",
    )
    parser.add_argument("--embedding-url", help="OpenAI-compatible base URL, e.g. https://api.openai.com/v1")
    parser.add_argument("--embedding-model", default="text-embedding-3-small", help="default embedding model")
    parser.add_argument(
        "--embedding-api-key", help="API key (default: $SCINTIRETE_EMBEDDING_API_KEY, else $OPENAI_API_KEY)"
    )
    parser.add_argument(
        "--hash-embeddings", type=int, metavar="DIM", help="offline deterministic (NOT semantic) embeddings"
    )
    parser.add_argument("--tls-cert", help="PEM certificate file (enables TLS, with --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key file")
    parser.add_argument("--tls-client-ca", help="PEM CA file: require client certificates signed by it")
    parser.add_argument(
        "--index",
        choices=INDEX_KINDS,
        default=DEFAULT_INDEX,
        help="exact: every search scans all rows; hnsw: the real server's graph, which can miss data "
        f"(default: {DEFAULT_INDEX})",
    )
    parser.add_argument(
        "--index-seed", type=int, default=0, help="seed of the hnsw level draws, so runs repeat (default: 0)"
    )
    parser.add_argument(
        "--max-receive-bytes",
        type=int,
        default=DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
        help=f"refuse larger requests, as the real server does (default: {DEFAULT_MAX_RECEIVE_MESSAGE_BYTES})",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    args = parser.parse_args(argv)
    if args.persistence != "server" and _server_options(args):
        parser.error("--log-flush-interval and --snapshot-interval need --persistence server")
    return args


def _server_options(args: argparse.Namespace) -> dict[str, float | None]:
    """The server persistence options given (absent ones keep ServerPersistence's defaults)."""
    return {name: value for name, value in vars(args).items() if name in _SERVER_OPTIONS}


def _persistence(args: argparse.Namespace) -> Persistence:
    if args.persistence != "server":
        return "exact"
    given, defaults = _server_options(args), ServerPersistence()
    return ServerPersistence(
        log_flush_interval=given.get("log_flush_interval", defaults.log_flush_interval),
        snapshot_interval=given.get("snapshot_interval", defaults.snapshot_interval),
    )


def _embedding(args: argparse.Namespace) -> EmbeddingProvider | None:
    if args.embedding_url:
        key = (
            args.embedding_api_key
            or os.environ.get("SCINTIRETE_EMBEDDING_API_KEY")
            or os.environ.get("OPENAI_API_KEY")
        )
        return OpenAIEmbeddings(args.embedding_url, key, args.embedding_model)
    if args.hash_embeddings:
        return HashEmbeddings(args.hash_embeddings)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    password = args.password or os.environ.get("SCINTIRETE_PASSWORD")
    generated = not password
    if generated:
        password = new_password()
    server = LiteServer(
        args.data_dir,
        args.host,
        args.port,
        password,
        embedding=_embedding(args),
        fsync=args.fsync,
        max_receive_message_bytes=args.max_receive_bytes,
        index=args.index,
        index_seed=args.index_seed,
        tls_certificate=args.tls_cert,
        tls_private_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        persistence=_persistence(args),
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server.start()
        except (InternalError, OSError) as exc:
            # A damaged log, an unusable data directory, a taken port: one line naming it, no traceback.
            print(f"scintirete-lite: cannot start: {exc}", file=sys.stderr, flush=True)
            return 1
        print(f"Scintirete Lite listening on {server.address}", flush=True)
        if generated:
            print(f"password (generated, shown once): {server.password}", flush=True)
        while not stopping.wait(0.5):  # a timed wait lets signal handlers run promptly
            pass
    finally:
        server.stop(grace=5.0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Scintirete Lite stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
