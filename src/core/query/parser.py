"""``parse_query``: a shopping request in Indonesian or English -> ``ParsedQuery``.

Order of work: misspelt category, brand and place words are corrected first ("leptop" -> "laptop");
then prices and their bound words (so "kisaran" or "sekitar" before a price are never read as a place),
then the place, "cheaper"/"pricier", the sort order, the category, brands and exclusions, the intent,
and what is left over (minus stop words and brand words) becomes the keywords, in the order written.
A product line implies its brand ("thinkpad" -> lenovo) and, when no strong category word is present,
its category ("ipad" -> tablet); the line itself stays a keyword.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.query.brands import detect_brands
from core.query.category import detect_category
from core.query.gazetteer import Gazetteer
from core.query.intent import detect_intent, detect_sort
from core.query.language import language_of_tokens
from core.query.model import Comparison, ParsedQuery
from core.query.prices import extract_prices
from core.query.text import Token, normalize, tokenize
from core.query.typos import correct_typos
from core.query.vocabulary import (
    CHEAP_WORDS,
    CHEAPER_PHRASES,
    FOLLOW_UP_OPENERS,
    FOLLOW_UP_WORDS,
    PLACE_PREPOSITIONS_STRONG,
    PLACE_PREPOSITIONS_WEAK,
    PRICIER_PHRASES,
    SPEC_UNITS,
    SPECIFIC_CATEGORY_WORDS,
    STOPWORDS,
    STRONG_CATEGORY_WORDS,
    WEAK_CATEGORY_WORDS,
)

MAX_KEYWORDS = 12


def _strip_nya(word: str) -> str:
    """ "laptopnya" -> "laptop", "harganya" stays a stop word either way."""
    if len(word) > 5 and word.endswith("nya"):
        stem = word[:-3]
        if stem in STRONG_CATEGORY_WORDS or stem in STOPWORDS or stem in WEAK_CATEGORY_WORDS:
            return stem
    return word


def _find_phrases(words: Sequence[str], phrases: tuple[tuple[str, ...], ...], skip: frozenset[int]) -> list[int] | None:
    for phrase in sorted(phrases, key=len, reverse=True):
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) == phrase and not any(j in skip for j in range(i, i + n)):
                return list(range(i, i + n))
    return None


def _is_follow_up(words: Sequence[str], comparison: Comparison | None, ignore: frozenset[int]) -> bool:
    if comparison is not None:
        return True
    if any(tuple(words[: len(opener)]) == opener for opener in FOLLOW_UP_OPENERS):
        return True
    return any(word in FOLLOW_UP_WORDS for i, word in enumerate(words) if i not in ignore)


def parse_query(text: str, *, gazetteer: Gazetteer | None = None) -> ParsedQuery:
    """Understand a shopping request: category, price bounds, place, keywords, language, follow-up.

    "Saya butuh laptop gaming di Jakarta, budget 12 juta" -> category "laptop", max_price 12_000_000,
    location DKI Jakarta, keywords ("gaming",), language "id"."""
    places = gazetteer if gazetteer is not None else Gazetteer.load_default()
    normalized = normalize(text)
    raw_tokens = tokenize(normalized)
    words = correct_typos([_strip_nya(t.text) for t in raw_tokens], places)
    tokens = [
        Token(word, t.start, t.end) if word != _strip_nya(t.text) else t
        for word, t in zip(words, raw_tokens, strict=True)
    ]
    language = language_of_tokens(words)

    prices = extract_prices(normalized, tokens, language)
    price_tokens = {i for i, t in enumerate(tokens) if any(start <= t.start < end for start, end in prices.spans)}
    used: set[int] = price_tokens | set(prices.consumed)

    match = places.match(tokens, skip=frozenset(used))
    location = match.place if match else None
    if match is not None:
        used.update(range(match.start, match.end))
        before = match.start - 1
        if before >= 0 and words[before] in PLACE_PREPOSITIONS_STRONG | PLACE_PREPOSITIONS_WEAK:
            used.add(before)

    comparison: Comparison | None = None
    cheaper = _find_phrases(words, CHEAPER_PHRASES, frozenset(used))
    pricier = _find_phrases(words, PRICIER_PHRASES, frozenset(used)) if cheaper is None else None
    if cheaper is not None:
        comparison = "cheaper"
        used.update(cheaper)
    elif pricier is not None:
        comparison = "pricier"
        used.update(pricier)

    sort, sort_tokens = detect_sort(words, frozenset(used))
    used |= sort_tokens
    before_category = frozenset(used)

    found = detect_category(words, before_category)
    used |= found.used
    brands = detect_brands(words, before_category, hp_is_brand=found.hp_is_brand)
    category = found.category
    if brands.line_category is not None and not found.strong:
        category = brands.line_category
    used |= brands.brand_tokens
    intent = detect_intent(
        words, normalized, before_category, follow_up_cheaper=comparison is not None, brands=brands.brands
    )

    prefer_cheaper = (
        comparison == "cheaper"
        or sort == "price_asc"
        or any(word in CHEAP_WORDS for i, word in enumerate(words) if i not in used)
    )

    return ParsedQuery(
        category=category,
        min_price=prices.min_price,
        max_price=prices.max_price,
        prefer_cheaper=prefer_cheaper,
        location=location,
        keywords=_keywords(words, frozenset(used), brands.excluded_tokens, hp_is_brand=found.hp_is_brand),
        language=language,
        is_follow_up=_is_follow_up(words, comparison, brands.exclusion_tokens),
        comparison=comparison,
        brands=brands.brands,
        exclude_brands=brands.exclude_brands,
        sort=sort,
        intent=intent,
    )


def _keywords(
    words: Sequence[str], used: frozenset[int], dropped: frozenset[int], *, hp_is_brand: bool
) -> tuple[str, ...]:
    """Left-over words, in order, deduplicated. A number is kept when it is a spec ("16 GB" -> "16gb"),
    at least three digits long ("4060"), or follows a kept word (a model number: "iphone 15")."""
    out: list[str] = []
    last_kept = -2
    i = 0
    while i < len(words) and len(out) < MAX_KEYWORDS:
        word = words[i]
        i += 1
        if (i - 1) in dropped or ((i - 1) in used and word not in SPECIFIC_CATEGORY_WORDS):
            continue
        if word == "hp" and not hp_is_brand:
            continue
        if word in STOPWORDS or word in CHEAP_WORDS or (len(word) < 2 and not word.isdigit()):
            continue
        if (word in STRONG_CATEGORY_WORDS or word in WEAK_CATEGORY_WORDS) and word not in SPECIFIC_CATEGORY_WORDS:
            if word != "hp":
                continue
        if word.isdigit():
            if i < len(words) and i not in used and words[i] in SPEC_UNITS:
                word += words[i]
                i += 1
            elif len(word) < 3 and last_kept != i - 2:
                continue
        if word not in out:
            out.append(word)
        last_kept = i - 1
    return tuple(out)
