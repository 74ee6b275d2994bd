"""The server-like log: Go's bufio.Writer, the command format that drops metadata, the snapshot rule."""

from __future__ import annotations

import io
import threading
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scintirete_integrations.lite.log_records import (
    CollectionCreated,
    CollectionDropped,
    CollectionState,
    DatabaseCreated,
    DatabaseDropped,
    Record,
    VectorsDeleted,
    VectorsInserted,
)
from scintirete_integrations.lite.server_log import (
    BUFIO_SIZE,
    BufioWriter,
    PeriodicSnapshots,
    ServerPersistence,
    command_chunks,
    decode_command,
    read_commands,
    server_persistence,
)

INSERT = VectorsInserted(
    "d ü", "c", [7, 8], np.array([[1.5, -2.0], [0.0, 3.25]], np.float32), [b"\x0a\x01x", b""]
)
COMMANDS: list[Record] = [
    DatabaseCreated("d ü"),
    DatabaseDropped("d"),
    CollectionCreated("d", "c", "cosine", 4, 40),
    CollectionDropped("d", "c"),
    INSERT,
    VectorsDeleted("d", "c", [7, 2**64 - 1]),
]


class Sink:
    """Records every write that reaches the file."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def __call__(self, data: bytes | memoryview) -> None:
        self.writes.append(bytes(data))

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


# -- bufio ----------------------------------------------------------------------------------------


def test_small_writes_stay_buffered_until_the_buffer_is_full() -> None:
    sink = Sink()
    writer = BufioWriter(sink)
    writer.write(b"a" * 4000)
    writer.write(b"b" * 96)  # exactly full: still buffered, as Go flushes only when more comes
    assert (sink.writes, writer.buffered) == ([], BUFIO_SIZE)
    writer.write(b"c" * 10)
    assert sink.writes == [b"a" * 4000 + b"b" * 96] and writer.buffered == 10
    writer.flush()
    assert sink.writes[-1] == b"c" * 10 and writer.buffered == 0
    writer.flush()  # nothing buffered: no empty write
    assert len(sink.writes) == 2


def test_a_large_write_into_an_empty_buffer_goes_straight_to_the_file() -> None:
    sink = Sink()
    writer = BufioWriter(sink)
    writer.write(b"x" * 5000)
    assert sink.writes == [b"x" * 5000] and writer.buffered == 0


def test_a_large_write_fills_the_buffer_flushes_it_then_writes_the_rest() -> None:
    sink = Sink()
    writer = BufioWriter(sink)
    writer.write(b"a" * 100)
    writer.write(b"b" * 9000)  # 3,996 fill the buffer, then 5,004 > 4,096 go straight out
    assert sink.writes == [b"a" * 100 + b"b" * 3996, b"b" * 5004] and writer.buffered == 0
    writer.write(b"c" * 100)
    writer.write(b"d" * 6000)  # 3,996 fill it, then 2,004 fit and stay buffered
    assert sink.writes[2:] == [b"c" * 100 + b"d" * 3996] and writer.buffered == 2004


def test_a_failed_flush_keeps_the_bytes_and_discard_forgets_them() -> None:
    def full(data: bytes | memoryview) -> None:
        raise OSError(28, "No space left on device")

    writer = BufioWriter(full)
    writer.write(b"abc")
    with pytest.raises(OSError):
        writer.flush()
    assert writer.buffered == 3
    writer.discard()
    assert writer.buffered == 0


@given(st.lists(st.integers(0, 3 * BUFIO_SIZE), max_size=30))
def test_bufio_keeps_order_and_flushes_everything_before_a_write_over_twice_its_size(
    sizes: list[int],
) -> None:
    sink = Sink()
    writer = BufioWriter(sink)
    written = b""
    for number, size in enumerate(sizes):
        chunk = bytes([number % 251]) * size
        writer.write(chunk)
        written += chunk
        assert sink.data + written[len(sink.data) :] == written  # nothing reordered or lost
        assert len(written) - len(sink.data) == writer.buffered <= BUFIO_SIZE
        if size > 2 * BUFIO_SIZE:
            assert writer.buffered == 0


# -- commands -------------------------------------------------------------------------------------


@pytest.mark.parametrize("record", COMMANDS, ids=lambda r: type(r).__name__)
def test_every_command_round_trips_except_metadata(record: Record) -> None:
    prefix, body = command_chunks(record)
    assert int.from_bytes(prefix, "little") == len(body)
    decoded = decode_command(body)
    if isinstance(record, VectorsInserted):
        assert isinstance(decoded, VectorsInserted)
        assert decoded.vectors.dtype == np.float32
        assert decoded.vectors.tobytes() == record.vectors.tobytes()
        assert decoded.ids == record.ids
        assert decoded.metadata == [b"", b""]  # written as {}: replayed as an empty Struct
    else:
        assert decoded == record


def test_the_log_writes_metadata_as_two_bytes_whatever_it_was() -> None:
    plain = VectorsInserted("d", "c", [1], np.zeros((1, 3), np.float32), [b""])
    rich = VectorsInserted("d", "c", [1], np.zeros((1, 3), np.float32), [b"\x0a" * 5000])
    assert len(command_chunks(plain)[1]) == len(command_chunks(rich)[1])
    assert command_chunks(rich)[1].endswith(b"\x02\x00\x00\x00{}")


@pytest.mark.parametrize(("count", "dim"), [(1, 1), (1, 2049), (30, 100), (500, 384)])
def test_an_insert_takes_at_least_four_bytes_per_element_and_a_few_dozen_more(count: int, dim: int) -> None:
    record = VectorsInserted(
        "db", "coll", list(range(1, count + 1)), np.ones((count, dim), np.float32), [b""] * count
    )
    size = sum(map(len, command_chunks(record)))
    assert 4 * count * dim < size <= 4 * count * dim + 20 * count + 60
    if dim > 2048:  # so it is over twice the buffer: it flushes everything before it
        assert size > 2 * BUFIO_SIZE


def test_snapshot_only_records_are_never_logged() -> None:
    with pytest.raises(TypeError, match="snapshots"):
        command_chunks(CollectionState("d", "c", 2, 9, 1))


def _body(record: Record) -> bytes:
    return command_chunks(record)[1]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_body(DatabaseCreated("d"))[:-1], "CRC mismatch"),
        (_body(DatabaseCreated("d")).replace(b"\x01\x00\x00\x00d", b"\x01\x00\x00\x00e"), "CRC mismatch"),
        (b"", "CRC mismatch"),
    ],
)
def test_damaged_commands_are_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_command(body)


def _signed(rest: bytes) -> bytes:
    return zlib.crc32(rest).to_bytes(4, "little") + rest


@pytest.mark.parametrize(
    ("rest", "reason"),
    [
        (b"\x09" + bytes(8), "unknown command op 9"),
        (b"\x01" + bytes(8) + b"\x05\x00\x00\x00ab", "command ends early"),
        (b"\x01" + bytes(8) + b"\x01\x00\x00\x00ab", "1 bytes after the command"),
        (b"\x05" + bytes(8) + b"\x01\x00\x00\x00d\x01\x00\x00\x00c\x00\x00\x00\x00", "no vectors"),
        (b"\x05" + bytes(8) + b"\x01\x00\x00\x00d\x01\x00\x00\x00c\x01\x00\x00\x00", "ends early"),
    ],
)
def test_commands_that_pass_the_crc_but_do_not_parse_are_rejected(rest: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_command(_signed(rest))


def test_an_insert_whose_metadata_is_not_the_servers_is_rejected() -> None:
    body = bytearray(_body(INSERT))
    body[-2:] = b"{x"
    with pytest.raises(ValueError, match="malformed vectors"):
        decode_command(_signed(bytes(body[4:])))


def test_read_commands_yields_sizes_and_stops_at_a_torn_end() -> None:
    whole = b"".join(b"".join(command_chunks(record)) for record in COMMANDS)
    sizes = [size for _, size in read_commands(io.BytesIO(whole))]
    assert sum(sizes) == len(whole) and len(sizes) == len(COMMANDS)
    for torn, reason in [
        (whole[:-1], "incomplete command"),
        (whole + b"\x05\x00", "incomplete length prefix"),
    ]:
        stream = io.BytesIO(torn)
        with pytest.raises(ValueError, match=reason):
            list(read_commands(stream))
        assert stream.read(1) == b""  # the reader consumed the damaged end


# -- options and periodic snapshots ---------------------------------------------------------------


def test_persistence_values() -> None:
    assert server_persistence("exact") is None
    assert server_persistence("server") == ServerPersistence()
    options = ServerPersistence(log_flush_interval=None, snapshot_interval=60.0)
    assert server_persistence(options) is options
    assert (ServerPersistence().snapshot_min_writes, ServerPersistence().snapshot_max_age) == (200, 1800.0)
    with pytest.raises(ValueError, match="exact, server or a ServerPersistence"):
        server_persistence("redis")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="log_flush_interval must be a positive number"):
        ServerPersistence(log_flush_interval=0)
    with pytest.raises(ValueError, match="snapshot_interval must be a positive number"):
        ServerPersistence(snapshot_interval=-1.0)
    with pytest.raises(ValueError, match="snapshot_min_writes must be >= 0"):
        ServerPersistence(snapshot_min_writes=-1)


@pytest.mark.parametrize(
    ("writes", "age", "due"),
    [(0, 0.0, False), (199, 1799.0, False), (200, 0.0, True), (0, 1800.0, True), (5000, 9999.0, True)],
)
def test_the_server_rule_snapshots_after_200_writes_or_30_minutes(writes: int, age: float, due: bool) -> None:
    options = ServerPersistence(snapshot_interval=1.0)
    assert PeriodicSnapshots(options, lambda: (writes, age), lambda: None).due() is due


def test_periodic_snapshots_save_at_a_tick_only_when_due() -> None:
    state = {"writes": 0, "ticks": 0, "saves": 0}
    ticked = threading.Condition()

    def since() -> tuple[int, float]:
        with ticked:
            state["ticks"] += 1
            ticked.notify_all()
        return state["writes"], 0.0

    def save() -> None:
        state["saves"] += 1
        state["writes"] = 0

    def wait_ticks(count: int) -> None:
        with ticked:
            target = state["ticks"] + count
            assert ticked.wait_for(lambda: state["ticks"] >= target, timeout=30)

    options = ServerPersistence(snapshot_interval=0.001, snapshot_min_writes=3)
    periodic = PeriodicSnapshots(options, since, save)
    periodic.start()
    try:
        wait_ticks(3)
        assert state["saves"] == 0  # ticks with fewer than 3 writes take no snapshot
        state["writes"] = 3
        wait_ticks(2)
        assert state["saves"] == 1  # one snapshot, then no more writes: no more snapshots
    finally:
        periodic.stop()
    periodic.stop()  # twice is harmless
    with pytest.raises(ValueError, match="need a snapshot_interval"):
        PeriodicSnapshots(ServerPersistence(), since, save)
