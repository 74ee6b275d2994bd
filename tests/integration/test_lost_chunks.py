"""Page chunks the server's graph stopped reaching: rebuilt from parity, never read as absent.

The unmodified server keeps only each node's closest links, so a node can lose every link to
it, and a restart (which rebuilds part of the graph with a fresh level generator) can do that
to a page vector that was found when it was written. Deleting a page vector reproduces it
exactly: the server no longer returns it to any search. Each page carries one parity chunk per
32 data chunks, so a reader rebuilds any one lost chunk of a group; a page that lost more is
never voided (it may have been acknowledged): reads raise and name the call that makes the
collection usable again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from scintirete_integrations import DocumentCollection, Record, ScintireteClient
from scintirete_integrations.documents import IncompleteReadError, book, journal

DIM = 64


@pytest.fixture
def client(address: str, password: str) -> Iterator[ScintireteClient]:
    with ScintireteClient(address, password=password, timeout=60) as c:
        yield c


def records(count: int, seed: int) -> list[Record]:
    rng = np.random.default_rng(seed)
    return [
        Record(f"r{seed}-{i}", f"record {i} " + rng.bytes(300).hex(), rng.standard_normal(DIM), {"i": i})
        for i in range(count)
    ]


def open_store(client: ScintireteClient, db: str) -> DocumentCollection:
    return DocumentCollection("notes", client, db=db, metric="l2", auto_compact=False)


def lose(client: ScintireteClient, db: str, seq: int, chunks: list[int]) -> None:
    """Make the server unable to return these chunks of page ``seq`` (book generation 0)."""
    name = "notes.__sci_book"
    ids = []
    for chunk in chunks:
        hits = client.search(db, name, book.probe_vector(seq, chunk, 0), 1, ef_search=64, include_vector=True)
        assert hits and book.is_chunk(np.asarray(hits[0].vector, np.float32), seq, chunk, 0)
        ids.append(hits[0].id)
    client.delete_vectors(db, name, ids)


def exact(store: DocumentCollection, written: list[Record]) -> bool:
    got = {r.id: r for r in store.get([r.id for r in written])}
    return all(r.id in got and got[r.id].text == r.text and got[r.id].metadata == r.metadata for r in written)


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_page_that_lost_one_chunk_is_rebuilt_from_its_parity(client: ScintireteClient, which: str) -> None:
    db = f"lost-{uuid.uuid4().hex[:8]}"
    written = records(60, 1)  # one page: several data chunks, then one parity chunk
    open_store(client, db).upsert(written)
    chunks = client.get_collection_info(db, "notes.__sci_book").vector_count - 1
    assert chunks > 3
    lose(client, db, 1, [{"first": 0, "middle": chunks // 2, "last": chunks - 1}[which]])
    reader = open_store(client, db)
    assert reader.count() == 60 and exact(reader, written)
    hit = reader.search(written[7].vector, 1)[0]
    assert hit.record.id == written[7].id and hit.record.text == written[7].text


def test_a_one_chunk_page_survives_losing_its_only_data_chunk(client: ScintireteClient) -> None:
    db = f"lost-{uuid.uuid4().hex[:8]}"
    written = [Record("only", "a short note", np.ones(DIM), {"k": "v"})]
    open_store(client, db).upsert(written)
    lose(client, db, 1, [0])  # its parity chunk is a copy of it
    assert exact(open_store(client, db), written)


def test_a_page_that_lost_more_than_parity_rebuilds_fails_the_first_read_and_is_never_voided(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page found in part is looked at again for as long as its writer could still be storing
    # copies of chunks it could not find (WRITE_DEADLINE, shortened here), then the read raises.
    monkeypatch.setattr(journal, "WRITE_DEADLINE", 0.5)
    db = f"lost-{uuid.uuid4().hex[:8]}"
    first, second = records(60, 1), records(3, 2)
    writer = open_store(client, db)
    writer.upsert(first)
    writer.upsert(second)
    lose(client, db, 1, [1, 2])  # two data chunks of the same parity group
    with pytest.raises(IncompleteReadError, match=r"clear\(\)"):  # the first read: no grace period
        open_store(client, db).count()
    patient = open_store(client, db)
    patient._core.refresher.grace = 0.0  # a reader past the grace period voids dead writers' numbers ...
    with pytest.raises(IncompleteReadError):
        patient.get(["r1-0"])
    with pytest.raises(IncompleteReadError):  # ... but never this page: no void mark hides it
        open_store(client, db).scan()
    stranger = open_store(client, db)
    stranger.clear()  # the call the error names, from another store: empty and writable again
    stranger.upsert(second)
    assert exact(open_store(client, db), second) and open_store(client, db).count() == 3
