"""Helpers for the fault, fuzz, bad-input and security tests (not a test module).

:class:`LiteProcess` runs ``python -m scintirete_integrations.lite`` as a child process, for tests
that kill or starve it. The child's stderr goes to a file (a pipe nobody reads could fill up and
block it); its first stdout line names the address it bound. :func:`server_state` reads everything
a server holds through the public client, to compare before and after a fault.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from scintirete_integrations import ScintireteClient

# Runs the CLI with SIGXFSZ ignored, so that a file-size limit (resource.RLIMIT_FSIZE, set from the
# parent with resource.prlimit) makes writes fail with EFBIG, as a full disk fails them with ENOSPC,
# instead of killing the process.
_IGNORE_SIGXFSZ = (
    "import runpy, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
    "sys.argv[0] = 'scintirete-lite'; runpy.run_module('scintirete_integrations.lite', run_name='__main__')"
)


def openssl_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed P-256 certificate and key for ``name``, valid for localhost and 127.0.0.1."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) with a socket listening on ``port`` (Linux)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiteProcess:
    """One ``scintirete-lite`` child on loopback; start it again after a kill on the same port and data."""

    def __init__(
        self,
        data_dir: Path | None,
        log_dir: Path,
        *,
        password: str = "pw",
        port: int = 0,
        fsync: str = "always",
        ignore_sigxfsz: bool = False,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.password = password
        self.port = port
        self.fsync = fsync
        self.ignore_sigxfsz = ignore_sigxfsz
        self.extra = extra
        self.process: subprocess.Popen[str] | None = None
        self.address = ""
        self.starts = 0

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"lite-stderr-{self.starts}.txt"

    def command(self) -> list[str]:
        head = [sys.executable, "-c", _IGNORE_SIGXFSZ] if self.ignore_sigxfsz else [sys.executable, "-m"]
        if not self.ignore_sigxfsz:
            head.append("scintirete_integrations.lite")
        args = ["--port", str(self.port), "--password", self.password, "--log-level", "WARNING"]
        args += ["--fsync", self.fsync, *self.extra]
        if self.data_dir is not None:
            args += ["--data-dir", str(self.data_dir)]
        return head + args

    def launch(self) -> subprocess.Popen[str]:
        """Start the child without waiting for it to listen."""
        self.starts += 1
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=stderr, text=True, env=_child_env()
            )
        return self.process

    def start(self) -> str:
        """Start the child and return ``host:port`` once it listens; raise with its stderr if it fails."""
        process = self.launch()
        assert process.stdout is not None
        line = process.stdout.readline()  # "" when the child exits instead
        if "listening on" not in line:
            process.wait(timeout=30)
            raise RuntimeError(f"scintirete-lite did not start (exit {process.returncode}): {self.stderr()}")
        self.address = line.strip().rsplit(" ", 1)[-1]
        self.port = int(self.address.rsplit(":", 1)[1])  # a restart reuses the port
        return self.address

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.wait()

    def terminate(self) -> int:
        """SIGTERM: a clean stop (final snapshot); returns the exit status."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait()

    def wait(self) -> int:
        if self.process is None:
            return 0
        try:
            code = self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
        return code

    def __enter__(self) -> LiteProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()


def _child_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCINTIRETE_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def server_state(client: ScintireteClient) -> dict[str, Any]:
    """Every database, collection (counters, metric, dimension) and live row (id, metadata, vector bytes).

    Vectors are compared as float32 bytes: exact, and NaN-safe (a NaN element equals itself).
    """
    state: dict[str, Any] = {}
    for db in client.list_databases():
        collections: dict[str, Any] = {}
        for info in client.list_collections(db):
            rows: list[tuple[int, str, bytes]] = []
            if info.vector_count:
                hits = client.search(
                    db,
                    info.name,
                    np.ones(info.dimension, np.float32),
                    info.vector_count,
                    ef_search=max(info.total_inserted, 50),
                    include_vector=True,
                )
                rows = sorted(
                    (
                        hit.id,
                        json.dumps(hit.metadata, sort_keys=True),
                        np.asarray(hit.vector, "<f4").tobytes(),
                    )
                    for hit in hits
                )
            counters = (info.dimension, info.vector_count, info.deleted_count, info.metric, info.hnsw)
            collections[info.name] = (counters, rows)
        state[db] = collections
    return state
