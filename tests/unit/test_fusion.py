"""Fusing dense and keyword result lists: reciprocal rank fusion and alpha-weighted normalised scores."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scintirete_integrations.documents import fusion as fusion_module
from scintirete_integrations.documents.fusion import (
    min_max_normalise,
    reciprocal_rank_fusion,
    relative_score_fusion,
    weighted_score_fusion,
)
from scintirete_integrations.errors import InvalidArgumentError

DENSE = [("a", 0.91), ("b", 0.85), ("c", 0.80), ("d", 0.62)]
KEYWORD = [("c", 14.2), ("e", 9.1), ("a", 3.3)]


def test_docstring_examples() -> None:
    results = doctest.testmod(fusion_module)
    assert results.attempted and not results.failed


def test_reciprocal_rank_fusion_by_hand() -> None:
    # constant 60, ranks from 1:
    #   a: dense 1, keyword 3 -> 1/61 + 1/63 = 0.032266
    #   c: dense 3, keyword 1 -> 1/63 + 1/61 = 0.032266 (tie with a: dense, the first list, ranks a higher)
    #   b: dense 2            -> 1/62        = 0.016129
    #   e: keyword 2          -> 1/62        = 0.016129 (tie with b: dense ranks b, keyword only e)
    #   d: dense 4            -> 1/64        = 0.015625
    fused = reciprocal_rank_fusion([DENSE, KEYWORD])
    assert [sid for sid, _ in fused] == ["a", "c", "b", "e", "d"]
    assert [score for _, score in fused] == pytest.approx(
        [1 / 61 + 1 / 63, 1 / 63 + 1 / 61, 1 / 62, 1 / 62, 1 / 64]
    )
    assert reciprocal_rank_fusion([DENSE, KEYWORD], limit=2) == fused[:2]
    # the list order is the priority for ties: keyword first puts c before a and e before b
    assert [sid for sid, _ in reciprocal_rank_fusion([KEYWORD, DENSE])] == ["c", "a", "e", "b", "d"]


def test_reciprocal_rank_fusion_weights_and_constant() -> None:
    fused = dict(reciprocal_rank_fusion([DENSE, KEYWORD], constant=0, weights=[2.0, 1.0]))
    assert fused["a"] == pytest.approx(2 / 1 + 1 / 3)
    assert fused["e"] == pytest.approx(1 / 2)
    # weight 0 leaves a list out entirely: RRF of the dense list alone keeps its order
    only_dense = reciprocal_rank_fusion([DENSE, KEYWORD], weights=[1.0, 0.0])
    assert [sid for sid, _ in only_dense] == [sid for sid, _ in DENSE]


def test_a_record_counts_once_per_list() -> None:
    fused = dict(reciprocal_rank_fusion([[("a", 1.0), ("b", 0.5), ("a", 0.1)]]))
    assert fused == {"a": pytest.approx(1 / 61), "b": pytest.approx(1 / 62)}


def test_min_max_normalise() -> None:
    assert min_max_normalise([("a", 12.0), ("b", 9.0), ("c", 6.0)]) == [("a", 1.0), ("b", 0.5), ("c", 0.0)]
    assert min_max_normalise([("a", 0.3)]) == [("a", 1.0)]  # one record: the list's best
    assert min_max_normalise([("a", 2.0), ("b", 2.0)]) == [("a", 1.0), ("b", 1.0)]  # all tied: all best
    assert min_max_normalise([]) == []
    assert min_max_normalise([("a", -1.0), ("b", -3.0)]) == [("a", 1.0), ("b", 0.0)]
    with pytest.raises(InvalidArgumentError):
        min_max_normalise([("a", float("nan"))])


def test_relative_score_fusion_by_hand() -> None:
    # dense (0.91 .. 0.62): a 1, b (0.85 - 0.62) / 0.29 = 0.793103, c 0.62069, d 0
    # keyword (14.2 .. 3.3): c 1, e (9.1 - 3.3) / 10.9 = 0.532110, a 0
    fused = relative_score_fusion(DENSE, KEYWORD, alpha=0.6)
    expected = {
        "a": 0.6 * 1.0 + 0.4 * 0.0,
        "b": 0.6 * (0.85 - 0.62) / 0.29,
        "c": 0.6 * (0.80 - 0.62) / 0.29 + 0.4 * 1.0,
        "d": 0.0,
        "e": 0.4 * (9.1 - 3.3) / 10.9,
    }
    assert [sid for sid, _ in fused] == ["c", "a", "b", "e", "d"]
    assert dict(fused) == pytest.approx(expected)


def test_alpha_one_and_zero_reproduce_each_list() -> None:
    assert [sid for sid, _ in relative_score_fusion(DENSE, KEYWORD, alpha=1.0)] == ["a", "b", "c", "d"]
    assert [sid for sid, _ in relative_score_fusion(DENSE, KEYWORD, alpha=0.0)] == ["c", "e", "a"]
    assert relative_score_fusion(DENSE, [], alpha=0.5)[0] == ("a", 0.5)
    assert relative_score_fusion([], [], alpha=0.5) == []


def test_ties_in_normalised_scores() -> None:
    # a single-record list normalises to 1, so at alpha 0.5 both lists' best records tie at 0.5:
    # the dense one comes first; records no list tells apart come by id
    fused = relative_score_fusion([("z", 0.7)], [("y", 3.0)], alpha=0.5)
    assert fused == [("z", 0.5), ("y", 0.5)]
    tied = weighted_score_fusion([[("q", 1.0), ("p", 1.0)]], [1.0])
    assert tied == [("q", 1.0), ("p", 1.0)]  # same score, ranked q first by the list
    assert weighted_score_fusion([[("q", 1.0)], [("p", 1.0)]], [1.0, 1.0]) == [("q", 1.0), ("p", 1.0)]


def test_arguments_are_checked() -> None:
    with pytest.raises(InvalidArgumentError):
        relative_score_fusion(DENSE, KEYWORD, alpha=1.5)
    with pytest.raises(InvalidArgumentError):
        reciprocal_rank_fusion([DENSE], constant=-1)
    with pytest.raises(InvalidArgumentError):
        reciprocal_rank_fusion([DENSE, KEYWORD], weights=[1.0])
    with pytest.raises(InvalidArgumentError):
        weighted_score_fusion([DENSE], [-0.5])
    with pytest.raises(InvalidArgumentError):
        reciprocal_rank_fusion([DENSE], limit=0)


_LISTS = st.lists(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.floats(-5, 5)), max_size=8).map(
        lambda hits: sorted(dict(hits).items(), key=lambda hit: -hit[1])
    ),
    min_size=1,
    max_size=3,
)


@given(_LISTS)
@settings(max_examples=200, deadline=None)
def test_single_list_order_is_kept(lists: list[list[tuple[str, float]]]) -> None:
    """Fusing one list (or giving the others weight 0) returns it in its own order, whatever its scores."""
    first = lists[0]
    order = [sid for sid, _ in first]
    weights = [1.0] + [0.0] * (len(lists) - 1)
    assert [sid for sid, _ in reciprocal_rank_fusion(lists, weights=weights)] == order
    assert [sid for sid, _ in weighted_score_fusion(lists, weights)] == order
    fused = reciprocal_rank_fusion(lists)
    assert [score for _, score in fused] == sorted((score for _, score in fused), reverse=True)
    assert sorted(sid for sid, _ in fused) == sorted({sid for hits in lists for sid, _ in hits})
