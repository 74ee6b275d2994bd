"""Write the tutorial notebooks in notebooks/ from the cells below, run them, and save the outputs.

Usage::

    python scripts/build_notebooks.py                  # all of them, executed (needs the dev extra)
    python scripts/build_notebooks.py llama_index      # only some
    python scripts/build_notebooks.py --no-execute     # cells only, no outputs

The notebooks are committed with their outputs. Everything here is deterministic: cell ids
are derived from the notebook name, timing metadata is not recorded, and the notebooks never
print ports, paths, passwords or timings, so rebuilding without a change rewrites nothing.
tests/integration/test_notebooks.py runs the committed notebooks and applies :func:`problems`.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
CELL_TIMEOUT = 120  # seconds, per cell
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}
# Text that must never reach a committed output: absolute file paths (two or more directory
# levels deep, not part of a URL), Windows drive paths, and object addresses.
FORBIDDEN = re.compile(r"(?<![\w.:/])/[\w.-]+/[\w.-]+/|[A-Z]:\\\\|\bat 0x[0-9a-f]+")

Cell = tuple[str, str]


def md(text: str) -> Cell:
    return ("markdown", textwrap.dedent(text).strip())


def code(text: str) -> Cell:
    return ("code", textwrap.dedent(text).strip())


# -- langchain_rag ------------------------------------------------------------------------------------

LANGCHAIN_RAG: list[Cell] = [
    md("""
    # LangChain RAG on Scintirete

    This notebook builds a small retrieval-augmented generation (RAG) pipeline with LangChain and
    `ScintireteVectorStore`: store documents, search them (similarity, MMR, metadata filters,
    relevance scores), put a retriever inside an LCEL chain, and reopen the collection from a
    second store object.

    It runs offline, top to bottom:

    - the store starts **Scintirete Lite**, an embedded Scintirete-compatible gRPC server, inside
      this process, because no `address` is given;
    - the embeddings are all-MiniLM-L6-v2 vectors **precomputed** for the bundled field-guide
      passages and questions (`BundledLangChainEmbeddings`), so the queries below are the bundled
      questions; any LangChain `Embeddings` works in their place;
    - the chat model is LangChain's fake chat model, which returns a canned answer.

    Install with `pip install 'scintirete-integrations[notebooks]'` (the packages and `ipykernel`,
    a Jupyter kernel), then open it in VS Code, or in JupyterLab (`pip install jupyterlab`).
    """),
    code("""
    from langchain_core.documents import Document

    from scintirete_integrations.demo import BundledLangChainEmbeddings, load_corpus, load_questions
    from scintirete_integrations.langchain import ScintireteVectorStore

    corpus = load_corpus()
    questions = [item["question"] for item in load_questions()]
    print(len(corpus), "passages and", len(questions), "questions. The first passage:")
    corpus[0]
    """),
    md("""
    ## 1. Store the passages

    Each passage becomes a `Document` with its own id and metadata. Without `address=`, the store
    runs on the embedded Lite server (in memory; pass `data_dir=` to keep the data). The collection
    is created on the first write.
    """),
    code("""
    METADATA = ("topic", "difficulty", "year", "minutes")

    embeddings = BundledLangChainEmbeddings()
    store = ScintireteVectorStore(embeddings, collection_name="field_guide")
    documents = [
        Document(page_content=row["text"], metadata={key: row[key] for key in METADATA}, id=row["id"])
        for row in corpus
    ]
    ids = store.add_documents(documents)
    print(ids[:3], "...", store.collection.count(), "documents stored")
    """),
    md("""
    Ids are yours: adding a document again replaces it instead of duplicating it (and an unchanged
    document is not written at all).
    """),
    code("""
    store.add_documents(documents[:10])
    store.collection.count()
    """),
    md("""
    ## 2. Similarity search and scores
    """),
    code("""
    def show(docs):
        for doc in docs:
            print(f"{doc.id}  {doc.metadata['topic']:<13} {doc.page_content[:70]}...")


    question = questions[2]
    print(question)
    show(store.similarity_search(question, k=3))
    """),
    md("""
    `similarity_search_with_score` returns the server's **distance**: lower is closer (for cosine,
    between 0 and 2). `similarity_search_with_relevance_scores` turns it into a **relevance** in
    [0, 1], higher is closer, with LangChain's own helper for the metric (cosine: `1 - distance`,
    the cosine similarity, as Chroma and PGVector report it), and can drop weak matches with
    `score_threshold`.
    """),
    code("""
    for doc, distance in store.similarity_search_with_score(question, k=3):
        print(f"{doc.id}  distance  {distance:.3f}")
    for doc, relevance in store.similarity_search_with_relevance_scores(question, k=3):
        print(f"{doc.id}  relevance {relevance:.3f}")
    strong = store.similarity_search_with_relevance_scores(question, k=10, score_threshold=0.36)
    print("relevance >= 0.36:", [doc.id for doc, _ in strong])
    """),
    md("""
    ## 3. Maximal marginal relevance (MMR)

    MMR picks `k` results among the `fetch_k` nearest, trading relevance for variety:
    `lambda_mult=1` is plain similarity, `0` is maximal diversity. Useful when the nearest passages
    repeat each other.
    """),
    code("""
    question = questions[8]
    print(question)
    print("similarity:")
    show(store.similarity_search(question, k=4))
    print("MMR, lambda_mult=0.5:")
    show(store.max_marginal_relevance_search(question, k=4, fetch_k=20, lambda_mult=0.5))
    """),
    md("""
    ## 4. Metadata filters

    `filter=` takes a Mongo-style dict, the convention of Chroma, PGVector and Pinecone:
    `{"field": value}` for equality, operators `$eq $ne $gt $gte $lt $lte $in $nin $contains
    $icontains $all $exists`, and `$and $or $not` to combine. Results are complete: you get `k`
    matches whenever `k` exist, however rare the filter is.

    This question is ambiguous on its own; the filter says we are talking about a bicycle.
    """),
    code("""
    question = questions[7]
    print(question)
    print("no filter:")
    show(store.similarity_search(question, k=2))
    print('filter={"topic": "cycling"}:')
    show(store.similarity_search(question, k=2, filter={"topic": "cycling"}))
    """),
    code("""
    quick_astronomy = {"topic": "astronomy", "minutes": {"$lte": 5}}
    for doc in store.similarity_search(questions[9], k=3, filter=quick_astronomy):
        print(doc.id, doc.metadata)
    """),
    code("""
    # (advanced OR from 2025 on) AND not about cooking
    recent_or_hard = {"$or": [{"difficulty": "advanced"}, {"year": {"$gte": 2025}}], "topic": {"$ne": "cooking"}}
    print(questions[5])
    for doc in store.similarity_search(questions[5], k=3, filter=recent_or_hard):
        print(doc.id, doc.metadata)
    """),
    md("""
    A filter is checked before anything is sent, and a mistake names the fix. A Python callable
    taking a `Document` also works, as with `InMemoryVectorStore`, at the cost of a pass over
    every record.
    """),
    code("""
    from scintirete_integrations import InvalidArgumentError

    try:
        store.similarity_search(question, filter={"minutes": {"$lessthan": 5}})
    except InvalidArgumentError as error:
        print(error)

    show(store.similarity_search(question, k=2, filter=lambda doc: doc.metadata["minutes"] <= 10))
    """),
    md("""
    ## 5. A retriever inside an LCEL chain

    `as_retriever` accepts the usual `search_type` (`similarity`, `mmr`,
    `similarity_score_threshold`) and `search_kwargs`, filters included. The chain below formats
    the retrieved passages into a prompt and sends it to a chat model; `FakeListChatModel` stands in
    for a real one (swap in `ChatOpenAI`, `ChatOllama`, ...).
    """),
    code("""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    retriever = store.as_retriever(search_kwargs={"k": 2})
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer from this context only, citing passage ids.\\n\\n{context}"),
            ("human", "{question}"),
        ]
    )


    def format_docs(docs):
        return "\\n".join(f"[{doc.id}] {doc.page_content}" for doc in docs)


    llm = FakeListChatModel(responses=["The tap's rubber washer (or cartridge) is worn: replace it [p001]."])
    context = {"context": retriever | format_docs, "question": RunnablePassthrough()}
    chain = context | prompt | llm | StrOutputParser()
    chain.invoke(questions[0])
    """),
    md("""
    What the model received:
    """),
    code("""
    print((context | prompt).invoke(questions[0]).to_string())
    """),
    md("""
    A retriever can also diversify and filter, and every call has a native async twin
    (`ainvoke`, `asimilarity_search`, `aadd_documents`, ...) on the asyncio gRPC client.
    """),
    code("""
    outdoors = store.as_retriever(search_type="mmr", search_kwargs={"k": 3, "filter": {"topic": "outdoors"}})
    show(await outdoors.ainvoke(questions[11]))
    """),
    md("""
    ## 6. Reopen the collection from a second store

    Every store of this process that has no `address` shares the same embedded Lite server, just
    as stores with the same `address` share a real server. `from_existing_collection` opens a
    collection that must exist and reads its metric from the server.
    """),
    code("""
    reopened = ScintireteVectorStore.from_existing_collection("field_guide", embeddings)
    print(reopened.collection.count(), "documents")
    reopened.get_by_ids(["p021"])[0].page_content
    """),
    md("""
    Writes through one store are seen by the other at once:
    """),
    code("""
    store.delete(ids=["p021"])
    print(reopened.collection.count(), "documents;", [doc.id for doc in reopened.similarity_search(questions[2], k=2)])
    store.add_documents([documents[20]])
    print(reopened.collection.count(), "documents;", [doc.id for doc in reopened.similarity_search(questions[2], k=2)])
    """),
    code("""
    from scintirete_integrations import NotFoundError

    try:
        ScintireteVectorStore.from_existing_collection("no_such_collection", embeddings)
    except NotFoundError as error:
        print(error)
    """),
    md("""
    ## 7. Keyword and hybrid retrieval

    Dense retrieval matches meaning; exact names, codes and rare terms are what keyword search
    matches. `retrieval_mode="keyword"` ranks by BM25 over the stored texts and embeds nothing, so
    any query works here, even outside the bundled questions (a code like `GFCI`, a term like
    `R-value`, a rule like `50/30`):
    """),
    code("""
    for term in ["GFCI", "R-value", "50/30 budget"]:
        print(term)
        show(store.similarity_search(term, k=1, retrieval_mode="keyword"))
    """),
    md("""
    `retrieval_mode="hybrid"` runs both searches and fuses the two rankings: relative score fusion
    by default (`alpha=0.5`; 1 is dense only, 0 keyword only), or `fusion="rrf"`. For this
    question the answer is the passage on averted vision, p118. Dense search ranks it second; its
    word "trick" lifts it to first in the hybrid ranking:
    """),
    code("""
    question = questions[9]
    print(question)
    print("dense:")
    show(store.similarity_search(question, k=3))
    print("hybrid:")
    show(store.similarity_search(question, k=3, retrieval_mode="hybrid"))
    """),
    md("""
    The bundled questions are paraphrases written for dense retrieval, and on most of them dense
    search alone ranks the answer first. Hybrid retrieval pays off when queries share exact words
    with the text, as with names, error codes and identifiers (`docs/keyword-retrieval.md`
    measures it on a technical corpus). A retriever can be hybrid while its store stays dense.
    Hybrid scores are the fused value in [0, 1]: they order one query's results and are not
    similarities.
    """),
    code("""
    hybrid = store.as_retriever(search_kwargs={"k": 2, "retrieval_mode": "hybrid"})
    show(hybrid.invoke(question))
    for doc, score in store.similarity_search_with_relevance_scores(question, k=3, retrieval_mode="hybrid"):
        print(f"{doc.id}  fused score {score:.3f}")
    """),
    md("""
    ## Next: a real server

    The same code runs against a Scintirete server, or against Lite started as one
    (`scintirete-lite --port 9090 --data-dir ./scintirete-data`):

    ```python
    import os

    store = ScintireteVectorStore(
        embeddings,
        collection_name="field_guide",
        address="localhost:9090",
        password=os.environ["SCINTIRETE_PASSWORD"],
    )
    ```

    With neither `address` nor `client`, the store also reads `SCINTIRETE_ADDRESS` and
    `SCINTIRETE_PASSWORD`; `data_dir="./scintirete-data"` keeps an embedded Lite server's data.
    """),
]


# -- llama_index --------------------------------------------------------------------------------------

LLAMA_INDEX: list[Cell] = [
    md("""
    # LlamaIndex on Scintirete

    `ScintireteVectorStore` for LlamaIndex: build a `VectorStoreIndex`, retrieve with scores, run a
    query engine, filter with `MetadataFilters`, and delete and refresh documents.

    It runs offline: with no `address`, the store starts **Scintirete Lite**, an embedded
    Scintirete-compatible gRPC server, in this process. The embedding model
    (`BundledLlamaIndexEmbedding`) serves all-MiniLM-L6-v2 vectors precomputed for the bundled
    passages and questions, and `MockLLM` stands in for an LLM.

    Install with `pip install 'scintirete-integrations[notebooks]'` (the packages and `ipykernel`,
    a Jupyter kernel), then open it in VS Code, or in JupyterLab (`pip install jupyterlab`).
    """),
    code("""
    from llama_index.core import Document, StorageContext, VectorStoreIndex

    from scintirete_integrations.demo import BundledLlamaIndexEmbedding, load_corpus, load_questions
    from scintirete_integrations.llama_index import ScintireteVectorStore

    corpus = load_corpus()
    questions = [item["question"] for item in load_questions()]
    print(len(corpus), "passages and", len(questions), "questions")
    """),
    md("""
    ## 1. Build the index

    One `Document` per passage, with the passage id as `doc_id`. LlamaIndex embeds a node's text
    together with its metadata unless told otherwise; here the metadata is excluded from the
    embedded text (the precomputed vectors are of the passage text alone), and the LLM sees only
    the topic.
    """),
    code("""
    METADATA = ["topic", "difficulty", "year", "minutes"]


    def to_document(row, **changes):
        return Document(
            text=row["text"],
            doc_id=row["id"],
            metadata={**{key: row[key] for key in METADATA}, **changes},
            excluded_embed_metadata_keys=[*METADATA, *changes],
            excluded_llm_metadata_keys=["difficulty", "year", "minutes", *changes],
        )


    documents = [to_document(row) for row in corpus]
    store = ScintireteVectorStore("field_guide_nodes")
    embed_model = BundledLlamaIndexEmbedding()
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,
    )
    print(store.collection.count(), "nodes stored")
    """),
    md("""
    ## 2. Retrieve

    Retrievers return `NodeWithScore`; the score is the cosine similarity, higher is closer, as
    LlamaIndex's own stores report it (so a `similarity_cutoff` carries over). Each node
    remembers its source document as `ref_doc_id`.
    """),
    code("""
    def show(results):
        for result in results:
            node = result.node
            print(f"{node.ref_doc_id}  {result.score:.3f}  {node.metadata['topic']:<13} {node.text[:60]}...")


    retriever = index.as_retriever(similarity_top_k=3)
    print(questions[2])
    show(retriever.retrieve(questions[2]))
    """),
    md("""
    ## 3. Query engine

    A query engine retrieves, builds a prompt and asks the LLM. `MockLLM` echoes the prompt it is
    given, which shows exactly what a real LLM (`llm=OpenAI(...)`, `Ollama(...)`, ...) would receive.
    """),
    code("""
    from llama_index.core.llms import MockLLM

    query_engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=2)
    response = query_engine.query(questions[0])
    print(response)
    """),
    code("""
    [(source.node.ref_doc_id, round(source.score, 3)) for source in response.source_nodes]
    """),
    md("""
    ## 4. Metadata filters

    `MetadataFilters` support every `FilterOperator` (`==`, `!=`, `>`, `>=`, `<`, `<=`, `in`,
    `nin`, `any`, `all`, `contains`, `text_match`, `text_match_insensitive`, `is_empty`) and AND,
    OR and NOT conditions, nested to any depth. Filtered results are complete: `similarity_top_k`
    matches whenever that many exist.
    """),
    code("""
    from llama_index.core.vector_stores import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

    question = questions[7]
    print(question)
    print("no filter:")
    show(index.as_retriever(similarity_top_k=2).retrieve(question))
    cycling = MetadataFilters(filters=[MetadataFilter(key="topic", value="cycling")])
    print("topic == cycling:")
    show(index.as_retriever(similarity_top_k=2, filters=cycling).retrieve(question))
    """),
    code("""
    quick_or_easy = MetadataFilters(
        filters=[
            MetadataFilter(key="topic", value=["astronomy", "outdoors"], operator=FilterOperator.IN),
            MetadataFilters(
                filters=[
                    MetadataFilter(key="minutes", value=5, operator=FilterOperator.LTE),
                    MetadataFilter(key="difficulty", value="beginner"),
                ],
                condition=FilterCondition.OR,
            ),
        ],
        condition=FilterCondition.AND,
    )
    for result in index.as_retriever(similarity_top_k=3, filters=quick_or_easy).retrieve(questions[9]):
        print(result.node.ref_doc_id, result.node.metadata)
    """),
    md("""
    The store also reads nodes directly, by id or by filter:
    """),
    code("""
    advanced = MetadataFilters(filters=[MetadataFilter(key="difficulty", value="advanced")])
    sorted(node.ref_doc_id for node in store.get_nodes(filters=advanced))
    """),
    md("""
    ## 5. Delete and refresh documents

    `delete_ref_doc` removes every node of a source document, and `insert` adds one.
    """),
    code("""
    index.delete_ref_doc("p073")
    print(store.collection.count(), "nodes")
    show(retriever.retrieve(questions[5]))

    index.insert(to_document(corpus[72]))
    print(store.collection.count(), "nodes")
    show(retriever.retrieve(questions[5])[:1])
    """),
    md("""
    `refresh_ref_docs` compares documents with the hashes the index remembers: changed documents
    are replaced, unchanged ones skipped, unknown ones inserted. Here `p001` gets a new metadata
    field (`edition`) and `p002` is unchanged.

    Those hashes live in the index's docstore, in memory here: to refresh from another process,
    persist it (`storage_context.persist()`) or ingest through an `IngestionPipeline` with a
    docstore. (With a store that keeps the text, as this one does, `delete_ref_doc` leaves the
    remembered hash behind, so bring a deleted document back with `insert`, as above.)
    """),
    code("""
    refreshed = index.refresh_ref_docs([to_document(corpus[0], edition=2), to_document(corpus[1])])
    print(refreshed, store.collection.count(), "nodes")
    second_edition = MetadataFilters(filters=[MetadataFilter(key="edition", value=2)])
    [(node.ref_doc_id, node.metadata) for node in store.get_nodes(filters=second_edition)]
    """),
    md("""
    `delete_nodes` removes nodes by id and/or filter:
    """),
    code("""
    store.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="year", value=2017, operator=FilterOperator.LTE)]))
    print(store.collection.count(), "nodes after deleting those from 2017 or earlier")
    """),
    md("""
    ## 6. Async, and reopening the index

    Every store method has a native async twin on the asyncio gRPC client. An index over an
    existing collection comes from `VectorStoreIndex.from_vector_store`; this second store object
    opens the same collection on the same embedded server.
    """),
    code("""
    results = await index.as_retriever(similarity_top_k=1).aretrieve(questions[11])
    show(results)

    reopened = VectorStoreIndex.from_vector_store(ScintireteVectorStore("field_guide_nodes"), embed_model=embed_model)
    show(reopened.as_retriever(similarity_top_k=1).retrieve(questions[10]))
    """),
    md("""
    ## Next: a real server

    ```python
    import os

    store = ScintireteVectorStore(
        "field_guide_nodes", address="localhost:9090", password=os.environ["SCINTIRETE_PASSWORD"]
    )
    ```

    `ScintireteEmbedding` (in the same module) lets the server embed texts with its configured
    model, and `data_dir="./scintirete-data"` keeps an embedded Lite server's data.
    """),
]


# -- client_and_server --------------------------------------------------------------------------------

CLIENT_AND_SERVER: list[Cell] = [
    md("""
    # The Scintirete client and Scintirete Lite

    Below the framework adapters sit a gRPC client for the Scintirete v1 API
    (`ScintireteClient`, and `AsyncScintireteClient` for asyncio) and **Scintirete Lite**, a
    Scintirete-compatible server written in Python and numpy that runs inside your process or as
    `scintirete-lite`. This notebook covers databases and collections, raw vectors, server-side
    embeddings, persistence, errors and retries, and async use.

    Everything runs offline against Lite. Against a real Scintirete server only the address and
    password change.

    Install with `pip install 'scintirete-integrations[notebooks]'` (the packages and `ipykernel`,
    a Jupyter kernel), then open it in VS Code, or in JupyterLab (`pip install jupyterlab`).
    """),
    md("""
    ## 1. Start a server

    `LiteServer` listens on a free loopback port and generates a password unless you give one;
    `server.address` and `server.password` tell the client where to go. With `data_dir`, every
    write is logged to disk before it is acknowledged.

    This server also gets an **embedding provider**, so that it can embed texts itself (section 4).
    `CallableEmbeddings` wraps any function from texts to vectors; here it serves the demo's
    precomputed all-MiniLM-L6-v2 vectors.
    """),
    code("""
    import tempfile

    import numpy as np

    from scintirete_integrations import ScintireteClient
    from scintirete_integrations.demo import BundledEmbeddings, load_corpus, load_questions
    from scintirete_integrations.lite import CallableEmbeddings, LiteServer

    data_dir = tempfile.TemporaryDirectory()
    minilm = CallableEmbeddings(BundledEmbeddings().embed_documents, model="all-MiniLM-L6-v2", dimension=384)
    server = LiteServer(data_dir.name, embedding=minilm).start()
    client = ScintireteClient(server.address, password=server.password)
    print("ping ok:", client.ping() >= 0)
    """),
    md("""
    ## 2. Databases and collections

    A database holds collections; a collection holds vectors of one dimension, fixed by the first
    insert, compared with one metric (`"cosine"`, `"l2"` or `"inner_product"`). `create_*` fails
    on an existing name; `ensure_*` does not.
    """),
    code("""
    client.create_database("shop")
    print("created now:", client.ensure_database("shop"), "| databases:", client.list_databases())
    info = client.create_collection("shop", "items", metric="l2")
    info
    """),
    md("""
    ## 3. Raw vectors with numpy

    `insert_vectors` takes a 2-D array (or a list of lists) and optional JSON metadata per vector,
    and returns the ids the server assigned. Searches return `SearchHit`s, closest first; distances
    are lower-is-closer for every metric.
    """),
    code("""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((1000, 8)).astype(np.float32)
    metadata = [{"sku": f"sku-{i:04d}", "price": int(i % 50)} for i in range(len(vectors))]
    ids = client.insert_vectors("shop", "items", vectors, metadata)
    print(len(ids), "ids, the first:", ids[:3])

    query = vectors[42] + 0.05 * rng.standard_normal(8).astype(np.float32)
    for hit in client.search("shop", "items", query, top_k=3):
        print(hit.id, f"{hit.distance:.3f}", hit.metadata["sku"], hit.metadata["price"])
    """),
    md("""
    The raw client sends metadata as a protobuf `Struct`, where every number is a double: `price`
    comes back as `12.0`. The document layer underneath the LangChain and LlamaIndex stores
    (`scintirete_integrations.documents`) keeps ints, bools and nested values exact, and adds
    string ids, upserts and metadata filters.

    `include_vector=True` returns the stored vectors; `delete_vectors` removes by id.
    """),
    code("""
    hit = client.search("shop", "items", vectors[7], top_k=1, include_vector=True)[0]
    print(hit.id, np.allclose(hit.vector, vectors[7]))
    print("deleted:", client.delete_vectors("shop", "items", ids[:10]))
    info = client.get_collection_info("shop", "items")
    print(info.dimension, info.vector_count, info.deleted_count, info.metric)
    """),
    md("""
    ## 4. Server-side embeddings

    With an embedding provider, the server embeds texts itself: `embed_and_insert`,
    `embed_and_search` and `embed_text`. A real Scintirete server is configured with an
    OpenAI-compatible endpoint; Lite accepts `OpenAIEmbeddings(base_url, api_key)`, any callable
    (`CallableEmbeddings`, as here), or `HashEmbeddings` (below).
    """),
    code("""
    corpus = load_corpus()
    questions = load_questions()
    print(client.list_embedding_models())

    client.create_collection("shop", "passages", metric="cosine")
    client.embed_and_insert(
        "shop", "passages", [row["text"] for row in corpus], [{"passage": row["id"], "topic": row["topic"]} for row in corpus]
    )
    for question in questions[:3]:
        best = client.embed_and_search("shop", "passages", question["question"], top_k=1)[0]
        print(f"{question['question'][:60]:<62} -> {best.metadata['passage']} (expected {question['expected']})")
    """),
    md("""
    `HashEmbeddings` is the offline provider for tests: it hashes words and character trigrams, so
    it is deterministic and needs nothing, but it is **not semantic**: texts that share spelling
    are close, synonyms are not. Use it as `LiteServer(embedding=HashEmbeddings())` in tests,
    never to judge retrieval quality.
    """),
    code("""
    from scintirete_integrations.lite import HashEmbeddings

    car, cars, automobile = HashEmbeddings(256).embed(["car", "cars", "automobile"])
    print(f"car ~ cars: {car @ cars:.2f}    car ~ automobile: {car @ automobile:.2f}")
    """),
    md("""
    ## 5. Persistence

    `save()` writes a snapshot now (a clean `stop()` does too), so the next start replays one file
    instead of the whole log. On a real Scintirete server, metadata survives a restart only
    through a snapshot, so call `save()` after ingesting. Let us restart Lite on the same
    directory; it comes back on a new port, with the same data.
    """),
    code("""
    print("snapshot saved:", client.save().success)
    client.close()
    server.stop()

    server = LiteServer(data_dir.name, embedding=minilm).start()
    client = ScintireteClient(server.address, password=server.password)
    info = client.get_collection_info("shop", "items")
    hit = client.search("shop", "items", vectors[42], top_k=1)[0]
    print(info.vector_count, "vectors in shop/items; the nearest to vectors[42]:", hit.metadata["sku"])
    """),
    md("""
    ## 6. Errors and retries

    Every failure is a `ScintireteError` subclass named after its cause, with the gRPC status in
    `.code` and the RPC in `.rpc`; a raw `grpc.RpcError` never escapes. Messages say what went
    wrong, and passwords never appear in them.
    """),
    code("""
    from scintirete_integrations import AuthenticationError, InvalidArgumentError, NotFoundError, ScintireteError

    try:
        client.search("shop", "no_such_collection", vectors[0])
    except NotFoundError as error:
        print(type(error).__name__, "|", error)

    try:
        client.search("shop", "items", [0.1, 0.2, 0.3])  # the collection holds 8-d vectors
    except InvalidArgumentError as error:
        print(type(error).__name__, "|", error)

    try:
        ScintireteClient(server.address, password="not-the-password").list_databases()
    except AuthenticationError as error:
        print(type(error).__name__, "|", error)
    """),
    md("""
    `InvalidArgumentError` is also a `ValueError`, and `DeadlineExceededError` a `TimeoutError`.

    Calls that fail with UNAVAILABLE or RESOURCE_EXHAUSTED are retried with exponential backoff
    and jitter, as set by a `RetryPolicy`. Inserts are retried only when the request provably never
    reached the server (the server assigns ids, so sending one twice would store the vectors
    twice). Every client takes a `timeout` (seconds, per call, retries included) as well.
    """),
    code("""
    from scintirete_integrations import RetryPolicy

    policy = RetryPolicy(max_attempts=4, initial_backoff=0.05, multiplier=2.0, jitter=0.0)
    print("pauses between attempts:", list(policy.delays()))

    nobody_there = ScintireteClient("127.0.0.1:1", password="x", retry=policy, timeout=5.0)
    try:
        nobody_there.ping()
    except ScintireteError as error:
        print(type(error).__name__, error.code, "after", policy.max_attempts, "attempts")
        # The connection never opened, so the request provably was not applied: safe even for an insert.
        print("would an insert be retried?", policy.should_retry("InsertVectors", error))
    nobody_there.close()

    print("no retries:", RetryPolicy.disabled().max_attempts, "attempt")
    """),
    md("""
    ## 7. Async

    `AsyncScintireteClient` has the same methods, awaited, on a `grpc.aio` channel. Independent
    calls can run concurrently.
    """),
    code("""
    import asyncio

    from scintirete_integrations import AsyncScintireteClient

    async with AsyncScintireteClient(server.address, password=server.password) as aclient:
        batches = await asyncio.gather(
            *(aclient.search("shop", "items", vectors[i], top_k=1) for i in (100, 200, 300))
        )
        print([hits[0].metadata["sku"] for hits in batches])
        answers = await aclient.embed_and_search("shop", "passages", questions[11]["question"], top_k=2)
        print([hit.metadata["passage"] for hit in answers])
    """),
    md("""
    ## 8. Clean up
    """),
    code("""
    print(client.drop_database("shop"), "collections dropped")
    client.close()
    server.stop()
    data_dir.cleanup()
    """),
    md("""
    ## Next: a real server, or Lite as one

    ```python
    client = ScintireteClient("db.example.com:9090", password=os.environ["SCINTIRETE_PASSWORD"], tls=True)
    client = ScintireteClient.from_env()  # SCINTIRETE_ADDRESS, SCINTIRETE_PASSWORD, SCINTIRETE_TLS, ...
    ```

    From a shell, `scintirete-lite --port 9090 --data-dir ./scintirete-data` serves Lite over gRPC
    for any client, in any language, until you stop it (with a final snapshot).
    """),
]

# -- production_rag -----------------------------------------------------------------------------------

PRODUCTION_RAG: list[Cell] = [
    md("""
    # Production RAG on Scintirete

    The other notebooks store short passages in one process. This one covers what comes next:

    1. chunking long documents, with the source of each chunk in its metadata;
    2. reopening a persisted store from a new process;
    3. LangChain's indexing API with a record manager: re-runs skip, changes update, cleanup deletes;
    4. a LlamaIndex `IngestionPipeline` with a docstore: re-runs update instead of duplicating;
    5. `scintirete-lite` as a server that several processes share;
    6. connecting to a real Scintirete server.

    Everything runs offline in a few seconds. The chunks are new texts, so they cannot use the
    bundled precomputed vectors; they get a small hashing embedding instead: deterministic and
    free, but **not semantic** (texts that share words are close, synonyms are not). Swap in a real
    model for real retrieval.

    Install with `pip install 'scintirete-integrations[notebooks]'` (the packages and `ipykernel`,
    a Jupyter kernel), then open it in VS Code, or in JupyterLab (`pip install jupyterlab`).
    """),
    md("""
    ## 1. Chunk long documents

    As long documents, take the bundled passages and join them into one guide per topic: eight
    guides of about 4,000 characters. The splitter below packs whole sentences into chunks of at
    most 500 characters, and repeats the last sentence of a chunk at the start of the next, so that
    no sentence loses its neighbour. (`langchain-text-splitters` or LlamaIndex's `SentenceSplitter`
    do the same with more options.)
    """),
    code("""
    import re
    from collections import defaultdict

    from scintirete_integrations.demo import load_corpus

    by_topic = defaultdict(list)
    for row in load_corpus():
        by_topic[row["topic"]].append(row["text"])
    guides = {f"guides/{topic}.md": " ".join(texts) for topic, texts in sorted(by_topic.items())}


    def split_text(text, chunk_size=500, overlap=1):
        \"\"\"Whole sentences, at most chunk_size characters per chunk; `overlap` sentences repeat.\"\"\"
        chunks, current = [], []
        for sentence in re.split(r"(?<=[.!?])\\s+", text.strip()):
            if current and len(" ".join([*current, sentence])) > chunk_size:
                chunks.append(" ".join(current))
                current = current[-overlap:] if overlap else []
            current.append(sentence)
        return [*chunks, " ".join(current)] if current else chunks


    for source, text in guides.items():
        print(f"{source:<30} {len(text):>5} characters -> {len(split_text(text))} chunks")
    """),
    md("""
    Each chunk becomes a `Document` whose metadata names its source and position, and whose id is
    derived from both, so that storing a guide again replaces its chunks instead of adding copies.
    """),
    code("""
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings

    from scintirete_integrations.langchain import ScintireteVectorStore
    from scintirete_integrations.lite import HashEmbeddings


    class HashingEmbeddings(Embeddings):
        \"\"\"Offline and deterministic, NOT semantic: texts that share words get close vectors.\"\"\"

        def __init__(self, dimension=256):
            self.hash = HashEmbeddings(dimension)

        def embed_documents(self, texts):
            return self.hash.embed(texts).tolist()

        def embed_query(self, text):
            return self.hash.embed_one(text).tolist()


    def chunk(source, text):
        return [
            Document(piece, id=f"{source}#{number}", metadata={"source": source, "chunk": number})
            for number, piece in enumerate(split_text(text))
        ]


    chunks = [doc for source, text in guides.items() for doc in chunk(source, text)]
    hashing = HashingEmbeddings()
    store = ScintireteVectorStore(hashing, collection_name="guides")
    store.add_documents(chunks)
    print(store.collection.count(), "chunks stored")
    for doc in store.similarity_search("how to fix a flat bicycle tire", k=3):
        print(doc.id, "|", doc.page_content[:70], "...")
    """),
    code("""
    store.similarity_search("telescope", k=2, filter={"source": "guides/astronomy.md"})[0].metadata
    """),
    md("""
    ## 2. Reopen a persisted store from a new process

    With `data_dir=`, the embedded Lite server logs every write to that directory, and a later
    process reopens it. Below, this notebook ingests the passages and closes the store; a new Python
    process then opens the same directory and answers a question. (Both use the bundled precomputed
    MiniLM vectors, which every process can load.)
    """),
    code("""
    import shutil
    import subprocess
    import sys
    import tempfile


    def run(script, *args, env=None):
        \"\"\"Run `script` in a new Python process and print what it prints.\"\"\"
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env)
        if done.returncode:
            raise RuntimeError(f"the child process failed:\\n{done.stderr}")
        print(done.stdout, end="")


    QUERY = '''
    import sys
    from scintirete_integrations.demo import BundledLangChainEmbeddings, load_questions
    from scintirete_integrations.langchain import ScintireteVectorStore

    store = ScintireteVectorStore(BundledLangChainEmbeddings(), collection_name="field_guide", data_dir=sys.argv[1])
    question = load_questions()[0]["question"]
    print("query: the collection holds", store.collection.count(), "passages")
    print("query:", question, "->", [doc.id for doc in store.similarity_search(question, k=2)])
    store.close()
    '''

    from langchain_core.documents import Document
    from scintirete_integrations.demo import BundledLangChainEmbeddings, load_corpus

    data_dir = tempfile.mkdtemp()
    kept = ScintireteVectorStore(BundledLangChainEmbeddings(), collection_name="field_guide", data_dir=data_dir)
    kept.add_documents([Document(row["text"], id=row["id"], metadata={"topic": row["topic"]}) for row in load_corpus()])
    print("this notebook stored", kept.collection.count(), "passages")
    kept.close()  # the last store on this directory: its embedded server stops and lets go of it
    run(QUERY, data_dir)
    """),
    md("""
    One process owns a data directory at a time: closing the last store that uses it (`close()`, or
    leaving a `with` block) stops the embedded server and releases the directory; while a store has
    it open, a second process opening it is refused with a message saying so. To share data between
    processes that run at the same time, run Lite as a server (section 5).
    """),
    code("""
    shutil.rmtree(data_dir)
    """),
    md("""
    ## 3. LangChain's indexing API

    `langchain_core.indexing.index` keeps a vector store in step with a set of documents. A record
    manager remembers what was written, by a hash of each document's content and metadata, and
    which source it came from (`source_id_key`). Re-running skips unchanged documents; `cleanup`
    decides what happens to documents that are no longer there:

    - `"incremental"`: replace the old chunks of every source that was indexed again;
    - `"full"`: also delete everything whose source was not in this run.

    `InMemoryRecordManager` is for notebooks; in production use `SQLRecordManager` (package
    `langchain-community`) so that the records survive restarts. The index assigns the ids itself
    (the hash, here SHA-256), so the documents here carry none.
    """),
    code("""
    from langchain_core.indexing import InMemoryRecordManager, index

    records = InMemoryRecordManager(namespace="scintirete/guides_indexed")
    records.create_schema()
    indexed = ScintireteVectorStore(hashing, collection_name="guides_indexed")


    def without_ids(docs):
        return [Document(doc.page_content, metadata=doc.metadata) for doc in docs]


    def sync(docs, cleanup="incremental"):
        counts = index(
            without_ids(docs), records, indexed, cleanup=cleanup, source_id_key="source", key_encoder="sha256"
        )
        print(counts, "->", indexed.collection.count(), "chunks stored")


    sync(chunks)  # first run: everything is added
    sync(chunks)  # second run: everything is skipped
    """),
    md("""
    Edit one guide (say "seat" instead of "saddle"), then index that guide again: only the chunks
    that changed are written, the chunks they replace are deleted, and the rest are skipped.
    """),
    code("""
    edited = guides["guides/cycling.md"].replace("saddle", "seat")
    cycling = chunk("guides/cycling.md", edited)
    sync(cycling)
    """),
    md("""
    A full run with two guides left out deletes their chunks:
    """),
    code("""
    left_out = ("guides/cooking.md", "guides/gardening.md")
    kept = [doc for doc in chunks if doc.metadata["source"] not in (*left_out, "guides/cycling.md")]
    sync([*kept, *cycling], cleanup="full")
    """),
    md("""
    ## 4. A LlamaIndex IngestionPipeline with a docstore

    An `IngestionPipeline` splits, embeds and writes documents into the vector store. With a
    docstore it remembers each document's hash under its `doc_id`: a re-run skips unchanged
    documents, and a changed one has its old nodes deleted from the store before the new ones are
    written, so nothing is duplicated.
    """),
    code("""
    from llama_index.core import Document as LlamaDocument
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.storage.docstore import SimpleDocumentStore

    from scintirete_integrations.llama_index import ScintireteVectorStore as LlamaScintireteVectorStore


    class HashingEmbedding(BaseEmbedding):
        \"\"\"The hashing embedding above, for LlamaIndex.\"\"\"

        def _get_text_embedding(self, text):
            return hashing.embed_query(text)

        def _get_query_embedding(self, query):
            return hashing.embed_query(query)

        async def _aget_query_embedding(self, query):
            return hashing.embed_query(query)


    nodes_store = LlamaScintireteVectorStore("guides_nodes")
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=128, chunk_overlap=16), HashingEmbedding()],
        vector_store=nodes_store,
        docstore=SimpleDocumentStore(),
    )


    def ingest(texts):
        documents = [LlamaDocument(text=text, doc_id=source, metadata={"source": source}) for source, text in texts.items()]
        nodes = pipeline.run(documents=documents)
        print(len(nodes), "nodes written ->", nodes_store.collection.count(), "nodes stored")


    ingest(guides)  # first run: every guide is split and written
    ingest(guides)  # unchanged: nothing is written
    ingest({**guides, "guides/cycling.md": edited})  # one guide changed: only its nodes are replaced
    """),
    md("""
    The docstore is in memory here; `pipeline.persist("./pipeline_storage")` and
    `pipeline.load("./pipeline_storage")` keep it between runs, or give the pipeline a docstore
    backed by a database.
    """),
    md("""
    ## 5. Lite as a server that processes share

    `scintirete-lite` (or `python -m scintirete_integrations.lite`) serves Lite over gRPC. With
    `--port 0` it picks a free port and prints it on its first line; the password comes from
    `SCINTIRETE_PASSWORD`, so it never appears on a command line. `--hash-embeddings 256` gives
    the server an embedding model, so that clients can send text (`embedding=None`) and let the
    server embed it. Add `--data-dir` to persist.
    """),
    code("""
    import os
    import secrets

    password = secrets.token_urlsafe(16)
    server_env = {**os.environ, "SCINTIRETE_PASSWORD": password, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "scintirete_integrations.lite", "--port", "0", "--hash-embeddings", "256", "--log-level", "WARNING"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=server_env)
    first_line = server.stdout.readline()  # "Scintirete Lite listening on 127.0.0.1:<port>"
    if "listening on" not in first_line:
        raise RuntimeError(f"scintirete-lite did not start: {server.communicate()[1]}")
    server_address = first_line.split()[-1]
    print("server started")
    """),
    md("""
    A separate process writes the guides. It is configured only through the environment:
    `SCINTIRETE_ADDRESS` and `SCINTIRETE_PASSWORD` are what a store without `address` reads.
    """),
    code("""
    WRITE = '''
    from langchain_core.documents import Document
    from scintirete_integrations.demo import load_corpus
    from scintirete_integrations.langchain import ScintireteVectorStore

    with ScintireteVectorStore(None, collection_name="shared") as store:  # None: the server embeds
        store.add_documents([Document(row["text"], id=row["id"], metadata={"topic": row["topic"]}) for row in load_corpus()])
        print("writer: stored", store.collection.count(), "passages")
    '''

    client_env = {**os.environ, "SCINTIRETE_ADDRESS": server_address, "SCINTIRETE_PASSWORD": password}
    run(WRITE, env=client_env)
    """),
    md("""
    This notebook reads what that process wrote, and adds a passage of its own, which the next
    process sees at once.
    """),
    code("""
    shared = ScintireteVectorStore(None, collection_name="shared", address=server_address, password=password)
    for doc in shared.similarity_search("fix a flat tire", k=2, filter={"topic": "cycling"}):
        print(doc.id, "|", doc.page_content[:70], "...")
    shared.add_documents([Document("Pump the tires up before every long ride.", id="note-1", metadata={"topic": "cycling"})])

    READ = '''
    from scintirete_integrations.langchain import ScintireteVectorStore

    with ScintireteVectorStore(None, collection_name="shared") as store:
        print("reader:", store.collection.count(), "passages;", store.get_by_ids(["note-1"])[0].page_content)
    '''
    run(READ, env=client_env)
    """),
    md("""
    SIGTERM stops the server cleanly (with a final snapshot when it has a `--data-dir`).
    """),
    code("""
    shared.close()
    server.terminate()
    _, log = server.communicate(timeout=30)
    print("server exit status:", server.returncode, "| its last words:", log.strip().splitlines()[-1])
    """),
    md("""
    ## 6. A real Scintirete server

    Against a Scintirete server only the connection changes. `ScintireteClient.from_env()` reads
    `SCINTIRETE_ADDRESS`, `SCINTIRETE_PASSWORD` and, for TLS, `SCINTIRETE_TLS` /
    `SCINTIRETE_ROOT_CERTIFICATES`. The cell below stores the chunks in a scratch collection,
    searches, and drops the collection; without `SCINTIRETE_ADDRESS` it skips. On a real server,
    metadata survives a restart only through a snapshot, so call `store.collection.save()` after
    ingesting.
    """),
    code("""
    from scintirete_integrations import ScintireteClient

    if not os.environ.get("SCINTIRETE_ADDRESS"):
        print("SCINTIRETE_ADDRESS is not set: skipping the real server")
    else:
        with ScintireteClient.from_env() as client:
            remote = ScintireteVectorStore(hashing, collection_name="production_rag_tutorial", client=client)
            remote.add_documents(chunks)
            print(remote.collection.count(), "chunks on the server")
            print([doc.id for doc in remote.similarity_search("how to fix a flat bicycle tire", k=3)])
            remote.delete_collection()
    """),
]


NOTEBOOKS: dict[str, list[Cell]] = {
    "langchain_rag": LANGCHAIN_RAG,
    "llama_index": LLAMA_INDEX,
    "client_and_server": CLIENT_AND_SERVER,
    "production_rag": PRODUCTION_RAG,
}


def build(name: str) -> Any:
    """The notebook ``name`` without outputs, with cell ids that do not change between builds."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {"kernelspec": dict(KERNEL), "language_info": {"name": "python"}}
    for number, (kind, source) in enumerate(NOTEBOOKS[name], 1):
        maker = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        notebook.cells.append(maker(source, id=f"{name.replace('_', '-')}-{number:02d}"))
    return notebook


def execute(notebook: Any, timeout: int = CELL_TIMEOUT) -> None:
    """Run every cell in a fresh python3 kernel, in notebooks/, raising on the first error."""
    from nbclient import NotebookClient

    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        coalesce_streams=True,  # how prints are split into messages depends on timing
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    ).execute()
    # The kernel reports its exact Python version; keep the metadata stable across machines.
    notebook.metadata["language_info"] = {"name": "python"}


def output_texts(notebook: Any) -> Iterable[str]:
    """Every text an output of ``notebook`` shows (streams, results, errors)."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                yield output["text"]
            for value in output.get("data", {}).values():
                yield value if isinstance(value, str) else str(value)
            if output.get("output_type") == "error":
                yield "\n".join(output.get("traceback", []))


def problems(notebook: Any, secrets: Sequence[str] = ()) -> list[str]:
    """What must not be committed: errors, stderr output, machine paths, object addresses, secrets."""
    found: list[str] = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {cell.get('id')}: {output.get('ename')}: {output.get('evalue')}")
            if output.get("name") == "stderr":
                found.append(f"cell {cell.get('id')} wrote to stderr: {output.get('text', '')[:200]!r}")
    for text in output_texts(notebook):
        match = FORBIDDEN.search(text)
        if match:
            found.append(f"output contains {match.group(0)!r}: {text[:200]!r}")
        found += [f"output contains the secret {secret[:3]}..." for secret in secrets if secret in text]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"notebooks to build: {', '.join(NOTEBOOKS)} (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write the cells without running them")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebook(s) {', '.join(unknown)}; choose from {', '.join(NOTEBOOKS)}")
    NOTEBOOK_DIR.mkdir(exist_ok=True)
    status = 0
    for name in args.names or NOTEBOOKS:
        notebook = build(name)
        if not args.no_execute:
            execute(notebook)
            for problem in problems(notebook):
                print(f"{name}: {problem}", file=sys.stderr)
                status = 1
        nbformat.validate(notebook)
        path = NOTEBOOK_DIR / f"{name}.ipynb"
        nbformat.write(notebook, path)
        print(f"wrote {path.relative_to(ROOT)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
