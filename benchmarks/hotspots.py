"""Profile one phase of our LangChain store with pyinstrument, to see where a missed target's time goes.

    .venv-bench/bin/python benchmarks/hotspots.py query --n 20000
    .venv-bench/bin/python benchmarks/hotspots.py after-writes --server process

Phases: ingest, query, filtered, after-writes (queries after 3,000 upserts and 3,000 deletes),
async (32 asimilarity_search calls in flight). ``--server inproc`` (default) runs Lite in this
process: pyinstrument then sees only the calling thread, not the server's. To see the server
side, use ``--server process`` and attach py-spy to the printed server pid, e.g.
``py-spy record --pid PID --duration 20 --format raw -o server.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import corpus
from measure import BATCH, K
from pyinstrument import Profiler
from stores import Handle, scintirete_lite, scintirete_lite_process


def fill(handle: Handle, data: corpus.Corpus) -> None:
    for start in range(0, data.n, BATCH):
        stop = start + BATCH
        handle.store.add_texts(data.texts[start:stop], data.metadatas[start:stop], ids=data.ids[start:stop])


def write_churn(handle: Handle, data: corpus.Corpus, embeddings: corpus.LookupEmbeddings) -> None:
    for i in range(3000):
        embeddings.alias(data.texts[i] + " (v2)", data.texts[i])
    handle.store.add_texts(
        [t + " (v2)" for t in data.texts[:3000]], data.metadatas[:3000], ids=data.ids[:3000]
    )
    handle.store.delete(data.ids[3000:6000])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("phase", choices=["ingest", "query", "filtered", "after-writes", "async"])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--server", choices=["inproc", "process"], default="inproc")
    args = parser.parse_args()
    data = corpus.build(args.n)
    embeddings = data.embeddings()
    handle = (scintirete_lite if args.server == "inproc" else scintirete_lite_process)(embeddings)
    if handle.server_pid is not None:
        print(f"server pid {handle.server_pid}", flush=True)
    store = handle.store
    profiler = Profiler(async_mode="enabled")
    try:
        if args.phase == "ingest":
            with profiler:
                fill(handle, data)
        else:
            fill(handle, data)
            if args.phase == "after-writes":
                write_churn(handle, data, embeddings)
            where = {"group": corpus.FILTER_GROUP} if args.phase == "filtered" else None
            started = time.perf_counter()
            with profiler:
                if args.phase == "async":

                    async def flight() -> None:
                        texts = iter(data.query_texts * 2)

                        async def worker() -> None:
                            for text in texts:
                                await store.asimilarity_search(text, k=K)

                        await asyncio.gather(*(worker() for _ in range(32)))

                    asyncio.run(flight())
                else:
                    for text in data.query_texts:
                        store.similarity_search_with_score(text, k=K, filter=where)
            print(f"{args.phase}: {time.perf_counter() - started:.2f} s", flush=True)
    finally:
        handle.close()
    profiler.print(show_all=False, short_mode=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
