"""The BM25 keyword index: tokenisation, scores checked by hand and by brute force, incremental updates."""

from __future__ import annotations

import doctest
import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scintirete_integrations.documents import keyword as keyword_module
from scintirete_integrations.documents.keyword import KeywordIndex, analyze, tokenize
from scintirete_integrations.errors import InvalidArgumentError


def test_docstring_examples() -> None:
    results = doctest.testmod(keyword_module)
    assert results.attempted and not results.failed


# -- tokenisation


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("", []),
        ("  ... !? -- ", []),
        ("Hello, world! (Yes) -- ok... 'quoted'", ["hello", "world", "yes", "ok", "quoted"]),
        # accents: the word as written, then its ASCII form; case-folded, NFKC-normalised
        ("Café naïve ZÜRICH", ["café", "cafe", "naïve", "naive", "zürich", "zurich"]),
        ("Cafe\u0301", ["café", "cafe"]),  # a combining accent composes (NFKC)
        (
            "Straße \uff21\uff22\uff23\uff11\uff12\uff13 \ufb01le",
            ["strasse", "abc123", "file"],
        ),  # full-width, ligature
        ("Łódź", ["łódź"]),  # ł has no accent-free ASCII form
        ("हिन्दी", ["हिन्दी"]),  # combining vowel signs stay inside the word
        # numbers
        ("pi is 3.14, not 1,000 or -5", ["pi", "is", "3.14", "3", "14", "not", "1", "000", "or", "5"]),
        ("v2.1.3", ["v2.1.3", "v2", "1", "3"]),
        # identifiers
        ("ERR_4031", ["err_4031", "err", "4031"]),
        ("snake_case_names", ["snake_case_names", "snake", "case", "names"]),
        ("__init__", ["__init__", "init"]),
        ("foo_foo", ["foo_foo", "foo"]),  # a term counts once per word
        ("parseHTTPResponse", ["parsehttpresponse", "parse", "http", "response"]),
        ("getX ver2Beta iPhone", ["getx", "get", "x", "ver2beta", "ver2", "beta", "iphone", "i", "phone"]),
        ("URLs IDs utf8 ERR4031", ["urls", "ids", "utf8", "err4031"]),
        ("state-of-the-art", ["state-of-the-art", "state", "of", "the", "art"]),
        ("user@example.com", ["user@example.com", "user", "example", "com"]),
        ("C++ and e.g. x.", ["c", "and", "e.g", "e", "g", "x"]),
        ("10:30 don't", ["10:30", "10", "30", "don't", "don", "t"]),
        # character scripts: each character, and the bigram it starts
        ("東京都", ["東", "東京", "京", "京都", "都"]),
        ("猫", ["猫"]),
        ("서울에서", ["서", "서울", "울", "울에", "에", "에서", "서"]),
        ("iPhone用のERR_4031", ["iphone", "i", "phone", "用", "用の", "の", "err_4031", "err", "4031"]),
    ],
)
def test_tokenize(text: str, terms: list[str]) -> None:
    assert tokenize(text) == terms


@pytest.mark.parametrize(
    ("text", "length"),
    [("", 0), ("ERR_4031 then err", 3), ("v2.1.3 is out", 3), ("東京都 ok", 4), ("Café!", 1)],
)
def test_length_counts_words_and_characters_not_parts(text: str, length: int) -> None:
    assert analyze(text)[1] == length


_ALPHABET = st.sampled_from([*"aBzQ07_-./:@' ,éßİ東京", "\u0301", "\uff76", "\ufb01"])


@given(st.lists(_ALPHABET, max_size=40).map("".join))
@settings(max_examples=300, deadline=None)
def test_analyze_counts_what_tokenize_lists(text: str) -> None:
    counts, length = analyze(text)
    assert counts == Counter(tokenize(text))
    assert length <= len(tokenize(text))
    # ASCII text takes a faster path; appending one accented word switches to the general one.
    if text.isascii():
        general, general_length = analyze(text + " é")
        general.pop("é")
        general.pop("e") if general["e"] == 1 else general.update(e=general["e"] - 1)
        assert (general, general_length - 1) == (counts, length)


# -- scores


def test_hand_computed_bm25() -> None:
    index = KeywordIndex()  # k1 = 1.2, b = 0.75
    index.put(
        ["d1", "d2", "d3"],
        ["apple banana apple", "banana cherry", "cherry cherry cherry date"],
    )
    # N = 3 records of lengths 3, 2, 4: avgdl = 9 / 3 = 3.
    # query "apple cherry":
    #   apple:  n = 1, idf = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = ln(1 + 2.5 / 1.5) = ln(8 / 3) = 0.98083
    #   cherry: n = 2, idf = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln(1 + 1.5 / 2.5) = ln(1.6)   = 0.47000
    # d1: apple tf 2, |d| 3: 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 3)) = 4.4 / 3.2 = 1.375
    #     score = 1.375 * ln(8 / 3) = 1.34864
    # d2: cherry tf 1, |d| 2: 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 3)) = 2.2 / 1.9
    #     score = 2.2 / 1.9 * ln(1.6) = 0.54421
    # d3: cherry tf 3, |d| 4: 3 * 2.2 / (3 + 1.2 * (0.25 + 0.75 * 4 / 3)) = 6.6 / 4.5
    #     score = 6.6 / 4.5 * ln(1.6) = 0.68934
    hits = index.search("apple cherry", k=10)
    assert [sid for sid, _ in hits] == ["d1", "d3", "d2"]
    expected = [1.375 * math.log(8 / 3), 6.6 / 4.5 * math.log(1.6), 2.2 / 1.9 * math.log(1.6)]
    assert [score for _, score in hits] == pytest.approx(expected, rel=1e-12)
    assert [score for _, score in hits] == pytest.approx([1.348640, 0.689339, 0.544215], abs=1e-6)
    # "banana" is in two records of three as well; a term written twice counts once.
    assert index.search("Cherry CHERRY", k=10) == index.search("cherry", k=10)
    assert index.search("kiwi", k=10) == []


def test_parameters_change_the_formula() -> None:
    index = KeywordIndex(k1=2.0, b=0.0)
    index.put(["d1", "d2"], ["apple apple pear", "pear"])
    # b = 0: no length normalisation. apple: n = 1 of N = 2, idf = ln(1 + 1.5 / 1.5) = ln 2
    (hit,) = index.search("apple", k=5)
    assert hit == ("d1", pytest.approx(math.log(2) * 2 * 3.0 / (2 + 2.0), rel=1e-12))
    with pytest.raises(InvalidArgumentError):
        KeywordIndex(b=1.5)
    with pytest.raises(InvalidArgumentError):
        KeywordIndex(k1=-1)


def test_identifier_queries_prefer_the_whole_identifier() -> None:
    index = KeywordIndex()
    index.put(
        ["exact", "parts", "other"],
        ["disk quota ERR_4031 raised", "err 4031", "an unrelated error"],
    )
    hits = index.search("ERR_4031", k=10)
    assert [sid for sid, _ in hits] == ["exact", "parts"]
    assert [sid for sid, _ in index.search("4031", k=10)] == ["parts", "exact"]  # shorter record first


def test_ties_are_broken_by_id() -> None:
    index = KeywordIndex()
    index.put(["b", "c", "a", "d"], ["same words", "same words", "same words", "other"])
    assert [sid for sid, _ in index.search("words", k=10)] == ["a", "b", "c"]
    assert [sid for sid, _ in index.search("words", k=2)] == ["a", "b"]


def test_allowed_restricts_without_changing_scores() -> None:
    index = KeywordIndex()
    index.put(
        [f"r{i}" for i in range(6)],
        ["alpha beta", "alpha", "beta gamma", "alpha alpha gamma", "delta", "alpha beta gamma"],
    )
    everything = index.search("alpha gamma", k=10)
    allowed = {"r1", "r2", "r4", "missing"}
    assert index.search("alpha gamma", k=10, allowed=allowed) == [h for h in everything if h[0] in allowed]
    assert index.search("alpha gamma", k=1, allowed=allowed) == [h for h in everything if h[0] in allowed][:1]
    assert index.search("alpha gamma", k=10, allowed=set()) == []


def test_arguments_are_checked() -> None:
    index = KeywordIndex()
    assert index.search("anything", k=3) == []
    with pytest.raises(InvalidArgumentError):
        index.search("x", k=0)
    with pytest.raises(InvalidArgumentError):
        index.put(["a", "b"], ["only one"])
    with pytest.raises(InvalidArgumentError):
        index.put("ab", ["x", "y"])
    index.put(["a"], ["kept"])
    with pytest.raises(InvalidArgumentError):
        index.put(["a", "b"], ["replaced", None])  # type: ignore[list-item]
    assert len(index) == 1 and index.search("kept", k=1)[0][0] == "a"  # a bad batch changes nothing


def test_term_frequencies_beyond_16_bits() -> None:
    index = _EagerIndex()
    index.put(["big", "small"], ["spam " * 70_000, "spam eggs"])
    index.put(["other", "more"], ["eggs", "eggs spam"])  # merges uint32 and uint16 frequencies
    assert len(index._segments) == 1
    corpus = {"big": "spam " * 70_000, "small": "spam eggs", "other": "eggs", "more": "eggs spam"}
    _same(index.search("spam eggs", k=4), _brute_force(corpus, "spam eggs"))


# -- incremental updates keep the statistics exact


class _EagerIndex(KeywordIndex):
    """Renumbers slots (and prunes terms) as soon as dead slots outnumber live ones."""

    _MIN_DEAD = 0


def _same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [sid for sid, _ in got] == [sid for sid, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("kind", [KeywordIndex, _EagerIndex])
def test_put_replace_remove_match_a_fresh_index(kind: type[KeywordIndex]) -> None:
    words = ["alpha", "beta", "gamma", "ERR_4031", "parseJson", "v2.1.3", "東京", "café", "zeta", "theta"]
    corpus = {f"r{i}": " ".join(words[(i * 7 + j) % len(words)] for j in range(1 + i % 5)) for i in range(40)}
    index = kind()
    index.put(list(corpus), list(corpus.values()))
    for i in range(0, 40, 3):  # replace one at a time: small segments that merge
        corpus[f"r{i}"] = f"{words[i % len(words)]} replaced text {i}"
        index.put([f"r{i}"], [corpus[f"r{i}"]])
    gone = [f"r{i}" for i in range(1, 40, 2)]
    index.remove([*gone, "never-there"])
    for sid in gone:
        del corpus[sid]
    corpus["r1"] = "alpha is back"  # re-put a removed id
    index.put(["r1", "new", "new"], ["alpha is back", "first version", "beta second version"])
    corpus["new"] = "beta second version"  # the last of duplicate ids wins
    fresh = KeywordIndex()
    fresh.put(list(corpus), list(corpus.values()))
    assert len(index) == len(fresh) == len(corpus)
    assert "new" in index and "r3" not in index
    for query in [*words, "replaced text", "alpha beta", "err 4031", "version", "first"]:
        _same(index.search(query, k=100), fresh.search(query, k=100))


def test_removing_everything_and_starting_again() -> None:
    index = _EagerIndex()
    index.put(["a", "b"], ["one two", "two three"])
    index.remove(["a", "b"])
    assert len(index) == 0 and index.search("two", k=5) == []
    index.put(["c"], ["three four"])
    assert [sid for sid, _ in index.search("three two", k=5)] == ["c"]
    assert index._vocabulary.terms == ["three", "four"]  # unused terms were pruned


# -- exactness against a brute-force scorer


def _brute_force(
    corpus: dict[str, str], query: str, k1: float = 1.2, b: float = 0.75
) -> list[tuple[str, float]]:
    """BM25 by the formula, over every record, with no index."""
    if not corpus:
        return []
    records = {sid: analyze(text) for sid, text in corpus.items()}
    n = len(records)
    average = sum(length for _, length in records.values()) / n
    scores: dict[str, float] = {}
    for term in dict.fromkeys(tokenize(query)):
        holders = [sid for sid, (tf, _) in records.items() if term in tf]
        if not holders:
            continue
        idf = math.log(1.0 + (n - len(holders) + 0.5) / (len(holders) + 0.5))
        for sid in holders:
            tf, length = records[sid][0][term], records[sid][1]
            part = idf * (tf * (k1 + 1.0)) / (tf + k1 * (1.0 - b + b * length / average))
            scores[sid] = scores.get(sid, 0.0) + part
    return sorted(scores.items(), key=lambda hit: (-hit[1], hit[0]))


_WORDS = st.sampled_from(["red", "green", "blue", "Red", "ERR_1", "err", "x.y", "东京", "café", "cafe", "a1"])
_TEXTS = st.lists(_WORDS, max_size=8).map(" ".join)
_IDS = st.sampled_from([f"id{i}" for i in range(12)])
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.lists(st.tuples(_IDS, _TEXTS), min_size=1, max_size=6)),
        st.tuples(st.just("remove"), st.lists(_IDS, max_size=4)),
    ),
    max_size=25,
)


@given(_OPERATIONS, st.lists(_TEXTS, min_size=1, max_size=4), st.integers(1, 15), st.booleans())
@settings(max_examples=200, deadline=None)
def test_search_agrees_with_brute_force(
    operations: list[tuple[str, list[Any]]], queries: list[str], k: int, eager: bool
) -> None:
    index = _EagerIndex() if eager else KeywordIndex()
    corpus: dict[str, str] = {}
    for action, items in operations:
        if action == "put":
            index.put([sid for sid, _ in items], [text for _, text in items])
            corpus.update(items)
        else:
            index.remove(items)
            for sid in items:
                corpus.pop(sid, None)
    assert len(index) == len(corpus)
    for query in queries:
        _same(index.search(query, k=k), _brute_force(corpus, query)[:k])
        allowed = set(list(corpus)[::2])
        want = [hit for hit in _brute_force(corpus, query) if hit[0] in allowed][:k]
        _same(index.search(query, k=k, allowed=allowed), want)


def test_max_score_bounds_every_score() -> None:
    index = KeywordIndex()
    index.put(["d1", "d2", "d3"], ["apple banana apple", "banana cherry", "cherry cherry cherry date"])
    bound = index.max_score("apple cherry kiwi")  # kiwi is in no record: it adds nothing
    assert bound == pytest.approx((math.log(8 / 3) + math.log(1.6)) * 2.2, rel=1e-12)
    assert all(0 < score < bound for _, score in index.search("apple cherry kiwi", k=3))
    assert index.max_score("kiwi") == 0.0
    assert KeywordIndex().max_score("apple") == 0.0
