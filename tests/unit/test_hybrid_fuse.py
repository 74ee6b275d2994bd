"""Fusing scored records (documents/hybrid.py): the fused relevance each mode documents."""

from __future__ import annotations

import pytest

from scintirete_integrations.documents import Record, ScoredRecord
from scintirete_integrations.documents.fusion import reciprocal_rank_fusion, relative_score_fusion
from scintirete_integrations.documents.hybrid import check_fusion, fuse
from scintirete_integrations.errors import InvalidArgumentError


def hits(*pairs: tuple[str, float], vector: bool = False) -> list[ScoredRecord]:
    return [
        ScoredRecord(Record(sid, f"text {sid}", [1.0, 0.0] if vector else None), 1.0 - score, score)
        for sid, score in pairs
    ]


DENSE = hits(("a", 0.9), ("b", 0.8), ("c", 0.6), vector=True)
KEYWORD = hits(("c", 0.7), ("d", 0.4), ("a", 0.1))


def pairs(found: list[ScoredRecord]) -> list[tuple[str, float]]:
    return [(hit.record.id, hit.score) for hit in found]


def assert_same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [sid for sid, _ in got] == [sid for sid, _ in want]
    assert [score for _, score in got] == pytest.approx([score for _, score in want])


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 1.0])
def test_relative_fusion_scores_are_the_fused_values(alpha: float) -> None:
    fused = fuse(DENSE, KEYWORD, 4, "relative", alpha)
    want = relative_score_fusion(pairs(DENSE), pairs(KEYWORD), alpha=alpha, limit=4)
    assert_same(pairs(fused), want)
    assert all(hit.distance == pytest.approx(1.0 - hit.score) for hit in fused)


def test_rrf_scores_are_scaled_to_one_for_first_everywhere() -> None:
    first_in_both = fuse(hits(("a", 0.9), ("b", 0.1)), hits(("a", 3.0), ("c", 1.0)), 3, "rrf", 0.5)
    assert first_in_both[0].record.id == "a" and first_in_both[0].score == pytest.approx(1.0)
    fused = fuse(DENSE, KEYWORD, 4, "rrf", 0.3)
    raw = reciprocal_rank_fusion([pairs(DENSE), pairs(KEYWORD)], weights=[0.3, 0.7], limit=4)
    assert_same(pairs(fused), [(sid, score * 61) for sid, score in raw])


def test_a_record_in_both_lists_keeps_the_dense_copy_with_its_vector() -> None:
    fused = {hit.record.id: hit.record for hit in fuse(DENSE, KEYWORD, 4, "relative", 0.5)}
    assert fused["a"].vector is not None and fused["c"].vector is not None and fused["d"].vector is None


def test_bad_fusion_settings_are_refused() -> None:
    check_fusion("rrf", 0)
    with pytest.raises(InvalidArgumentError, match="fusion must be one of 'relative', 'rrf'"):
        check_fusion("sum", 0.5)
    for alpha in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(InvalidArgumentError, match="alpha must be a number between 0"):
            check_fusion("relative", alpha)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="k must be a positive integer"):
        fuse(DENSE, KEYWORD, 0, "relative", 0.5)
