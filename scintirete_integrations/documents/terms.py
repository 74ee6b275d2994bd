"""The terms a text is indexed under, the same for records and queries (:mod:`.keyword`).

- The text is NFKC-normalised (full-width letters, ligatures and compatibility forms become
  their plain equivalents) and every term is case-folded (``Straße`` -> ``strasse``).
- A *word* is a run of Unicode letters, digits, combining marks and ``_``, which may also
  contain single ``-``, ``.``, ``/``, ``:``, ``@`` or apostrophes (``'``, U+2019) between two
  such characters: ``ERR_4031``, ``v2.1.3``, ``state-of-the-art``, ``user@example.com`` and
  ``10:30`` are one word each; ``C++`` is ``c``; ``1,000`` is two words. Everything else
  separates words. Each word counts 1 towards the record's length.
- A word is indexed as itself, plus, at the same position (not counted in the length):
  its *parts* split at ``_`` and the joiners above (``ERR_4031`` -> ``err``, ``4031``), then
  at camelCase boundaries (``parseHTTPResponse`` -> ``parse``, ``http``, ``response``; a
  split happens before an upper-case letter that follows a lower-case letter or digit, or
  that starts a capitalised run: letters and digits are never split apart, so ``utf8`` and
  ``v2`` stay whole), plus the accent-free form of any of these when removing its combining
  accents leaves plain ASCII (``café`` -> ``cafe``; ``łódź`` has no such form). So the query
  ``ERR_4031`` matches records writing ``ERR_4031``, ``err 4031`` or ``Err-4031``, and ranks
  records with the whole identifier first (they match three query terms: the word and both
  parts). A term counts once per word, however many of its parts produce it.
- Chinese, Japanese and Korean script, and the other scripts written without spaces between
  words (Thai, Lao, Khmer, Myanmar), are indexed by character: each character is one
  position (counted in the length) indexed as itself and as the bigram it starts
  (``東京都`` -> ``東``, ``東京``, ``京``, ``京都``, ``都``). A query's bigrams make
  records containing the exact phrase rank first, its single characters still match
  one-character words. This needs no dictionary, at the price of some false matches.
- No stemming and no stop words: the index is for the exact names, codes and rare words
  that dense retrieval misses; inflections are the dense side's job, and idf makes frequent
  words weigh almost nothing.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["analyze", "tokenize"]

# Scripts indexed by character: CJK (Han, kana, Hangul, their symbols) and the Southeast
# Asian scripts that do not separate words with spaces.
_CHARACTER_SCRIPTS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3005-\u3007\u3021-\u3029\u3038-\u303c"  # ideographic iteration marks and numerals
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK ideographs
    "\ua960-\ua97f\uac00-\ud7ff"  # Hangul
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003ffff"  # CJK ideographs, supplementary planes
)
_JOINERS = "-./:@'\u2019"
_PART_SEPARATORS = re.compile(f"[{re.escape(_JOINERS)}_]+")


@dataclass(frozen=True)
class _Patterns:
    """Candidate words are found by a fast pattern where character-script letters count as letters;
    the few candidates holding such letters are then split by the exact (slower) one."""

    words: re.Pattern[str]  # candidates, in text without combining marks
    words_with_marks: re.Pattern[str]  # candidates, in any text
    marks: re.Pattern[str]
    runs: re.Pattern[str]  # character-script runs
    split: re.Pattern[str]  # a candidate's words and character-script runs (group 1), in order


@functools.cache
def _patterns() -> _Patterns:
    """Built on first use: listing the combining marks scans the Unicode tables (20 ms)."""
    codes = [
        code
        for code in (*range(0x300, 0x20000), *range(0xE0100, 0xE01F0))
        if unicodedata.category(chr(code)) in ("Mn", "Mc", "Me")
    ]
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    marks = "".join(f"{re.escape(chr(first))}-{re.escape(chr(last))}" for first, last in ranges)
    joiner = f"[{re.escape(_JOINERS)}]"
    char = f"[\\w{marks}]"
    exact_char = f"(?:[^\\W{_CHARACTER_SCRIPTS}]|[{marks}])"
    run = f"[{_CHARACTER_SCRIPTS}]+"
    return _Patterns(
        words=re.compile(f"\\w+(?:{joiner}\\w+)*"),
        words_with_marks=re.compile(f"{char}+(?:{joiner}{char}+)*"),
        marks=re.compile(f"[{marks}]"),
        runs=re.compile(run),
        split=re.compile(f"({run})|{exact_char}+(?:{joiner}{exact_char}+)*"),
    )


def _candidates(text: str) -> list[str]:
    """The matches of the fast word pattern in normalised ``text``."""
    patterns = _patterns()
    if text.isascii() or not patterns.marks.search(text):
        return patterns.words.findall(text)
    return patterns.words_with_marks.findall(text)


def _is_plain(word: str) -> bool:
    """An ASCII word with no parts and no accents: lower-case, capitalised, upper-case or digits."""
    return word.isascii() and word.isalnum() and (word[1:].islower() or word.isupper() or word.isdigit())


def _fold(term: str) -> str:
    if term.isascii():
        return term.lower()
    return unicodedata.normalize("NFKC", term.casefold())


def _starts_word(segment: str, i: int) -> bool:
    """Whether the upper-case ``segment[i]``, after another, starts a capitalised word (``HTTPResponse``).

    A plural ``s`` does not count: ``URLs`` and ``IDs`` stay whole.
    """
    after = segment[i + 1 : i + 3]
    return after[:1].islower() and not (after[0] == "s" and not after[1:].islower())


def _camel_parts(segment: str) -> list[str]:
    """``parseHTTPResponse`` -> ``parse``, ``HTTP``, ``Response``; one part when there is no boundary."""
    if segment[1:] == segment[1:].lower():  # no upper-case letter after the first: the common case
        return [segment]
    parts, start = [], 0
    for i in range(1, len(segment)):
        char, before = segment[i], segment[i - 1]
        if char.isupper() and (
            before.islower() or before.isdigit() or (before.isupper() and _starts_word(segment, i))
        ):
            parts.append(segment[start:i])
            start = i
    parts.append(segment[start:])
    return parts


def _ascii_form(term: str) -> str | None:
    """``café`` -> ``cafe``: the term without combining marks, when that is plain ASCII."""
    if term.isascii():
        return None
    stripped = "".join(c for c in unicodedata.normalize("NFD", term) if not unicodedata.combining(c))
    return stripped if stripped.isascii() and stripped != term else None


@functools.lru_cache(maxsize=1 << 16)
def _word_terms(word: str) -> tuple[str, ...]:
    """The distinct terms one word is indexed as: the word itself first, then parts and ASCII forms."""
    whole = _fold(word)
    if _is_plain(word):
        return (whole,)
    pieces: list[str] = []
    segments = [s for s in _PART_SEPARATORS.split(word) if s]
    if len(segments) > 1 or (segments and segments[0] != word):
        pieces.extend(segments)
    for segment in segments:
        parts = _camel_parts(segment)
        if len(parts) > 1:
            pieces.extend(parts)
    terms = dict.fromkeys([whole, *map(_fold, pieces)])
    for term in list(terms):
        ascii_term = _ascii_form(term)
        if ascii_term is not None:
            terms.setdefault(ascii_term)
    return tuple(terms)


def _run_terms(run: str) -> Iterator[tuple[str, ...]]:
    """Per character of a character-script run: the character, and the bigram it starts."""
    for i, char in enumerate(run):
        yield (char, run[i : i + 2]) if i + 1 < len(run) else (char,)


def _normalise(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _candidate_positions(candidate: str) -> list[tuple[str, ...]]:
    """The terms of each position of one match of the ``scan`` pattern, in order."""
    patterns = _patterns()
    if candidate.isascii() or not patterns.runs.search(candidate):
        return [_word_terms(candidate)]
    positions: list[tuple[str, ...]] = []
    for match in patterns.split.finditer(candidate):
        run = match.group(1)
        positions.extend(_run_terms(run) if run else [_word_terms(match.group())])
    return positions


def tokenize(text: str) -> list[str]:
    """The terms of ``text`` in order, each word's own term before its parts (see the module docstring).

    >>> tokenize("Fix ERR_4031 in parseJSON, v2.1.3 (café)")
    ['fix', 'err_4031', 'err', '4031', 'in', 'parsejson', 'parse', 'json', 'v2.1.3', 'v2', '1', '3', 'café', 'cafe']
    >>> tokenize("東京都")
    ['東', '東京', '京', '京都', '都']
    """
    return [
        term
        for candidate in _candidates(_normalise(text))
        for position in _candidate_positions(candidate)
        for term in position
    ]


def analyze(text: str) -> tuple[dict[str, int], int]:
    """``(term frequencies, length)`` of a record's text: ``Counter(tokenize(text))`` and its positions.

    >>> analyze("ERR_4031 then err")
    ({'err_4031': 1, 'then': 1, 'err': 2, '4031': 1}, 3)
    """
    if text.isascii():  # the common case, mostly at C speed
        words = _candidates(text)
        counts = Counter(map(str.lower, words))
        for word, times in Counter(words).items():
            if not (word.islower() and word.isalnum()):  # may have parts: ask the cached analysis
                for term in _word_terms(word)[1:]:
                    counts[term] += times
        return dict(counts), len(words)
    frequencies: dict[str, int] = {}
    length = 0
    for candidate, times in Counter(_candidates(_normalise(text))).items():
        positions = _candidate_positions(candidate)
        length += times * len(positions)
        for position in positions:
            for term in position:
                frequencies[term] = frequencies.get(term, 0) + times
    return frequencies, length
