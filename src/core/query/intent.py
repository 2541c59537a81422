"""What kind of answer a request wants (``intent``) and the order it asks for (``sort``).

* availability: "apakah ada", "ada gak", "masih ada", "ready", "tersedia", "stok ... ?", "is there",
  "in stock", "available", "do you have"; also a question that opens with "ada" ("ada laptop gaming?").
* compare: "bandingkan", "banding", "vs", "versus", "mana yang lebih", "compare", "which is better", or
  "atau"/"or" between two brands or product lines ("asus atau lenovo").
* sort: "termurah", "paling murah", "cheapest" -> price_asc; "termahal", "paling mahal", "most expensive"
  -> price_desc; "terdekat", "nearest" -> nearest. Plain "murah"/"cheap" is only ``prefer_cheaper``.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.query.brands import brand_of
from core.query.model import Intent, Sort
from core.query.vocabulary import (
    AVAILABILITY_PHRASES,
    COMPARE_PHRASES,
    NEAREST_PHRASES,
    PRICE_ASC_PHRASES,
    PRICE_DESC_PHRASES,
    STOCK_WORDS,
)


def find_phrase(
    words: Sequence[str], phrases: tuple[tuple[str, ...], ...], skip: frozenset[int] = frozenset()
) -> list[int] | None:
    """Token indices of the longest phrase found (earliest first among equal lengths), or None."""
    for phrase in sorted(phrases, key=len, reverse=True):
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) == phrase and not any(j in skip for j in range(i, i + n)):
                return list(range(i, i + n))
    return None


def detect_sort(words: Sequence[str], skip: frozenset[int]) -> tuple[Sort | None, frozenset[int]]:
    for sort, phrases in (("price_asc", PRICE_ASC_PHRASES), ("price_desc", PRICE_DESC_PHRASES)):
        found = find_phrase(words, phrases, skip)
        if found is not None:
            return sort, frozenset(found)  # type: ignore[return-value]
    found = find_phrase(words, NEAREST_PHRASES, skip)
    if found is not None:
        return "nearest", frozenset(found)
    return None, frozenset()


def detect_intent(
    words: Sequence[str],
    raw_text: str,
    skip: frozenset[int],
    *,
    follow_up_cheaper: bool,
    brands: tuple[str, ...] = (),
) -> Intent | None:
    """``brands``: the brands asked for (an "atau" between excluded brands is no comparison)."""
    if find_phrase(words, COMPARE_PHRASES, skip) is not None or _either_of_two_brands(words, brands):
        return "compare"
    question = "?" in raw_text
    if find_phrase(words, AVAILABILITY_PHRASES, skip) is not None:
        return "availability"
    if question and any(w in STOCK_WORDS for w in words):
        return "availability"
    opens_with_ada = bool(words) and words[0] == "ada" and (len(words) < 2 or words[1] not in {"yang", "yg"})
    if question and opens_with_ada and not follow_up_cheaper:
        return "availability"
    return None


def _either_of_two_brands(words: Sequence[str], brands: tuple[str, ...]) -> bool:
    """ "asus atau lenovo", "iphone or galaxy": a choice between two brands or lines asked for."""
    for i in range(1, len(words) - 1):
        if words[i] in {"atau", "or", "ato", "apa"}:
            left, right = brand_of(words[i - 1]), brand_of(words[i + 1])
            if left in brands and right in brands and words[i - 1] != words[i + 1]:
                return True
    return False
