"""The measurement protocol for one store, run in a process of its own so that its memory is its own.

Order: ingest, unfiltered queries, filtered queries, (ours: adapter overhead and async
throughput), get_by_ids, upsert of existing ids, delete, then queries again after those writes.
Query phases stop early after ``budget`` seconds (at least 20 queries) so slow peers fit the run;
the ``queries`` field of each phase says how many ran.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import psutil
from corpus import FILTER_GROUP, QUERIES, Corpus, K, LookupEmbeddings, numpy_exact_ms, recall
from stores import Handle

BATCH = 256
WRITE_IDS = 1000
WRITE_ROUNDS = 3
MIN_QUERIES = 20
ASYNC_LEVELS = (1, 8, 32)


def summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    values = np.asarray(latencies_ms)
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
    }


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def rss_mb(pid: int | None = None) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory of this process (or of ``pid``, read from /proc on Linux)."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss_mb(pid)


def ingest(handle: Handle, corpus: Corpus) -> dict[str, float]:
    """add_texts with ids, BATCH documents per call; metadata dicts are copied outside the clock."""
    elapsed = 0.0
    for start in range(0, corpus.n, BATCH):
        stop = start + BATCH
        metadatas = [dict(m) for m in corpus.metadatas[start:stop]]
        texts, ids = corpus.texts[start:stop], corpus.ids[start:stop]
        started = time.perf_counter()
        handle.store.add_texts(texts, metadatas, ids=ids)
        elapsed += time.perf_counter() - started
    return {"seconds": elapsed, "docs_per_s": corpus.n / elapsed}


def queries(
    search: Callable[[str], list[Any]], query_texts: Sequence[str], truth: np.ndarray | None, budget: float
) -> dict[str, float]:
    """Run the queries (until ``budget`` seconds), checking each result against ``truth``.

    ``truth[j]`` holds the indices (``metadata["i"]``) of query j's exact top k.
    """
    for text in query_texts[:3]:  # warm-up
        search(text)
    latencies: list[float] = []
    recalls: list[float] = []
    hits: list[int] = []
    started = time.perf_counter()
    for j, text in enumerate(query_texts):
        if j >= MIN_QUERIES and time.perf_counter() - started > budget:
            break
        started_one = time.perf_counter()
        results = search(text)
        latencies.append((time.perf_counter() - started_one) * 1000)
        found = [doc.metadata["i"] for doc, _ in results]
        hits.append(len(found))
        if truth is not None:
            recalls.append(recall(found, truth[j]))
    out = {"queries": len(latencies), **summary(latencies), "mean_hits": float(np.mean(hits))}
    out["min_hits"] = min(hits)
    if recalls:
        out["recall_at_10"] = float(np.mean(recalls))
    return out


def adapter_overhead(handle: Handle, corpus: Corpus, embeddings: LookupEmbeddings) -> dict[str, float]:
    """The bare client's search vs the store's similarity_search on the same collection, interleaved."""
    assert handle.raw_search is not None
    raw: list[float] = []
    store: list[float] = []
    for text in corpus.query_texts[:5]:
        handle.raw_search(embeddings.embed_query(text), K)
        handle.store.similarity_search(text, k=K)
    for text in corpus.query_texts:
        vector = embeddings.embed_query(text)
        raw.append(timed(lambda vector=vector: handle.raw_search(vector, K)))
        store.append(timed(lambda text=text: handle.store.similarity_search(text, k=K)))
    raw_p50, store_p50 = float(np.median(raw)), float(np.median(store))
    return {"raw_p50_ms": raw_p50, "store_p50_ms": store_p50, "overhead": store_p50 / raw_p50 - 1}


def cpu_seconds(pids: Sequence[int | None]) -> float:
    """User + system CPU time used so far by these processes (None: this one)."""
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def async_throughput(handle: Handle, corpus: Corpus, per_level: int = 400) -> dict[str, float]:
    """Queries per second of asimilarity_search with 1, 8 and 32 calls in flight (one event loop).

    Also the CPU time (client + server process) per query at each level: with C cores, no
    concurrency can beat C x latency / CPU-per-query times the sequential rate.
    """
    pids = [None, handle.server_pid]

    async def level(in_flight: int) -> tuple[float, float]:
        todo = iter(range(per_level))

        async def worker() -> None:
            for j in todo:
                await handle.store.asimilarity_search(corpus.query_texts[j % QUERIES], k=K)

        cpu = cpu_seconds(pids)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
        return per_level / elapsed, (cpu_seconds(pids) - cpu) * 1000 / per_level

    async def all_levels() -> dict[str, float]:
        for text in corpus.query_texts[:10]:
            await handle.store.asimilarity_search(text, k=K)
        out: dict[str, float] = {}
        for n in ASYNC_LEVELS:
            out[f"qps_{n}"], out[f"cpu_ms_per_query_{n}"] = await level(n)
        return out

    return asyncio.run(all_levels())


def _id_rounds(corpus: Corpus, part: int, size: int, rounds: int) -> list[list[int]]:
    """``rounds`` disjoint sets of ``size`` document indices; part 0 and part 1 never overlap."""
    order = np.random.default_rng(11).permutation(corpus.n)
    size = min(size, corpus.n // (2 * rounds))  # smaller only for a smoke test on a tiny corpus
    start = part * rounds * size
    return [order[start + r * size : start + (r + 1) * size].tolist() for r in range(rounds)]


def writes(handle: Handle, corpus: Corpus, embeddings: LookupEmbeddings) -> dict[str, float]:
    """get_by_ids(100) and (1,000), upsert of 1,000 existing ids, delete of 1,000 ids: medians of rounds."""
    store = handle.store
    out: dict[str, float] = {}
    for size, rounds in ((100, 5), (WRITE_IDS, WRITE_ROUNDS)):
        times = []
        for picked in _id_rounds(corpus, 0, size, rounds):
            ids = [corpus.ids[i] for i in picked]
            started = time.perf_counter()
            got = store.get_by_ids(ids)
            times.append((time.perf_counter() - started) * 1000)
            if len(got) != len(ids):
                raise AssertionError(f"get_by_ids({len(ids)} ids) returned {len(got)} documents")
        out[f"get_{size}_ms"] = float(np.median(times))

    times = []
    for picked in _id_rounds(corpus, 0, WRITE_IDS, WRITE_ROUNDS):
        texts = [corpus.texts[i] + " (v2)" for i in picked]
        for i, text in zip(picked, texts, strict=True):
            embeddings.alias(text, corpus.texts[i])
        metadatas = [{**corpus.metadatas[i], "score": -1.0} for i in picked]
        ids = [corpus.ids[i] for i in picked]

        def upsert(ids: list[str] = ids, texts: list[str] = texts, metadatas: Any = metadatas) -> None:
            if not handle.upsert_replaces:
                store.delete(ids)
            store.add_texts(texts, metadatas, ids=ids)

        times.append(timed(upsert))
    out["upsert_1000_ms"] = float(np.median(times))

    times = []
    for picked in _id_rounds(corpus, 1, WRITE_IDS, WRITE_ROUNDS):
        ids = [corpus.ids[i] for i in picked]
        times.append(timed(lambda ids=ids: store.delete(ids)))
    out["delete_1000_ms"] = float(np.median(times))
    return out


def measure(
    name: str, factory: Callable[[Any], Handle], corpus: Corpus, budget: float, ours: bool
) -> dict[str, Any]:
    embeddings = corpus.embeddings()
    gc.collect()
    result: dict[str, Any] = {"baseline_rss_mb": rss_mb()}
    if ours:  # the physical limit, measured close in time to our queries (before Lite pins BLAS threads)
        result["numpy_exact"] = summary(numpy_exact_ms(corpus))
    handle = factory(embeddings)
    try:
        store = handle.store
        result["ingest"] = ingest(handle, corpus)
        result["search"] = queries(
            lambda text: store.similarity_search_with_score(text, k=K),
            corpus.query_texts,
            corpus.truth,
            budget,
        )
        native = handle.group_filter(FILTER_GROUP)
        result["filtered"] = queries(
            lambda text: store.similarity_search_with_score(text, k=K, filter=native),
            corpus.query_texts,
            corpus.filtered_truth,
            budget,
        )
        if ours:
            result["adapter"] = adapter_overhead(handle, corpus, embeddings)
            if handle.server_pid is not None:
                try:
                    result["async"] = async_throughput(handle, corpus)
                except Exception as exc:  # reported beside the other numbers, which still count
                    result["async"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        result["ops"] = writes(handle, corpus, embeddings)
        result["search_after_writes"] = queries(
            lambda text: store.similarity_search_with_score(text, k=K), corpus.query_texts, None, budget / 3
        )
        result["peak_rss_mb"] = peak_rss_mb()
        if handle.server_pid is not None:
            result["server_peak_rss_mb"] = peak_rss_mb(handle.server_pid)
        result["notes"] = handle.notes
    finally:
        handle.close()
    return result
