"""The synthetic corpus every store is measured on, rebuilt identically from seeds in each process.

N short documents with metadata ``{"i", "group", "score", "tags"}`` and L2-normalised 384-d
vectors drawn from a clustered Gaussian mixture; 200 queries from the same mixture; the exact
top-10 of each query (all documents, and only group "g3") by numpy in float64.
:class:`LookupEmbeddings` hands the precomputed vectors to the stores, so no model cost is measured.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

DIM = 384
QUERIES = 200
K = 10
GROUPS = [f"g{g}" for g in range(10)]
FILTER_GROUP = "g3"
_CLUSTERS = 64
_SPREAD = 0.6  # noise around a cluster centre, relative to the centre's unit norm
_TAGS = ["red", "green", "blue", "news", "blog", "paper", "code", "faq", "wiki", "mail", "chat", "misc"]
_WORDS = ["vector", "index", "query", "cluster", "store", "search", "graph", "shard", "filter", "record"]


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def mixture(rng: np.random.Generator, centres: np.ndarray, count: int) -> np.ndarray:
    """``count`` unit vectors around randomly chosen ``centres`` (float32, built in chunks)."""
    out = np.empty((count, centres.shape[1]), dtype=np.float32)
    for start in range(0, count, 8192):
        stop = min(count, start + 8192)
        rows = rng.standard_normal((stop - start, centres.shape[1]), dtype=np.float32)
        rows *= _SPREAD / np.sqrt(centres.shape[1])
        rows += centres[rng.integers(0, len(centres), stop - start)]
        out[start:stop] = unit_rows(rows)
    return out


def doc_id(i: int) -> str:
    """A UUID string: the one id format every peer accepts (langchain-qdrant needs UUIDs)."""
    return str(uuid.UUID(int=i + 1))


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k rows with the highest cosine similarity (rows are unit vectors), best first.

    float32 picks 5k candidates per query, float64 ranks them: exact, without a float64 copy of the corpus.
    """
    pool = min(len(vectors), 5 * k)
    out = np.empty((len(queries), k), dtype=np.int64)
    for j, query in enumerate(queries):
        candidates = np.argpartition(-(vectors @ query), pool - 1)[:pool]
        sims = vectors[candidates].astype(np.float64) @ query.astype(np.float64)
        out[j] = candidates[np.argsort(-sims, kind="stable")[:k]]
    return out


@dataclass
class Corpus:
    n: int
    vectors: np.ndarray  # (n, DIM) float32, unit rows
    texts: list[str]
    metadatas: list[dict[str, Any]]
    ids: list[str]
    query_vectors: np.ndarray  # (QUERIES, DIM)
    query_texts: list[str]
    truth: np.ndarray = field(repr=False)  # (QUERIES, K) document indices
    filtered_truth: np.ndarray = field(repr=False)  # the same among FILTER_GROUP only

    def embeddings(self) -> LookupEmbeddings:
        table = dict(zip(self.texts, range(self.n), strict=True))
        table.update({text: self.n + j for j, text in enumerate(self.query_texts)})
        return LookupEmbeddings(np.concatenate([self.vectors, self.query_vectors]), table)


def build(n: int, seed: int = 7) -> Corpus:
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.standard_normal((_CLUSTERS, DIM), dtype=np.float32))
    vectors = mixture(rng, centres, n)
    query_vectors = mixture(rng, centres, QUERIES)
    groups = rng.integers(0, len(GROUPS), n)
    scores = rng.random(n)
    tag_pairs = rng.integers(0, len(_TAGS), (n, 2))
    words = rng.integers(0, len(_WORDS), (n, 3))
    texts = [f"doc {i}: {' '.join(_WORDS[w] for w in words[i])}" for i in range(n)]
    metadatas = [
        {
            "i": i,
            "group": GROUPS[groups[i]],
            "score": round(float(scores[i]), 4),
            "tags": [_TAGS[tag_pairs[i, 0]], _TAGS[tag_pairs[i, 1]]],
        }
        for i in range(n)
    ]
    in_group = np.flatnonzero(groups == GROUPS.index(FILTER_GROUP))
    return Corpus(
        n=n,
        vectors=vectors,
        texts=texts,
        metadatas=metadatas,
        ids=[doc_id(i) for i in range(n)],
        query_vectors=query_vectors,
        query_texts=[f"query {j}" for j in range(QUERIES)],
        truth=exact_top_k(vectors, query_vectors, K),
        filtered_truth=in_group[exact_top_k(vectors[in_group], query_vectors, K)],
    )


class LookupEmbeddings(Embeddings):
    """Text -> precomputed vector. Unknown texts are an error: every text a store sees is known."""

    def __init__(self, vectors: np.ndarray, table: dict[str, int]) -> None:
        self.vectors = vectors
        self.table = table

    def alias(self, text: str, same_as: str) -> None:
        """Let ``text`` embed like ``same_as`` (for upserts that change a document's text)."""
        self.table[text] = self.table[same_as]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        rows: list[list[float]] = self.vectors[[self.table[t] for t in texts]].tolist()
        return rows

    def embed_query(self, text: str) -> list[float]:
        row: list[float] = self.vectors[self.table[text]].tolist()
        return row

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def numpy_exact_ms(corpus: Corpus, k: int = K) -> list[float]:
    """Per-query latency of bare numpy exact search (float32 matvec + partial sort): the physical limit."""
    import time

    latencies = []
    for query in corpus.query_vectors:
        started = time.perf_counter()
        sims = corpus.vectors @ query
        top = np.argpartition(-sims, k - 1)[:k]
        top[np.argsort(-sims[top])]
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def recall(found: Sequence[int], truth: np.ndarray) -> float:
    return len(set(found) & set(truth.tolist())) / len(truth)
