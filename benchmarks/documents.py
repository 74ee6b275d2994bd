"""The document layer on a 100,000-record collection, beside langchain-qdrant in local mode.

    .venv-bench/bin/python benchmarks/documents.py            # --n 100000 by default

Records: 384-d vectors, ~1 KB of text each, metadata {"i", "bucket": i % 100}. Ours is a
DocumentCollection on a separate ``scintirete-lite`` process; the peer is QdrantVectorStore on
QdrantClient(":memory:"). Each side runs in its own process. "Client memory" for ours is the RSS
growth of a fresh process whose only work is its first read of the collection (the view it
keeps); for langchain-qdrant local mode the client is the database, so it is the RSS growth of
ingesting. Results merge into benchmarks/results/latest.json under "documents".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import report
from corpus import DIM, K, doc_id, mixture, unit_rows
from measure import peak_rss_mb, rss_mb, summary, timed

RESULTS = Path(__file__).resolve().parent / "results"
BUCKET = 7  # metadata bucket == 7: 1% of the records
QUERIES = 100
ROUNDS = 3


class Data:
    """Records and queries, rebuilt identically from a seed in every process."""

    def __init__(self, n: int, seed: int = 5) -> None:
        rng = np.random.default_rng(seed)
        centres = unit_rows(rng.standard_normal((64, DIM), dtype=np.float32))
        self.n = n
        self.vectors = mixture(rng, centres, n)
        self.queries = mixture(rng, centres, QUERIES)
        words = np.array(
            [
                "the",
                "a",
                "vector",
                "store",
                "keeps",
                "records",
                "and",
                "text",
                "of",
                "many",
                "kinds",
                "for",
                "search",
            ]
        )
        block = " ".join(words[rng.integers(0, len(words), 40_000)])
        self.texts = [f"record {i}. {block[(i * 7919) % 100_000 :][:1000]}" for i in range(n)]
        self.ids = [doc_id(i) for i in range(n)]
        self.metadatas = [{"i": i, "bucket": i % 100} for i in range(n)]
        order = np.random.default_rng(3).permutation(n)
        self.get_ids = [[self.ids[i] for i in order[r * 100 : (r + 1) * 100]] for r in range(5)]
        self.upsert_rows = [order[1000 + r * 1000 : 2000 + r * 1000].tolist() for r in range(ROUNDS)]
        self.delete_rows = [order[5000 + r * 1000 : 6000 + r * 1000].tolist() for r in range(ROUNDS)]


def median_ms(calls: list[Callable[[], Any]]) -> float:
    return float(np.median([timed(call) for call in calls]))


def searches(search: Callable[[np.ndarray], list[Any]], data: Data) -> dict[str, float]:
    for query in data.queries[:3]:
        search(query)
    return summary([timed(lambda query=query: search(query)) for query in data.queries])


def ours(n: int) -> dict[str, Any]:
    from stores import lite_process

    from scintirete_integrations import ScintireteClient
    from scintirete_integrations.documents import DocumentCollection, Record

    data = Data(n)
    with lite_process() as lite:
        docs = DocumentCollection("docs", ScintireteClient(lite.address, password=lite.password))
        started = time.perf_counter()
        for start in range(0, n, 1000):
            rows = range(start, min(n, start + 1000))
            docs.upsert(Record(data.ids[i], data.texts[i], data.vectors[i], data.metadatas[i]) for i in rows)
        out: dict[str, Any] = {"ingest_docs_per_s": n / (time.perf_counter() - started)}
        out.update(_fresh_reader(lite.address, lite.password))
        out["search"] = searches(lambda q: docs.search(q, k=K), data)
        out["filtered"] = searches(lambda q: docs.search(q, k=K, filter={"bucket": BUCKET}), data)
        out["get_100_ms"] = median_ms([lambda ids=ids: docs.get(ids) for ids in data.get_ids])
        out["upsert_1000_ms"] = median_ms(
            [
                lambda rows=rows: docs.upsert(
                    Record(data.ids[i], data.texts[i] + " v2", data.vectors[i], data.metadatas[i])
                    for i in rows
                )
                for rows in data.upsert_rows
            ]
        )
        out["delete_1000_ms"] = median_ms(
            [lambda rows=rows: docs.delete(data.ids[i] for i in rows) for rows in data.delete_rows]
        )
        out["server_rss_mb"] = rss_mb(lite.pid)
    return out


def _fresh_reader(address: str, password: str) -> dict[str, float]:
    """A new process's RSS growth (MB) through its first read: the view it then holds, and the peak."""
    env = {**os.environ, "BENCH_ADDRESS": address, "BENCH_PASSWORD": password}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", "reader"], env=env, capture_output=True, text=True, check=True
    )
    held, peak = done.stdout.strip().splitlines()[-1].split()
    return {"client_memory_mb": float(held), "client_peak_mb": float(peak)}


def reader() -> None:
    import gc

    from scintirete_integrations import ScintireteClient
    from scintirete_integrations.documents import DocumentCollection

    client = ScintireteClient(os.environ["BENCH_ADDRESS"], password=os.environ["BENCH_PASSWORD"])
    client.ping()
    gc.collect()
    before = rss_mb()
    docs = DocumentCollection("docs", client)
    docs.count()  # the first read scans the collection into the view
    gc.collect()
    print(rss_mb() - before, peak_rss_mb() - before)
    docs.count()  # keeps the view alive until after the measurement


def qdrant(n: int) -> dict[str, Any]:
    from corpus import LookupEmbeddings
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient, models

    data = Data(n)
    table = {text: i for i, text in enumerate(data.texts)}
    table.update({text + " v2": i for i, text in enumerate(data.texts)})
    embeddings = LookupEmbeddings(data.vectors, table)
    before = rss_mb()
    client = QdrantClient(":memory:")
    client.create_collection("docs", models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    store = QdrantVectorStore(client, "docs", embeddings, validate_collection_config=False)
    started = time.perf_counter()
    for start in range(0, n, 1000):
        stop = min(n, start + 1000)
        store.add_texts(data.texts[start:stop], data.metadatas[start:stop], ids=data.ids[start:stop])
    out: dict[str, Any] = {"ingest_docs_per_s": n / (time.perf_counter() - started)}
    out["client_memory_mb"] = rss_mb() - before
    out["client_peak_mb"] = peak_rss_mb() - before
    bucket = models.Filter(
        must=[models.FieldCondition(key="metadata.bucket", match=models.MatchValue(value=BUCKET))]
    )
    out["search"] = searches(lambda q: store.similarity_search_with_score_by_vector(q.tolist(), k=K), data)
    out["filtered"] = searches(
        lambda q: store.similarity_search_with_score_by_vector(q.tolist(), k=K, filter=bucket), data
    )
    out["get_100_ms"] = median_ms([lambda ids=ids: store.get_by_ids(ids) for ids in data.get_ids])
    out["upsert_1000_ms"] = median_ms(
        [
            lambda rows=rows: store.add_texts(
                [data.texts[i] + " v2" for i in rows],
                [data.metadatas[i] for i in rows],
                ids=[data.ids[i] for i in rows],
            )
            for rows in data.upsert_rows
        ]
    )
    out["delete_1000_ms"] = median_ms(
        [lambda rows=rows: store.delete([data.ids[i] for i in rows]) for rows in data.delete_rows]
    )
    return out


SIDES: dict[str, Callable[[int], dict[str, Any]]] = {"scintirete": ours, "langchain-qdrant local": qdrant}


def render(section: dict[str, Any]) -> str:
    sides = section["sides"]
    header = " | ".join(sides)
    lines = [
        f"## Document layer: {section['n']:,} records x 384 dims, ~1 KB text each",
        "",
        f"{section['date']}, {section['machine']['cpu']} ({section['machine']['cores']} cores); commit "
        f"{section['commit']}; load average {section['load_start']} at start, {section['load_end']} at end.",
        "Command: `.venv-bench/bin/python benchmarks/documents.py`",
        "",
        f"| operation | {header} |",
        "|---|" + "---:|" * len(sides),
    ]
    rows = [
        ("ingest docs/s (1,000 per call)", lambda r: f"{r['ingest_docs_per_s']:,.0f}"),
        ("top-10 p50 / p95 ms", lambda r: f"{r['search']['p50_ms']:.2f} / {r['search']['p95_ms']:.2f}"),
        (
            "top-10, filter 1% p50 / p95 ms",
            lambda r: f"{r['filtered']['p50_ms']:.2f} / {r['filtered']['p95_ms']:.2f}",
        ),
        ("get 100 ids ms", lambda r: f"{r['get_100_ms']:.2f}"),
        ("upsert 1,000 existing ids ms", lambda r: f"{r['upsert_1000_ms']:.1f}"),
        ("delete 1,000 ids ms", lambda r: f"{r['delete_1000_ms']:.1f}"),
        (
            "memory the client holds MB (peak growth while filling it)",
            lambda r: f"{r['client_memory_mb']:,.0f} ({r['client_peak_mb']:,.0f})",
        ),
    ]
    for label, cell in rows:
        cells = [
            cell(result) if "error" not in result else f"FAILED: {result['error']}"
            for result in sides.values()
        ]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    server = sides.get("scintirete", {}).get("server_rss_mb")
    if server is not None:
        lines += ["", f"The scintirete-lite server process itself held {server:,.0f} MB RSS at the end."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="records (default: 100000)")
    parser.add_argument("--no-save", action="store_true", help="print only; leave results/ alone")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "reader":
        reader()
        return 0
    if args.worker:
        try:
            result = SIDES[args.worker](args.n)
        except Exception as exc:
            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        Path(args.result).write_text(json.dumps(result))
        return 0

    section = report.environment()
    section["n"] = args.n
    section["sides"] = {}
    for side in SIDES:
        print(f"== {side}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "result.json"
            command = [sys.executable, __file__, "--worker", side, "--n", str(args.n), "--result", str(out)]
            code = subprocess.run(command).returncode
            result = json.loads(out.read_text()) if out.exists() else {"error": f"exit code {code}"}
        section["sides"][side] = result
    section["load_end"] = [round(x, 2) for x in os.getloadavg()]
    print(render(section))
    if not args.no_save:
        report.save(RESULTS, "documents", section, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
