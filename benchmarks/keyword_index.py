"""Build time, memory and query latency of the BM25 keyword index on synthetic ~1 KB records.

The texts are seeded and Zipf-distributed over a 200,000-word made-up vocabulary (a long
tail like real text: most words are rare), with identifiers mixed in (``ERR_4031``,
``snake_case_names``, ``camelCaseNames``, ``v2.1.3``). Reported: one bulk ``put`` of every
record, the process's RSS growth (texts are built before measuring), single-record
replaces and removes, and query latency for 1-, 2- and 5-word queries. Then the same
replaces are checked against an index built afresh from the final texts: the scores must be
equal. With ``--bm25s`` and bm25s installed, its index build time on the same tokens is shown
too, the cost it would pay per write, since it cannot update an index in place.

    .venv/bin/python benchmarks/keyword_index.py --n 100000
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from collections import Counter

import numpy as np

from scintirete_integrations.documents.keyword import KeywordIndex, analyze

_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ["a", "e", "i", "o", "u", "ai", "ou", "ea"]]


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        count = int(rng.integers(1, 5))
        words.add("".join(_SYLLABLES[i] for i in rng.integers(0, len(_SYLLABLES), count)))
    return sorted(words)


def identifier(rng: np.random.Generator, words: list[str]) -> str:
    kind = int(rng.integers(0, 4))
    a, b, c = (words[i] for i in rng.integers(0, 2000, 3))
    if kind == 0:
        return f"ERR_{int(rng.integers(1000, 10000))}"
    if kind == 1:
        return f"{a}_{b}_{c}"
    if kind == 2:
        return a + b.capitalize() + c.capitalize()
    return f"v{int(rng.integers(0, 10))}.{int(rng.integers(0, 30))}.{int(rng.integers(0, 30))}"


def texts(n: int, seed: int = 11, target_bytes: int = 1000) -> list[str]:
    rng = np.random.default_rng(seed)
    words = vocabulary(rng, 200_000)
    cumulative = np.cumsum(1.0 / np.arange(1, len(words) + 1, dtype=np.float64) ** 1.07)
    cumulative /= cumulative[-1]
    out = []
    for start in range(0, n, 1000):
        draws = np.searchsorted(cumulative, rng.random((min(1000, n - start), 200)))
        for row in draws:
            tokens = [words[i] for i in row]
            for position in rng.integers(0, len(tokens), 3):
                tokens[position] = identifier(rng, words)
            text = ""
            for j in range(0, len(tokens), 12):
                sentence = " ".join(tokens[j : j + 12])
                text += sentence[:1].upper() + sentence[1:] + ". "
                if len(text) >= target_bytes:
                    break
            out.append(text.strip())
    return out


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} ms, p95 {np.percentile(values, 95):.2f} ms"


def footprint(index: KeywordIndex) -> int:
    """Bytes the index holds itself: arrays, vocabulary, id table (id strings are the caller's)."""
    arrays = [index._lengths, index._live]
    for segment in index._segments:
        arrays += [segment.terms, segment.starts, segment.slots, segment.tfs]
    size = sum(a.nbytes for a in arrays)
    size += sys.getsizeof(index._vocabulary) + sys.getsizeof(index._vocabulary.terms)
    size += sum(sys.getsizeof(term) for term in index._vocabulary.terms)
    return size + sys.getsizeof(index._slot_of) + sys.getsizeof(index._ids)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=1000, help="single-record replaces, then removes")
    parser.add_argument("--bm25s", action="store_true", help="also time bm25s's index build")
    args = parser.parse_args()
    print(f"# keyword index, {args.n:,} records: commit {commit()}, load average {os.getloadavg()[0]:.1f}")
    corpus = texts(args.n)
    ids = [f"r{i}" for i in range(args.n)]
    print(f"texts: {sum(map(len, corpus)) / len(corpus):.0f} characters on average")

    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    index = KeywordIndex()
    index.put(ids, corpus)
    build_s = time.perf_counter() - started
    gc.collect()
    grown = rss_bytes() - before
    pairs = sum(len(segment) for segment in index._segments)
    print(
        f"bulk put: {build_s:.1f} s ({args.n / build_s:,.0f} records/s); {pairs:,} (record, term) pairs, "
        f"{len(index._vocabulary):,} distinct terms"
    )
    print(
        f"memory: {footprint(index) / 2**20:.0f} MiB held by the index "
        f"({footprint(index) / pairs:.1f} bytes per pair), RSS +{grown / 2**20:.0f} MiB"
    )
    started = time.perf_counter()
    for text in corpus:
        analyze(text)
    print(f"of which tokenising: {time.perf_counter() - started:.1f} s")

    rng = np.random.default_rng(5)
    probe = [corpus[int(i)].split() for i in rng.integers(0, args.n, 300)]
    for words in (1, 2, 5):
        queries = [" ".join(t[int(j)] for j in rng.integers(0, len(t), words)) for t in probe]
        latencies = []
        for query in queries:
            started = time.perf_counter()
            index.search(query, 10)
            latencies.append((time.perf_counter() - started) * 1000)
        print(f"search, {words}-word queries: {ms(latencies)}")

    changed = dict(zip(ids, corpus, strict=True))
    replaces, removes = [], []
    spare = texts(args.writes, seed=12)
    for i, text in zip(rng.integers(0, args.n, args.writes).tolist(), spare, strict=True):
        started = time.perf_counter()
        index.put([ids[i]], [text])
        replaces.append((time.perf_counter() - started) * 1000)
        changed[ids[i]] = text
    for i in rng.integers(0, args.n, args.writes).tolist():
        started = time.perf_counter()
        index.remove([ids[i]])
        removes.append((time.perf_counter() - started) * 1000)
        changed.pop(ids[i], None)
    print(f"replace one record: {ms(replaces)}; remove one: {ms(removes)}; {len(index._segments)} segments")

    fresh = KeywordIndex()
    fresh.put(list(changed), list(changed.values()))
    worst = 0.0
    for words in probe[:100]:
        query = " ".join(words[:3])
        got, want = index.search(query, 50), fresh.search(query, 50)
        assert [sid for sid, _ in got] == [sid for sid, _ in want], query
        worst = max([worst, *(abs(a[1] - b[1]) for a, b in zip(got, want, strict=True))])
    print(f"after the writes, 100 queries agree with a fresh index (largest score difference {worst:.1e})")

    if args.bm25s:
        import bm25s  # type: ignore[import-not-found]

        tokens = [list(Counter(analyze(text)[0]).elements()) for text in changed.values()]
        started = time.perf_counter()
        retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        retriever.index(tokens, show_progress=False)
        print(
            f"bm25s {bm25s.__version__}: index build from the same tokens {time.perf_counter() - started:.1f} s "
            "(it stores precomputed scores, so any write means building again)"
        )


if __name__ == "__main__":
    main()
