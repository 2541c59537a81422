"""Misspelt category words, brands and place names ("leptop", "handphon", "smarphone", "Surabya").

Only words of 5+ letters that are not known words are corrected, to a target with the same first letter
within a small edit distance (optimal string alignment, so a swap of two letters is one edit): 1 for
words of 5 to 7 letters, 2 for longer ones. A place word is corrected only after a place preposition
("di Surabya") or right after another place word, because place names are many and short words near
them are common. Distances come from rapidfuzz.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from core.query.gazetteer import Gazetteer
from core.query.vocabulary import (
    ACCESSORY_WORDS,
    AVAILABILITY_PHRASES,
    BRAND_FILLER,
    BRANDS,
    CHEAP_WORDS,
    COMPARE_PHRASES,
    HP_BRAND_CONTEXT,
    LANGUAGE_WORDS_EN,
    LANGUAGE_WORDS_ID,
    PLACE_PREPOSITIONS_STRONG,
    PLACE_PREPOSITIONS_WEAK,
    PRICE_ASC_PHRASES,
    PRICE_DESC_PHRASES,
    PRODUCT_LINES,
    SPEC_UNITS,
    STOPWORDS,
    STRONG_CATEGORY_WORDS,
    UPPER_BOUND_PHRASES,
    WEAK_CATEGORY_WORDS,
)

MIN_LETTERS = 5


def max_edits(word: str) -> int:
    return 1 if len(word) <= 7 else 2


@cache
def _product_targets() -> tuple[str, ...]:
    words = {w for phrase in STRONG_CATEGORY_WORDS for w in phrase.split()} | BRANDS | set(PRODUCT_LINES)
    return tuple(sorted(w for w in words if len(w) >= MIN_LETTERS and w.isalpha()))


@cache
def _known_words() -> frozenset[str]:
    words = set(STOPWORDS) | LANGUAGE_WORDS_ID | LANGUAGE_WORDS_EN | CHEAP_WORDS | SPEC_UNITS | ACCESSORY_WORDS
    words |= BRAND_FILLER | HP_BRAND_CONTEXT | set(WEAK_CATEGORY_WORDS) | set(_product_targets())
    words |= {w for phrase in STRONG_CATEGORY_WORDS for w in phrase.split()}
    for phrases in (UPPER_BOUND_PHRASES, AVAILABILITY_PHRASES, COMPARE_PHRASES, PRICE_ASC_PHRASES, PRICE_DESC_PHRASES):
        words |= {w for phrase in phrases for w in phrase}
    return frozenset(words)


def _closest(word: str, targets: Sequence[str]) -> tuple[str, int] | None:
    limit = max_edits(word)
    same_start = [t for t in targets if t[0] == word[0] and abs(len(t) - len(word)) <= limit]
    found = process.extractOne(word, same_start, scorer=OSA.distance, score_cutoff=limit)
    return (found[0], int(found[1])) if found else None


def correct_typos(words: Sequence[str], gazetteer: Gazetteer) -> list[str]:
    """``words`` with misspelt category, brand and place words replaced by the intended word."""
    known = _known_words()
    out = list(words)
    for i, word in enumerate(words):
        if len(word) < MIN_LETTERS or not word.isalpha() or word in known or word in gazetteer.words:
            continue
        best = _closest(word, _product_targets())
        before = out[i - 1] if i > 0 else ""
        place_context = before in PLACE_PREPOSITIONS_STRONG | PLACE_PREPOSITIONS_WEAK or before in gazetteer.words
        if place_context:
            place = _closest(word, gazetteer.typo_targets)
            if place is not None and (best is None or place[1] < best[1]):
                best = place
        if best is not None:
            out[i] = best[0]
    return out
