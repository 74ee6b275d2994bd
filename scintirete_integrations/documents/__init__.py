"""The document layer: string ids, upsert, get, delete and complete filtered search over Scintirete v1.

Scintirete v1 assigns its own uint64 ids, has no get-by-id, update, listing or metadata
filter, searching is its only read, and a search cannot be relied on to reach every vector.
This package closes that gap once, for every adapter::

    from scintirete_integrations.documents import DocumentCollection, Record

    docs = DocumentCollection.connect("notes")              # embedded Lite server, in memory
    docs.upsert([Record("a", "the cat sat", [0.1, 0.9], {"year": 2024})])
    docs.get(["a"])                                          # [Record(id='a', ...)]
    docs.search([0.1, 0.8], k=3, filter={"year": {"$gte": 2020}})

How it works (the design note, ``docs/document-layer.md``, has the details):

- :mod:`.journal`: every write is a page numbered by a journal collection whose server ids
  count 1, 2, 3...; a read is complete when every page the counters announce is applied.
  Pages are found by nearest-neighbour look-ups at fixed vectors, never by enumerating a
  collection.
- :mod:`.book`: a page's bytes in vector elements, which survive a server restart (metadata
  does not); ``docs/on-server-format.md`` has the layout.
- :mod:`.view`: the visible records every applied page adds up to.
- :mod:`.records`: records, fingerprints and the page codec (exact metadata as JSON).
- :mod:`.writes`: upsert (data vectors, then the page) and delete (a page only).
- :mod:`.search`: server search rounds, exact scoring where the server cannot be trusted, MMR.
- :mod:`.keyword`, :mod:`.fusion`, :mod:`.hybrid`: BM25 keyword search over the view's texts,
  and its fusion with dense search (``search_keywords``, ``search_hybrid``).
- :mod:`.maintenance`: rebuilding the data collection without old versions, under a lock.
- :mod:`.connect`: connection arguments to clients, and the embedded Lite servers.

Scores: ``score`` is a relevance in [0, 1], higher is closer, from the distance: cosine
``1 - d / 2``; inner product ``(1 - d) / 2`` clipped to [0, 1]; L2 ``1 / (1 + d)``.
:func:`similarity_score` gives the similarity LlamaIndex stores report instead (cosine
``1 - d``, inner product ``-d``, L2 ``1 / (1 + d)``).
"""

from .aio import AsyncDocumentCollection
from .collection import DocumentCollection
from .connect import (
    ClosesWhatItMade,
    ViewCacheOption,
    close_client,
    resolve_clients,
    runs_embedded,
    view_cache_dir,
)
from .journal import IncompleteReadError, OlderFormatError
from .records import Record, ScoredRecord, check_metadata, new_id, relevance_score, similarity_score
from .search import maximal_marginal_relevance

__all__ = [
    "AsyncDocumentCollection",
    "ClosesWhatItMade",
    "DocumentCollection",
    "IncompleteReadError",
    "OlderFormatError",
    "Record",
    "ScoredRecord",
    "ViewCacheOption",
    "check_metadata",
    "close_client",
    "maximal_marginal_relevance",
    "new_id",
    "relevance_score",
    "resolve_clients",
    "runs_embedded",
    "similarity_score",
    "view_cache_dir",
]
