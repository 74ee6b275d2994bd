"""The Scintirete gRPC clients: :class:`ScintireteClient` and :class:`AsyncScintireteClient`.

::

    from scintirete_integrations import ScintireteClient

    with ScintireteClient("localhost:9090", password="secret") as client:
        client.ensure_collection("default", "docs", metric="cosine")
        ids = client.insert_vectors("default", "docs", [[0.1, 0.2], [0.3, 0.4]], [{"n": 1}, {"n": 2}])
        hits = client.search("default", "docs", [0.1, 0.2], top_k=1)

Everything except I/O lives in :class:`_BaseClient`: configuration, auth,
validation, request building and result conversion. Each public method builds
a *plan*, a generator that yields :class:`Call` objects and receives their
responses; the sync client drives plans with blocking calls, the async client
with awaited ones. Multi-step operations (batched inserts, ``ensure_*``, the
document layer) are written once as plans.

This package only gathers the names; each module holds one part:

==================  ===========================================================
``calls.py``        what a plan yields: Call, Pause, Plan, and Timeout
``validation.py``   checks of names, counts, texts and vectors before sending
``config.py``       settings, auth, channel options, deadlines and retry pauses
``plans.py``        ``_BaseClient``: the request plans, one per RPC and more
``sync.py``         ``ScintireteClient``: a blocking channel and plan runner
``channels.py``     one grpc.aio channel per event loop
``aio.py``          ``AsyncScintireteClient``: an awaiting plan runner
==================  ===========================================================
"""

from __future__ import annotations

from .aio import AsyncScintireteClient as AsyncScintireteClient
from .calls import USE_CLIENT_DEFAULT as USE_CLIENT_DEFAULT
from .calls import Call as Call
from .calls import Pause as Pause
from .calls import Plan as Plan
from .calls import Timeout as Timeout
from .calls import _UseClientDefault as _UseClientDefault
from .channels import _aclose as _aclose
from .channels import _ChannelPerLoop as _ChannelPerLoop
from .channels import _LoopChannel as _LoopChannel
from .config import _GRPC_TARGET_SCHEMES as _GRPC_TARGET_SCHEMES
from .config import _URL_SCHEMES as _URL_SCHEMES
from .config import DEFAULT_ADDRESS as DEFAULT_ADDRESS
from .config import DEFAULT_INSERT_BATCH as DEFAULT_INSERT_BATCH
from .config import DEFAULT_MAX_MESSAGE_BYTES as DEFAULT_MAX_MESSAGE_BYTES
from .config import _check_address as _check_address
from .config import _ClientConfig as _ClientConfig
from .config import _env_flag as _env_flag
from .config import _read_pem as _read_pem
from .plans import _DELETE_BATCH as _DELETE_BATCH
from .plans import _SERVER_DEFAULT_EF as _SERVER_DEFAULT_EF
from .plans import _BaseClient as _BaseClient
from .plans import _batch_requests as _batch_requests
from .plans import _vector_bytes as _vector_bytes
from .sync import ScintireteClient as ScintireteClient
from .validation import VectorsLike as VectorsLike
from .validation import _check_ef as _check_ef
from .validation import _check_name as _check_name
from .validation import _check_texts as _check_texts
from .validation import _check_top_k as _check_top_k
from .validation import as_matrix as as_matrix
from .validation import as_vector as as_vector
from .validation import check_unicode as check_unicode

__all__ = ["USE_CLIENT_DEFAULT", "AsyncScintireteClient", "Call", "ScintireteClient"]
