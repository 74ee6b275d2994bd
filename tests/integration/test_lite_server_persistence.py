"""Lite with ``persistence="server"`` keeps and loses across restarts what an unmodified server does.

The facts reproduced (see ``lite/server_log.py``): the log writes metadata as ``{}``; a
snapshot (Save, BgSave, periodic) keeps it and truncates the log; a clean stop takes no
snapshot; the log's last bytes sit in a 4,096-byte buffer that a crash loses; ids go on from
the largest id held. In-process servers are crashed with ``LiteServer.crash()``; the
``scintirete-lite`` child processes get real SIGKILL and SIGTERM.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lite_helpers import LiteProcess

from scintirete_integrations import ScintireteClient
from scintirete_integrations.lite import LiteServer, ServerPersistence
from scintirete_integrations.lite.__main__ import parse_args

PASSWORD = "pw"
#: No background flush: what a crash loses depends on the writes alone.
QUIET = ServerPersistence(log_flush_interval=None)
LARGE = 2049  # floats in one vector: its insert is over 8,192 bytes and flushes the buffer


@contextmanager
def serving(
    data_dir: Path, persistence: ServerPersistence = QUIET
) -> Iterator[tuple[LiteServer, ScintireteClient]]:
    server = LiteServer(data_dir, password=PASSWORD, persistence=persistence).start()
    try:
        with ScintireteClient(server.address, password=PASSWORD) as client:
            yield server, client
    finally:
        server.stop()


def rows(client: ScintireteClient, name: str = "c") -> list[tuple[int, dict[str, Any], list[float]]]:
    """Every live vector of db/name: id, metadata, elements."""
    info = client.get_collection_info("db", name)
    hits = client.search("db", name, np.zeros(info.dimension), 1000, ef_search=1000, include_vector=True)
    return sorted((hit.id, hit.metadata, list(hit.vector or [])) for hit in hits)


def log_sizes(data_dir: Path) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in sorted(data_dir.glob("log.*"))}


def test_vectors_replayed_from_the_log_come_back_with_empty_metadata(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, client):
        client.ensure_collection("db", "c", "l2")
        assert client.insert_vectors(
            "db", "c", [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [{"k": "a"}, {"k": "b"}, {"k": "c"}]
        ) == [1, 2, 3]
        assert client.delete_vectors("db", "c", [2]) == 1
        assert [row[1] for row in rows(client)] == [{"k": "a"}, {"k": "c"}]
    assert not (tmp_path / "snapshot.jsonl").exists()  # stop() took no snapshot
    with serving(tmp_path) as (_, client):
        assert rows(client) == [(1, {}, [1.0, 0.0]), (3, {}, [1.0, 1.0])]
        info = client.get_collection_info("db", "c")
        assert (info.dimension, info.vector_count, info.deleted_count) == (2, 2, 1)


def test_save_keeps_metadata_and_truncates_the_log(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, client):
        client.ensure_collection("db", "c", "l2")
        client.insert_vectors("db", "c", [[1.0, 0.0]], [{"k": "saved"}])
        assert log_sizes(tmp_path) == {"log.000001.aof": 0}  # all of it still in the buffer
        assert client.save().success
        assert log_sizes(tmp_path) == {"log.000002.aof": 0}  # only writes after the snapshot follow
        client.insert_vectors("db", "c", [[0.0, 1.0]], [{"k": "logged"}])
    assert log_sizes(tmp_path)["log.000002.aof"] > 0
    with serving(tmp_path) as (_, client):
        assert rows(client) == [(1, {"k": "saved"}, [1.0, 0.0]), (2, {}, [0.0, 1.0])]


def test_bg_save_keeps_metadata(tmp_path: Path) -> None:
    with serving(tmp_path) as (server, client):
        client.ensure_collection("db", "c", "l2")
        client.insert_vectors("db", "c", [[1.0, 0.0]], [{"k": "saved"}])
        assert client.bg_save().job_id == "bgsave_1"
        server.stop()  # waits for the background snapshot, then takes none of its own
    with serving(tmp_path) as (_, client):
        assert rows(client) == [(1, {"k": "saved"}, [1.0, 0.0])]


def test_a_periodic_snapshot_comes_once_enough_writes_came(tmp_path: Path) -> None:
    periodic = ServerPersistence(log_flush_interval=None, snapshot_interval=0.01, snapshot_min_writes=3)
    with serving(tmp_path, periodic) as (server, client):
        client.ensure_collection("db", "c", "l2")  # two write commands: a database and a collection
        client.insert_vectors("db", "c", [[1.0, 0.0]], [{"k": "saved"}])  # the third
        deadline = time.monotonic() + 30
        while not (tmp_path / "snapshot.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        server.crash()  # the buffered log is lost, the snapshot is not
    with serving(tmp_path) as (_, client):
        assert rows(client) == [(1, {"k": "saved"}, [1.0, 0.0])]


def test_a_crash_loses_the_buffered_writes_and_a_large_insert_flushes_them(tmp_path: Path) -> None:
    with serving(tmp_path) as (server, client):
        client.ensure_collection("db", "c", "l2")
        client.insert_vectors("db", "c", [[1.0, 0.0]], [{"k": "a"}])
        server.crash()  # small commands only: all of them were still buffered
    with serving(tmp_path) as (server, client):
        assert client.list_databases() == []
        client.ensure_collection("db", "c", "l2")
        client.ensure_collection("db", "large", "l2")
        client.insert_vectors("db", "c", [[1.0, 0.0]], [{"k": "a"}])
        client.insert_vectors("db", "large", np.ones((1, LARGE)), [{"k": "large"}])  # flushes all before it
        client.insert_vectors("db", "c", [[0.0, 1.0]], [{"k": "lost"}])  # buffered again
        server.crash()
    with serving(tmp_path) as (_, client):
        assert rows(client) == [(1, {}, [1.0, 0.0])]
        assert [row[:2] for row in rows(client, "large")] == [(1, {})]


def test_ids_go_on_from_the_largest_id_held_after_a_restart(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, client):
        client.ensure_collection("db", "c", "l2")
        assert client.insert_vectors("db", "c", [[1.0], [2.0], [3.0]]) == [1, 2, 3]
        client.delete_vectors("db", "c", [3])  # deleted but held: 3 is not handed out again
    with serving(tmp_path) as (server, client):
        assert client.insert_vectors("db", "c", [[4.0]]) == [4]
        server.crash()  # the insert of 4 was still buffered
    with serving(tmp_path) as (_, client):
        assert client.insert_vectors("db", "c", [[5.0]]) == [4]  # the same id, now for another vector


def test_server_persistence_needs_a_data_dir_and_a_known_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a data_dir"):
        LiteServer(persistence="server")
    with pytest.raises(ValueError, match="exact, server or a ServerPersistence"):
        LiteServer(tmp_path, persistence="lossy")  # type: ignore[arg-type]
    LiteServer().crash()  # not running: nothing to do


def test_crash_works_on_an_exact_server_and_loses_nothing(tmp_path: Path) -> None:
    server = LiteServer(tmp_path, password=PASSWORD, fsync="never").start()
    with ScintireteClient(server.address, password=PASSWORD) as client:
        client.ensure_collection("db", "c", "l2")
        client.insert_vectors("db", "c", [[1.0, 0.0]], [{"k": "a"}])
    server.crash()
    assert not (tmp_path / "snapshot.jsonl").exists()
    with (
        LiteServer(tmp_path, password=PASSWORD) as server,
        ScintireteClient(server.address, password=PASSWORD) as client,
    ):
        assert rows(client) == [(1, {"k": "a"}, [1.0, 0.0])]


# -- the command line -----------------------------------------------------------------------------


def test_parse_args_persistence_options() -> None:
    args = parse_args([])
    assert args.persistence == "exact" and "log_flush_interval" not in vars(args)
    args = parse_args(
        ["--persistence", "server", "--log-flush-interval", "never", "--snapshot-interval", "60"]
    )
    assert (args.persistence, args.log_flush_interval, args.snapshot_interval) == ("server", None, 60.0)
    for wrong in (["--log-flush-interval", "1"], ["--persistence", "server", "--snapshot-interval", "0"]):
        with pytest.raises(SystemExit):
            parse_args(wrong)


def server_process(data_dir: Path, log_dir: Path) -> LiteProcess:
    extra = ("--persistence", "server", "--log-flush-interval", "never")
    return LiteProcess(data_dir, log_dir, password=PASSWORD, extra=extra)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigkill_loses_only_the_buffered_log(tmp_path: Path) -> None:
    with server_process(tmp_path / "data", tmp_path) as lite:
        with ScintireteClient(lite.start(), password=PASSWORD) as client:
            client.ensure_collection("db", "c", "l2")
            client.ensure_collection("db", "large", "l2")
            client.insert_vectors("db", "c", [[1.0, 0.0]], [{"k": "a"}])
            client.insert_vectors("db", "large", np.ones((1, LARGE)), [{"k": "large"}])
            client.insert_vectors("db", "c", [[0.0, 1.0]], [{"k": "lost"}])
        lite.kill()
        with ScintireteClient(lite.start(), password=PASSWORD) as client:
            assert rows(client) == [(1, {}, [1.0, 0.0])]
            # The lost vector's id is handed out again; a snapshot keeps this one's metadata.
            assert client.insert_vectors("db", "c", [[0.5, 0.5]], [{"k": "saved"}]) == [2]
            assert client.save().success
            client.insert_vectors("db", "c", [[2.0, 2.0]], [{"k": "lost too"}])
        lite.kill()
        with ScintireteClient(lite.start(), password=PASSWORD) as client:
            assert rows(client) == [(1, {}, [1.0, 0.0]), (2, {"k": "saved"}, [0.5, 0.5])]
        assert lite.terminate() == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_flushes_the_log_but_takes_no_snapshot(tmp_path: Path) -> None:
    with server_process(tmp_path / "data", tmp_path) as lite:
        with ScintireteClient(lite.start(), password=PASSWORD) as client:
            client.ensure_collection("db", "c", "l2")
            client.insert_vectors("db", "c", [[1.0, 0.0]], [{"k": "a"}])
        assert lite.terminate() == 0
        assert not (tmp_path / "data" / "snapshot.jsonl").exists()
        with ScintireteClient(lite.start(), password=PASSWORD) as client:
            assert rows(client) == [(1, {}, [1.0, 0.0])]
