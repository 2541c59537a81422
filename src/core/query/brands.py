"""Brands asked for and brands ruled out, from brand words and from product lines that imply them.

"hp samsung" -> brands ("samsung",); "ipad murah" -> ("apple",) with the category tablet implied;
"laptop selain asus" -> exclude ("asus",); "bukan samsung atau apple" -> exclude both: an exclusion word
("selain", "bukan", "kecuali", "tanpa", "except", "not", "other than") covers the brands that follow it,
joined by "dan", "atau", "and", "or" or a comma. "hp" counts as the brand HP only where category
detection says so ("laptop HP").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.query.vocabulary import BRAND_ALIASES, BRAND_FILLER, BRAND_JOINERS, BRANDS, EXCLUDE_PHRASES, PRODUCT_LINES

_LONGEST_EXCLUDE = max(len(p) for p in EXCLUDE_PHRASES)


@dataclass(frozen=True, slots=True)
class BrandResult:
    brands: tuple[str, ...]
    exclude_brands: tuple[str, ...]
    line_category: str | None  # the category the first product line implies ("ipad" -> tablet)
    brand_tokens: frozenset[int]  # brand words and exclusion words (not keywords)
    excluded_tokens: frozenset[int]  # product-line words that were excluded (not keywords either)
    exclusion_tokens: frozenset[int] = frozenset()  # the exclusion words themselves ("selain", "other than")


def brand_of(word: str) -> str | None:
    """The brand a word names: a brand ("asus"), an alias ("hewlett" -> hp) or a product line ("rog" -> asus)."""
    if word in BRAND_ALIASES:
        return BRAND_ALIASES[word]
    if word in BRANDS:
        return word
    line = PRODUCT_LINES.get(word)
    return line[0] if line else None


def _exclusion_at(words: Sequence[str], i: int) -> int:
    """Length of the exclusion phrase starting at ``i`` (0 if none)."""
    for length in range(min(_LONGEST_EXCLUDE, len(words) - i), 0, -1):
        if tuple(words[i : i + length]) in EXCLUDE_PHRASES:
            return length
    return 0


def detect_brands(
    words: Sequence[str], skip: frozenset[int] = frozenset(), *, hp_is_brand: bool = False
) -> BrandResult:
    brands: list[str] = []
    excluded: list[str] = []
    brand_tokens: set[int] = set()
    excluded_lines: set[int] = set()
    exclusion_words: set[int] = set()
    line_category: str | None = None
    excluding = False
    i = 0
    while i < len(words):
        if i in skip:
            excluding = False
            i += 1
            continue
        word = words[i]
        length = _exclusion_at(words, i)
        if length:
            j = i + length
            while j < len(words) and j not in skip and words[j] in BRAND_FILLER:
                j += 1
            if j < len(words) and j not in skip and _brand_word(words[j], hp_is_brand):
                brand_tokens.update(range(i, i + length))
                exclusion_words.update(range(i, i + length))
                excluding = True
                i += length
                continue
        brand = _brand_word(word, hp_is_brand)
        if brand is not None:
            if excluding:
                if brand not in excluded:
                    excluded.append(brand)
                if word in PRODUCT_LINES:
                    excluded_lines.add(i)
            else:
                if brand not in brands:
                    brands.append(brand)
                line = PRODUCT_LINES.get(word)
                if line and line[1] and line_category is None:
                    line_category = line[1]
            if word not in PRODUCT_LINES:
                brand_tokens.add(i)
        elif word in BRAND_FILLER:
            pass
        elif not (excluding and (word in BRAND_JOINERS or word == ",")):
            excluding = False
        i += 1
    return BrandResult(
        brands=tuple(b for b in brands if b not in excluded),
        exclude_brands=tuple(excluded),
        line_category=line_category,
        brand_tokens=frozenset(brand_tokens),
        excluded_tokens=frozenset(excluded_lines),
        exclusion_tokens=frozenset(exclusion_words),
    )


def _brand_word(word: str, hp_is_brand: bool) -> str | None:
    if word == "hp":
        return "hp" if hp_is_brand else None
    return brand_of(word)
