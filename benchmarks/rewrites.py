"""Storage under rewrites: does what the server keeps track the live data, or the write history?

Writes N records (384-d unit vectors, about 1 KB of text each) through the document layer,
then rewrites all of them R times (new text and new vector, plus a few deletes and re-adds
per round). After round 1, 5, ... it prints the layer's storage against a raw insert of the
same records (vectors with the text in metadata, as a client without the layer would store
them):

- embedded Lite with a ``data_dir``: the directory's size (snapshot plus log);
- a real server when ``SCINTIRETE_ADDRESS`` / ``SCINTIRETE_PASSWORD`` are set: the floats it
  holds for the collection (vectors times dimension, the bulk of a snapshot), and, with
  ``--snapshot-file PATH`` (the server's RDB file) after a ``save()``, that file's size.

    python benchmarks/rewrites.py --records 2000 --rounds 20

Not a test: numbers depend on the machine; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from scintirete_integrations import ScintireteClient
from scintirete_integrations.documents import DocumentCollection, Record
from scintirete_integrations.lite import LiteServer

DIM = 384
VOCABULARY = [f"w{i}" for i in range(600)]
DB = "rewrites"


def records(n: int, version: int, rng: np.random.Generator, start: int = 0) -> list[Record]:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        Record(
            f"r{start + i}",
            " ".join(rng.choice(VOCABULARY, 170)),
            vectors[i],
            {"i": start + i, "round": version, "g": f"g{i % 7}"},
        )
        for i in range(n)
    ]


def directory_bytes(path: Path) -> int:
    """The directory's size once no background snapshot is being written."""
    for _ in range(600):
        if not any(f.name.endswith(".tmp") for f in path.iterdir()):
            break
        time.sleep(0.1)
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def server_floats(client: ScintireteClient, name: str) -> int:
    return sum(
        (info.vector_count + info.deleted_count) * info.dimension
        for info in client.list_collections(DB)
        if info.name == name or info.name.startswith(name + ".__sci_")
    )


def raw_insert(client: ScintireteClient, name: str, batch: list[Record]) -> None:
    client.ensure_collection(DB, name, "cosine")
    for start in range(0, len(batch), 256):
        chunk = batch[start : start + 256]
        client.insert_vectors(
            DB,
            name,
            np.stack([np.asarray(r.vector) for r in chunk]),
            [{"text": r.text, **r.metadata} for r in chunk],
        )


def run(client: ScintireteClient, n: int, rounds: int, size: Callable[[str], int], label: str) -> None:
    rng = np.random.default_rng(0)
    name = f"rw{int(time.time())}"
    first = records(n, 0, rng)
    raw_insert(client, name + "raw", first)
    raw = size(name + "raw")
    client.drop_collection(DB, name + "raw")
    size(name + "raw")  # and gone again
    docs = DocumentCollection(name, client, db=DB, metric="cosine")
    started = time.perf_counter()
    docs.upsert(first)
    print(f"{label}: raw insert of {n} records: {raw / 1e6:.1f} MB")
    print(f"{label}: round  layer MB  layer/raw  vs round 1  seconds")
    after_first = None
    for version in range(1, rounds + 1):
        docs.upsert(records(n, version, rng))
        gone = [f"r{i}" for i in rng.choice(n, 20, replace=False)]
        docs.delete(gone)
        docs.upsert(records(20, version, rng, start=int(rng.integers(0, n - 20))))
        now = size(name)
        after_first = after_first or now
        if version in (1, 2, 5, 10, 20, 50, 100) or version == rounds:
            print(
                f"{label}: {version:5d}  {now / 1e6:8.1f}  {now / raw:9.2f}  {now / after_first:10.2f}"
                f"  {time.perf_counter() - started:7.1f}"
            )
    fresh = DocumentCollection(name, client, db=DB, metric="cosine")
    opened = time.perf_counter()
    count = fresh.count()
    print(f"{label}: a new store opened {count} records in {time.perf_counter() - opened:.2f} s")
    docs.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--snapshot-file", type=Path, default=None, help="the real server's RDB file")
    args = parser.parse_args()
    print(
        f"commit {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="rewrites-"))
    try:
        with (
            LiteServer(data_dir) as server,
            ScintireteClient(server.address, password=server.password) as client,
        ):

            def lite_size(name: str) -> int:
                if name.endswith("raw"):  # the raw records alone, as a snapshot; the layer as it runs
                    client.save()
                return directory_bytes(data_dir)

            run(client, args.records, args.rounds, lite_size, "lite data_dir")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    address = os.environ.get("SCINTIRETE_ADDRESS")
    if address:
        with ScintireteClient(address, password=os.environ.get("SCINTIRETE_PASSWORD"), timeout=600) as client:

            def real_size(name: str) -> int:
                if args.snapshot_file is None:
                    return 4 * server_floats(client, name)
                client.save()
                return args.snapshot_file.stat().st_size

            run(client, args.records, args.rounds, real_size, "real server")


if __name__ == "__main__":
    main()
