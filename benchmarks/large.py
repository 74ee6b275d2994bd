"""Large collections: ingest, disk, a fresh process's open, memory, latency and recall, per store.

    .venv-bench/bin/python benchmarks/large.py                     # --n 100000: ~1.2 KB of text per record
    .venv-bench/bin/python benchmarks/large.py --n 1000000 --text-bytes 200
    .venv-bench/bin/python benchmarks/large.py --n 5000 --stores scintirete-embedded --no-save
    .venv-bench/bin/python benchmarks/large.py --stores scintirete-embedded --no-save --keep DIR  # leaves the store

Stores, each persisted on disk and driven through its LangChain vector store:

- ``scintirete-embedded``: ``ScintireteVectorStore(embeddings, data_dir=...)`` (the embedded Lite server)
- ``scintirete-server``: the same store with ``address=$SCINTIRETE_ADDRESS`` (and
  ``$SCINTIRETE_PASSWORD``) and a ``view_cache=`` directory; skipped when that is not set. The
  collection is dropped at the end; "disk" is the client's view cache.
- ``chroma-persistent``: langchain-chroma's ``Chroma(persist_directory=...)``, cosine space
- ``qdrant-local``: langchain-qdrant on ``QdrantClient(path=...)`` (local mode), cosine

Data: N 384-d unit vectors resembling sentence embeddings: the 160 bundled all-MiniLM-L6-v2
passage vectors (``scintirete_integrations/data``) as topics, ``N // 64`` sub-topics drawn around
them and the records around those (``corpus.mixture``, two levels, so that every record has a
neighbourhood of its own); the queries come from the same mixture. Texts are ``--text-bytes``
characters (1,200 by default) cut from the bundled passages; metadata ``{"i": i, "g": i % 100}``;
ids are UUIDs. The ground truth is exact (numpy, ``corpus.exact_top_k``) over all records, and
over the records with ``g == 7`` (1 %) for the filtered queries.

Protocol, each step in a new process so that time and memory are its own:

1. ingest: ``add_texts(texts, metadatas, ids=...)`` ``--batch`` records per call into an empty
   store, then ``close()`` (the directory is released); the embeddings are a lookup of precomputed
   vectors, so no model cost is measured.
2. disk: the bytes the store's directory occupies on disk (allocated blocks, like ``du``).
3. a fresh process opens the store and runs one ``similarity_search_with_score(k=10)``; then
   ``--queries`` unfiltered and as many filtered (``g == 7`` in each store's native filter) k=10
   queries (each phase stops after ``--budget`` seconds, with at least 20 queries).

Columns:

- ingest docs/s: N / (time in add_texts + close); ingest peak RSS: the ingesting process's peak
  resident memory, including the input vectors it reads from (N x 1.5 KB)
- disk MB: the store's directory after ingest
- open + 1st query s: from constructing the store to the first query's results in a fresh
  process whose imports are done (their time is the "import s" in brackets)
- open peak RSS MB: that process's peak resident memory up to the first result (the interpreter
  and imports included; "after queries": its peak at the end)
- p50 / p95 ms and recall@10: the k=10 queries after the first, without and with the filter; the
  recall is the mean share of the exact top 10 found

Results merge into benchmarks/results/latest.json under "large" (rendered into latest.md).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import report
from corpus import DIM, K, LookupEmbeddings, doc_id, exact_top_k, mixture
from measure import peak_rss_mb, queries, rss_mb
from stores import Handle, Skipped

RESULTS = Path(__file__).resolve().parent / "results"
STORES = ("scintirete-embedded", "scintirete-server", "chroma-persistent", "qdrant-local")
COLLECTION = "large"
GROUPS = 100  # metadata g = i % GROUPS
FILTER_G = 7  # the filtered queries ask for g == 7: 1 % of the records
SUBTOPIC_SIZE = 64  # records per sub-topic of the mixture


# -- data -------------------------------------------------------------------------------------------


def make_vectors(n: int, count: int, seed: int = 19) -> tuple[np.ndarray, np.ndarray]:
    """``n`` records and ``count`` queries: MiniLM passage vectors -> sub-topics -> records."""
    from scintirete_integrations.demo import BundledEmbeddings, load_corpus

    topics = np.asarray(
        BundledEmbeddings().embed_documents([row["text"] for row in load_corpus()]), dtype=np.float32
    )
    rng = np.random.default_rng(seed)
    subtopics = mixture(rng, topics, max(len(topics), n // SUBTOPIC_SIZE))
    return mixture(rng, subtopics, n), mixture(rng, subtopics, count)


def text_source() -> str:
    """The bundled passages, joined: real English to cut the records' texts from."""
    from scintirete_integrations.demo import load_corpus

    return " ".join(row["text"] for row in load_corpus())


class Texts:
    """Text i: ``record i.`` and then ``size`` characters of the source from an offset that depends on i."""

    def __init__(self, source: str, size: int) -> None:
        self.size = size
        self.span = len(source)
        self.source = source * (size // len(source) + 2)  # any offset has ``size`` characters after it

    def __call__(self, i: int) -> str:
        start = (i * 7919) % self.span
        return f"record {i}. {self.source[start : start + self.size]}"


def prepare(work: Path, n: int, count: int, text_bytes: int) -> dict[str, float]:
    """Write the inputs every worker reads into ``work``; return the raw data's size in MB."""
    vectors, query_vectors = make_vectors(n, count)
    in_group = np.arange(FILTER_G, n, GROUPS)
    np.save(work / "vectors.npy", vectors)
    np.save(work / "queries.npy", query_vectors)
    np.save(work / "truth.npy", exact_top_k(vectors, query_vectors, K))
    np.save(work / "filtered_truth.npy", in_group[exact_top_k(vectors[in_group], query_vectors, K)])
    source = text_source()
    (work / "texts.txt").write_text(source)
    texts = Texts(source, text_bytes)
    sample = range(0, n, max(1, n // 1000))
    text_mb = np.mean([len(texts(i).encode()) for i in sample]) * n / 2**20
    meta_mb = np.mean([len(json.dumps(metadata(i))) for i in sample]) * n / 2**20
    vectors_mb = vectors.nbytes / 2**20
    return {
        "vectors_mb": vectors_mb,
        "text_mb": float(text_mb),
        "metadata_mb": float(meta_mb),
        "total_mb": float(vectors_mb + text_mb + meta_mb),
    }


def metadata(i: int) -> dict[str, int]:
    return {"i": i, "g": i % GROUPS}


def disk_mb(path: Path) -> float:
    """Space the files under ``path`` occupy (allocated blocks, as ``du`` counts them)."""
    if not path.exists():
        return 0.0
    total = sum(entry.lstat().st_blocks * 512 for entry in path.rglob("*") if not entry.is_symlink())
    return total / 2**20


# -- stores -----------------------------------------------------------------------------------------


def scintirete_embedded(embeddings: Any, directory: Path, collection: str, create: bool) -> Handle:
    from scintirete_integrations.langchain import ScintireteVectorStore

    store = ScintireteVectorStore(embeddings, collection_name=collection, data_dir=directory)
    handle = Handle(store, lambda g: {"g": g})
    handle.closers.append(store.close)
    return handle


def scintirete_server(embeddings: Any, directory: Path, collection: str, create: bool) -> Handle:
    from scintirete_integrations.langchain import ScintireteVectorStore

    address = os.environ.get("SCINTIRETE_ADDRESS")
    if not address:
        raise Skipped("SCINTIRETE_ADDRESS is not set")
    password = os.environ.get("SCINTIRETE_PASSWORD")
    store = ScintireteVectorStore(
        embeddings,
        collection_name=collection,
        address=address,
        password=password,
        view_cache=directory / "view-cache",  # how a user who wants a fast open configures it
    )
    handle = Handle(store, lambda g: {"g": g})
    handle.closers.append(store.close)
    return handle


def chroma_persistent(embeddings: Any, directory: Path, collection: str, create: bool) -> Handle:
    from langchain_chroma import Chroma

    store = Chroma(
        collection,
        embeddings,
        persist_directory=str(directory),
        collection_metadata={"hnsw:space": "cosine"},
    )
    return Handle(store, lambda g: {"g": g})


def qdrant_local(embeddings: Any, directory: Path, collection: str, create: bool) -> Handle:
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(directory))
    if create:
        client.create_collection(collection, models.VectorParams(size=DIM, distance=models.Distance.COSINE))

    def group_filter(g: int) -> models.Filter:
        return models.Filter(must=[models.FieldCondition(key="metadata.g", match=models.MatchValue(value=g))])

    handle = Handle(
        QdrantVectorStore(client, collection, embeddings, validate_collection_config=False), group_filter
    )
    handle.closers.append(client.close)
    return handle


FACTORIES: dict[str, Callable[[Any, Path, str, bool], Handle]] = {
    "scintirete-embedded": scintirete_embedded,
    "scintirete-server": scintirete_server,
    "chroma-persistent": chroma_persistent,
    "qdrant-local": qdrant_local,
}


# What each store's factory imports, timed apart from its open in the fresh process.
IMPORTS: dict[str, tuple[str, ...]] = {
    "scintirete-embedded": ("scintirete_integrations.langchain",),
    "scintirete-server": ("scintirete_integrations.langchain",),
    "chroma-persistent": ("langchain_chroma",),
    "qdrant-local": ("qdrant_client", "langchain_qdrant"),
}


def drop_server_collection(collection: str) -> None:
    """Remove what the run left on the real server."""
    from scintirete_integrations.langchain import ScintireteVectorStore

    address = os.environ["SCINTIRETE_ADDRESS"]
    password = os.environ.get("SCINTIRETE_PASSWORD")
    with ScintireteVectorStore(None, collection_name=collection, address=address, password=password) as store:
        store.delete_collection()


# -- the two measured steps, each in its own process --------------------------------------------------


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    vectors = np.load(work / "vectors.npy")
    texts = Texts((work / "texts.txt").read_text(), args.text_bytes)
    embeddings = LookupEmbeddings(vectors, {})  # the table is each batch's texts, set outside the clock
    gc.collect()
    out: dict[str, Any] = {"baseline_rss_mb": rss_mb()}
    handle = FACTORIES[args.worker](embeddings, work / args.worker, args.collection, True)
    adding = 0.0
    for start in range(0, args.n, args.batch):
        rows = range(start, min(args.n, start + args.batch))
        batch = [texts(i) for i in rows]
        embeddings.table = dict(zip(batch, rows, strict=True))
        metadatas = [metadata(i) for i in rows]
        ids = [doc_id(i) for i in rows]
        started = time.perf_counter()
        handle.store.add_texts(batch, metadatas, ids=ids)
        adding += time.perf_counter() - started
    started = time.perf_counter()
    handle.close()
    closing = time.perf_counter() - started
    out.update(
        add_s=adding,
        close_s=closing,
        docs_per_s=args.n / (adding + closing),
        peak_rss_mb=peak_rss_mb(),
    )
    return out


def open_and_query(args: argparse.Namespace) -> dict[str, Any]:
    """A fresh process: open the store, first query, then the query phases."""
    work = Path(args.work)
    query_vectors = np.load(work / "queries.npy")[: args.queries]
    truth = np.load(work / "truth.npy")
    filtered_truth = np.load(work / "filtered_truth.npy")
    query_texts = [f"query {j}" for j in range(len(query_vectors))]
    embeddings = LookupEmbeddings(query_vectors, {text: j for j, text in enumerate(query_texts)})
    factory = FACTORIES[args.worker]
    gc.collect()
    out: dict[str, Any] = {"baseline_rss_mb": rss_mb()}
    started = time.perf_counter()
    for module in IMPORTS[args.worker]:
        importlib.import_module(module)
    out["import_s"] = time.perf_counter() - started

    started = time.perf_counter()
    handle = factory(embeddings, work / args.worker, args.collection, False)
    first = handle.store.similarity_search_with_score(query_texts[0], k=K)
    out["open_first_query_s"] = time.perf_counter() - started
    out["since_process_start_s"] = time.time() - psutil.Process().create_time()
    out["open_peak_rss_mb"] = peak_rss_mb()
    found = {doc.metadata["i"] for doc, _ in first}
    out["first_query_recall"] = len(found & set(truth[0].tolist())) / K
    try:
        store = handle.store
        out["search"] = queries(
            lambda text: store.similarity_search_with_score(text, k=K), query_texts, truth, args.budget
        )
        native = handle.group_filter(FILTER_G)
        out["filtered"] = queries(
            lambda text: store.similarity_search_with_score(text, k=K, filter=native),
            query_texts,
            filtered_truth,
            args.budget,
        )
        out["peak_rss_mb"] = peak_rss_mb()
        out["rss_mb"] = rss_mb()
    finally:
        handle.close()
    return out


STEPS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {"ingest": ingest, "open": open_and_query}


def worker(args: argparse.Namespace) -> int:
    try:
        result = STEPS[args.step](args)
    except Skipped as exc:
        result = {"skipped": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}".strip()[:500]}
    Path(args.result).write_text(json.dumps(result))
    return 0


# -- the parent: one store after the other -------------------------------------------------------------


def run_step(args: argparse.Namespace, name: str, step: str, work: Path, collection: str) -> dict[str, Any]:
    out = work / f"{name}-{step}.json"
    command = [sys.executable, __file__, "--worker", name, "--step", step, "--work", str(work)]
    command += ["--collection", collection, "--result", str(out)]
    for option in ("n", "text_bytes", "batch", "queries", "budget"):
        command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]  # the 1-minute load, every few seconds: the machine may be shared
    with subprocess.Popen(command) as process:
        while process.poll() is None:
            if time.perf_counter() - started > args.timeout:
                process.kill()
                process.wait()
                return {"error": f"{step} did not finish within {args.timeout:.0f} s"}
            time.sleep(0.5 if time.perf_counter() - started < 10 else 5)
            loads.append(os.getloadavg()[0])
    if not out.exists():
        return {"error": f"{step} exited with code {process.returncode} and no result"}
    result: dict[str, Any] = json.loads(out.read_text())
    result["wall_s"] = time.perf_counter() - started
    result["load_max"] = round(max(loads), 2)
    return result


def run_store(args: argparse.Namespace, name: str, work: Path) -> dict[str, Any]:
    collection = f"{COLLECTION}_{uuid.uuid4().hex[:8]}" if name == "scintirete-server" else COLLECTION
    if name == "scintirete-server" and not os.environ.get("SCINTIRETE_ADDRESS"):
        return {"skipped": "SCINTIRETE_ADDRESS is not set"}
    result: dict[str, Any] = {}
    try:
        ingested = run_step(args, name, "ingest", work, collection)
        if "error" in ingested or "skipped" in ingested:
            return ingested
        result["ingest"] = ingested
        result["disk_mb"] = disk_mb(work / name)
        opened = run_step(args, name, "open", work, collection)
        if "error" in opened or "skipped" in opened:
            return {**result, "error": f"open: {opened.get('error') or opened.get('skipped')}"}
        result["open"] = opened
        result["disk_after_open_mb"] = disk_mb(work / name)
    finally:
        result["load_after"] = [round(x, 2) for x in os.getloadavg()]
        if not args.keep:
            shutil.rmtree(work / name, ignore_errors=True)
        if name == "scintirete-server" and os.environ.get("SCINTIRETE_ADDRESS"):
            try:
                drop_server_collection(collection)
            except Exception as exc:
                result["cleanup_error"] = f"{type(exc).__name__}: {exc}"[:300]
    return result


# -- the report ----------------------------------------------------------------------------------------


def one_line(name: str, result: dict[str, Any]) -> str:
    if "error" in result or "skipped" in result:
        return f"   {name}: {result.get('error') or 'skipped: ' + result['skipped']}"
    opened, search = result["open"], result["open"]["search"]
    return (
        f"   {name}: ingest {result['ingest']['docs_per_s']:,.0f} docs/s, open + 1st query "
        f"{opened['open_first_query_s']:.2f} s, peak RSS {opened['open_peak_rss_mb']:,.0f} MB, "
        f"p50 {search['p50_ms']:.2f} ms recall {search['recall_at_10']:.3f}; load {result['load_after']}"
    )


def _row(name: str, result: dict[str, Any]) -> str:
    if "error" in result or "skipped" in result:
        why = f"FAILED: {result['error']}" if "error" in result else f"skipped: {result['skipped']}"
        return f"| {name} | {why} |" + " |" * 10
    ingest_, opened = result["ingest"], result["open"]
    search, filtered = opened["search"], opened["filtered"]
    disk = "-" if result["disk_mb"] is None else f"{result['disk_mb']:,.0f}"
    return (
        f"| {name} | {ingest_['docs_per_s']:,.0f} | {ingest_['peak_rss_mb']:,.0f} | {disk} "
        f"| {opened['open_first_query_s']:.2f} ({opened['import_s']:.2f}) | {opened['first_query_recall']:.1f} "
        f"| {opened['open_peak_rss_mb']:,.0f} ({opened['peak_rss_mb']:,.0f}) "
        f"| {search['p50_ms']:.2f} / {search['p95_ms']:.2f} | {search['recall_at_10']:.3f} "
        f"| {filtered['p50_ms']:.2f} / {filtered['p95_ms']:.2f} | {filtered['recall_at_10']:.3f} "
        f"| {filtered['mean_hits']:.1f} ({filtered['min_hits']}) |"
    )


def render(section: dict[str, Any]) -> str:
    machine, raw = section["machine"], section["raw_data"]
    command = f"--n {section['n']} --text-bytes {section['text_bytes']}"
    lines = [
        f"## Large collection: {section['n']:,} records x {DIM} dims, {section['text_bytes']:,}-byte texts",
        "",
        f"{section['date']}, {machine['cpu']} ({machine['cores']} cores, {machine['memory_gb']} GB); commit "
        f"{section['commit']}{' (+ uncommitted changes)' if section.get('worktree_dirty') else ''}; "
        f"load average (1/5/15 min) {section['load_start']} at start, {section.get('load_end')} at end.",
        f"Command: `.venv-bench/bin/python benchmarks/large.py {command}` "
        f"(add_texts {section['batch']:,} per call, {section['queries']} queries per phase).",
        f"Raw data: vectors {raw['vectors_mb']:,.0f} MB + texts {raw['text_mb']:,.0f} MB + metadata "
        f"{raw['metadata_mb']:,.1f} MB = {raw['total_mb']:,.0f} MB.",
        "",
        "| store | ingest docs/s | ingest peak RSS MB | disk MB | open + 1st query s (import s) "
        "| 1st query recall@10 | open peak RSS MB (after queries) | top-10 p50 / p95 ms | recall@10 "
        "| filtered 1% p50 / p95 ms | filtered recall@10 | filtered hits mean (min) |",
        "|---|" + "---:|" * 11,
    ]
    lines += [_row(name, result) for name, result in section["stores"].items()]
    notes = []
    for name, result in section["stores"].items():
        opened = result.get("open", {})
        for phase in ("search", "filtered"):
            ran = opened.get(phase, {}).get("queries")
            if ran is not None and ran < section["queries"]:
                notes.append(
                    f"{name}: {phase} stopped after {ran} of {section['queries']} queries "
                    f"(the {section['budget']:.0f} s budget)"
                )
        before, after = result.get("disk_mb"), result.get("disk_after_open_mb")
        if before and after and abs(after - before) > 0.1 * before:
            notes.append(
                f"{name}: its directory went from {before:,.0f} MB to {after:,.0f} MB in the open step"
            )
        peaks = [
            result[step]["load_max"] for step in ("ingest", "open") if "load_max" in result.get(step, {})
        ]
        if "load_after" in result:
            highest = f", the 1-minute load peaked at {max(peaks)} while it ran" if peaks else ""
            notes.append(f"{name}: load average {result['load_after']} when it finished{highest}")
    lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="records (default: 100000)")
    parser.add_argument("--stores", help=f"comma-separated subset of: {', '.join(STORES)}")
    parser.add_argument("--queries", type=int, default=200, help="queries per phase (default: 200)")
    parser.add_argument("--batch", type=int, default=1000, help="records per add_texts call (default: 1000)")
    parser.add_argument("--text-bytes", type=int, default=1200, help="characters of text per record")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per query phase (default: 60)")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds per step before giving up")
    parser.add_argument("--workdir", help="where the stores' directories go (default: the system temp dir)")
    parser.add_argument("--no-save", action="store_true", help="print only; leave results/ alone")
    parser.add_argument("--keep", help="keep the data and the stores' directories in this directory")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--step", choices=list(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--collection", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    names = args.stores.split(",") if args.stores else list(STORES)
    unknown = set(names) - set(STORES)
    if unknown:
        parser.error(f"unknown stores: {', '.join(sorted(unknown))}")
    if not 0 < args.queries <= 10_000:
        parser.error("--queries must be between 1 and 10000")
    section = report.environment()
    section.update(
        n=args.n, text_bytes=args.text_bytes, batch=args.batch, queries=args.queries, budget=args.budget
    )
    print(f"load average at start: {section['load_start']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="large-bench-", dir=args.workdir) as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        section["raw_data"] = prepare(work, args.n, args.queries, args.text_bytes)
        print(f"data and exact ground truth: {time.perf_counter() - started:.1f} s", flush=True)
        section["stores"] = {}
        for name in names:
            print(f"== {name}", flush=True)
            section["stores"][name] = run_store(args, name, work)
            print(one_line(name, section["stores"][name]), flush=True)
    section["load_end"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print(render(section))
    if not args.no_save:
        report.save(RESULTS, "large", section, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
