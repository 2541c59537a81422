"""Combine a follow-up turn ("yang lebih murah?", "yang di Bandung?") with the previous turn's filters."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from core.query.brands import brand_of
from core.query.model import ParsedQuery

CHEAPER_FACTOR = Decimal("0.8")
""""Cheaper" with no prices shown lowers the previous max_price by 20%."""


def merge_with_previous(
    current: ParsedQuery, previous: ParsedQuery | None, *, cheapest_shown: int | None = None
) -> ParsedQuery:
    """The filters to search with after ``current``, given the ``previous`` turn's filters.

    * No previous turn: ``current`` as is.
    * ``current`` names a category that differs from the previous one, or names one without being a
      follow-up ("cari monitor 27 inch"): a fresh search; only the place is carried over when
      ``current`` names none.
    * Otherwise (no category, or the same one) it refines the previous search and changes only what
      ``current`` names: category, place, prices, brands, exclusions, sort, intent and keywords are kept
      unless ``current`` states its own ("yang di Bandung?" changes only the place; "yang merk asus aja"
      sets the brands; "kalau yang di bawah 5 juta?" changes the budget). New brands replace the previous
      brands (and drop the product-line keywords of brands no longer asked for); exclusions accumulate,
      minus any brand asked for again; other keywords accumulate.
    * "cheaper" ("yang lebih murah?", "cheaper ones?") without its own max price: max_price becomes one
      rupiah below ``cheapest_shown`` when given, else 20% below the previous max_price; prefer_cheaper
      is set. "pricier" ("yang lebih mahal?"): min_price becomes the previous max_price (or cheapest shown
      plus one), max_price is dropped.
    """
    if previous is None:
        return current
    fresh = current.category is not None and (current.category != previous.category or not current.is_follow_up)
    if fresh:
        return replace(current, location=current.location or previous.location)

    has_own_price = current.min_price is not None or current.max_price is not None
    min_price = current.min_price if has_own_price else previous.min_price
    max_price = current.max_price if has_own_price else previous.max_price
    prefer_cheaper = current.prefer_cheaper or previous.prefer_cheaper

    if current.comparison == "cheaper" and current.max_price is None:
        if cheapest_shown is not None:
            max_price = max(cheapest_shown - 1, 0)
        elif previous.max_price is not None:
            max_price = int(previous.max_price * CHEAPER_FACTOR)
        if min_price is not None and max_price is not None and min_price >= max_price:
            min_price = None
        prefer_cheaper = True
    elif current.comparison == "pricier" and current.min_price is None:
        if previous.max_price is not None:
            min_price = previous.max_price
        elif cheapest_shown is not None:
            min_price = cheapest_shown + 1
        max_price = None
        prefer_cheaper = False

    brands = current.brands or previous.brands
    excluded = tuple(b for b in dict.fromkeys([*previous.exclude_brands, *current.exclude_brands]) if b not in brands)
    brands = tuple(b for b in brands if b not in current.exclude_brands)
    intent = current.intent or previous.intent
    if current.intent is None and intent == "compare" and current.brands and len(brands) < 2:
        intent = None  # "bandingkan asus dan lenovo" then "yang asus aja": no longer a comparison
    return replace(
        current,
        category=previous.category,
        brands=brands,
        exclude_brands=excluded,
        sort=current.sort or previous.sort,
        intent=intent,
        min_price=min_price,
        max_price=max_price,
        prefer_cheaper=prefer_cheaper,
        location=current.location or previous.location,
        keywords=_merge_keywords(previous.keywords, current.keywords, brands),
        is_follow_up=True,
    )


def _merge_keywords(previous: tuple[str, ...], current: tuple[str, ...], brands: tuple[str, ...]) -> tuple[str, ...]:
    """Previous keywords plus the new ones, minus product lines of brands no longer asked for ("rog" goes
    when the follow-up asks for lenovo)."""
    kept = [word for word in previous if brand_of(word) is None or brand_of(word) in brands]
    return tuple(dict.fromkeys([*kept, *current]))
