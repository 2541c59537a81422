"""Product category from words and synonyms (Indonesian and English).

The first strong synonym decides ("keyboard untuk laptop" -> keyboard, "laptop dengan layar 15 inch" ->
laptop); weak synonyms ("layar", "tab", "android", "hp") count only when no strong one appears.
"hp" is the brand HP when one of ``HP_BRAND_CONTEXT`` ("laptop", "notebook", "printer", "pavilion", ...)
is within two words of it ("laptop HP", "HP laptop", "HP Pavilion"); otherwise it is Indonesian for a
mobile phone ("hp samsung", "hp murah", "beli hp"). A category word next to an accessory word ("tas
laptop", "mouse pad") does not set the category.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from core.query.vocabulary import (
    ACCESSORY_WORDS,
    HP_BRAND_CONTEXT,
    STRONG_CATEGORY_WORDS,
    WEAK_CATEGORY_WORDS,
)

_LONGEST = max(len(p.split()) for p in (*STRONG_CATEGORY_WORDS, *WEAK_CATEGORY_WORDS))


@dataclass(frozen=True, slots=True)
class CategoryResult:
    category: str | None
    used: frozenset[int]  # token indices that are category words (not keywords)
    hp_is_brand: bool  # some "hp" token means the brand HP
    strong: bool = False  # decided by a strong synonym (not "layar", "tab", "hp")


def _hp_is_brand(words: Sequence[str], index: int) -> bool:
    nearby = words[max(0, index - 2) : index] + words[index + 1 : index + 3]
    pairs = {f"{a} {b}" for a, b in pairwise(nearby)}
    return any(w in HP_BRAND_CONTEXT for w in nearby) or bool(pairs & HP_BRAND_CONTEXT)


def detect_category(words: Sequence[str], skip: frozenset[int] = frozenset()) -> CategoryResult:
    """Category of a tokenised query; ``skip`` holds indices already used (prices, the place)."""
    strong: list[tuple[int, str]] = []
    weak: list[tuple[int, str]] = []
    used: set[int] = set()
    hp_brand = False
    i = 0
    while i < len(words):
        if i in skip:
            i += 1
            continue
        hit: tuple[str, int, bool] | None = None
        for length in range(min(_LONGEST, len(words) - i), 0, -1):
            span = range(i, i + length)
            if any(j in skip for j in span):
                continue
            phrase = " ".join(words[i : i + length])
            if phrase in STRONG_CATEGORY_WORDS:
                hit = (STRONG_CATEGORY_WORDS[phrase], length, True)
                break
            if phrase in WEAK_CATEGORY_WORDS:
                hit = (WEAK_CATEGORY_WORDS[phrase], length, False)
                break
        if hit is None:
            i += 1
            continue
        category, length, is_strong = hit
        if words[i] == "hp" and length == 1 and _hp_is_brand(words, i):
            hp_brand = True
            i += 1
            continue
        before = words[i - 1] if i > 0 else ""
        after = words[i + length] if i + length < len(words) else ""
        if before in ACCESSORY_WORDS or after in ACCESSORY_WORDS:
            i += length
            continue
        (strong if is_strong else weak).append((i, category))
        used.update(range(i, i + length))
        i += length
    chosen = strong[0][1] if strong else weak[0][1] if weak else None
    return CategoryResult(chosen, frozenset(used), hp_brand, strong=bool(strong))
