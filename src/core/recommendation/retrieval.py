"""Find the real products a recommendation may talk about.

Hard filters always hold: category, price bounds, in stock, the brands asked for and the brands ruled out
(a brand counts when it, or one of its product lines, is a word of the product's name or tags).
Keywords narrow the set when they can: all keywords first, then any single keyword, then none; the
answer says which tier was used. ``sort`` orders the result (nearest first by default).

A comparison ("bandingkan asus dan lenovo") retrieves the best product of each named brand or product
line, wherever it is. When nothing meets every filter, ``alternatives`` holds the closest misses (the
product nearest the budget, another brand within it), each with the reason it missed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from core.domain.marketplace import MAX_PAGE_SIZE, GeoPoint, Page, Product, ProductFilter
from core.ports.marketplace import ProductRepository
from core.query import Language, Place
from core.query.brands import brand_of
from core.query.model import Intent, Sort
from core.query.vocabulary import PRODUCT_LINES
from core.recommendation.figures import miss_reason

MatchTier = Literal["all_keywords", "some_keywords", "filters_only", "none"]
CANDIDATE_POOL = 50
MAX_ALTERNATIVES = 3
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Criteria:
    category: str | None
    min_price: int | None
    max_price: int | None
    keywords: tuple[str, ...]
    origin: GeoPoint | None
    prefer_cheaper: bool = False
    brands: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    sort: Sort = "nearest"
    intent: Intent = "recommend"
    place: Place | None = None
    """The place the query named (alternatives outside it say how far they are)."""
    language: Language = "id"


@dataclass(frozen=True, slots=True)
class Alternative:
    """A product that misses some filter, and why ("Rp 999.000 di atas budget", "merk lain", "412 km")."""

    product: Product
    reason: str


@dataclass(frozen=True, slots=True)
class Candidates:
    products: list[Product]
    tier: MatchTier
    alternatives: list[Alternative] = field(default_factory=list)


def product_words(product: Product) -> set[str]:
    return set(_WORD.findall(f"{product.name} {product.tags or ''}".lower()))


def brand_terms(brand: str) -> set[str]:
    """The words that show a product is of ``brand``: the brand and its product lines."""
    return {brand} | {line for line, (owner, _category) in PRODUCT_LINES.items() if owner == brand}


def has_brand(product: Product, brand: str) -> bool:
    return bool(product_words(product) & brand_terms(brand))


def _passes_brands(product: Product, criteria: Criteria) -> bool:
    if criteria.brands and not any(has_brand(product, b) for b in criteria.brands):
        return False
    return not any(has_brand(product, b) for b in criteria.exclude_brands)


async def find_candidates(products: ProductRepository, criteria: Criteria, limit: int) -> Candidates:
    targets = compare_targets(criteria)
    if criteria.intent == "compare" and len(targets) >= 2:
        return await _compare(products, criteria, targets, limit)
    found, tier = await _tiers(products, criteria)
    if found:
        return Candidates(found[:limit], tier)
    return Candidates([], "none", await _alternatives(products, criteria))


def compare_targets(criteria: Criteria) -> list[Criteria]:
    """One narrowed search per named brand or product line ("iphone vs galaxy", "asus dan lenovo",
    "iphone atau ipad")."""
    plain = tuple(k for k in criteria.keywords if brand_of(k) is None)
    targets: list[Criteria] = []
    for brand in criteria.brands:
        lines = [k for k in criteria.keywords if k in PRODUCT_LINES and brand_of(k) == brand]
        for line in lines if len(lines) > 1 else [lines[0] if lines else None]:
            keywords = (*plain, line) if line else plain
            targets.append(replace(criteria, brands=(brand,), keywords=keywords, intent="recommend"))
    return targets


async def _compare(products: ProductRepository, criteria: Criteria, targets: list[Criteria], limit: int) -> Candidates:
    fits: list[Product] = []
    misses: list[Alternative] = []
    tiers: list[MatchTier] = []
    for target in targets:
        found, tier = await _tiers(products, target)
        if found:
            if found[0].id not in {p.id for p in fits}:
                fits.append(found[0])
                tiers.append(tier)
            continue
        unbounded = replace(target, min_price=None, max_price=None)
        loose, _ = await _tiers(products, unbounded)
        if loose:
            best = min(loose, key=lambda p: (_price_gap(p, target), _distance(p), p.id))
            misses.append(Alternative(best, _reason(best, criteria, brand_missed=False)))
    tier: MatchTier = (
        "none" if not fits else "all_keywords" if all(t == "all_keywords" for t in tiers) else "some_keywords"
    )
    return Candidates(fits[:limit], tier, misses[:MAX_ALTERNATIVES])


async def _alternatives(products: ProductRepository, criteria: Criteria) -> list[Alternative]:
    """The closest misses: the nearest prices outside the budget, then other brands within it."""
    out: dict[int, Alternative] = {}
    if criteria.min_price is not None or criteria.max_price is not None:
        found, _ = await _tiers(products, replace(criteria, min_price=None, max_price=None))
        for product in sorted(found, key=lambda p: (_price_gap(p, criteria), _distance(p), p.id))[:2]:
            out.setdefault(product.id, Alternative(product, _reason(product, criteria, brand_missed=False)))
    if criteria.brands:
        found, _ = await _tiers(products, replace(criteria, brands=()))
        for product in found[:2]:
            out.setdefault(product.id, Alternative(product, _reason(product, criteria, brand_missed=True)))
    if not out and criteria.brands and (criteria.min_price is not None or criteria.max_price is not None):
        found, _ = await _tiers(products, replace(criteria, brands=(), min_price=None, max_price=None))
        for product in sorted(found, key=lambda p: (_price_gap(p, criteria), _distance(p), p.id))[:2]:
            out.setdefault(product.id, Alternative(product, _reason(product, criteria, brand_missed=True)))
    return list(out.values())[:MAX_ALTERNATIVES]


def _reason(product: Product, criteria: Criteria, *, brand_missed: bool) -> str:
    return miss_reason(
        product,
        min_price=criteria.min_price,
        max_price=criteria.max_price,
        brand_missed=brand_missed,
        place=criteria.place,
        language=criteria.language,
    )


def _price_gap(product: Product, criteria: Criteria) -> int:
    if criteria.max_price is not None and product.price > criteria.max_price:
        return product.price - criteria.max_price
    if criteria.min_price is not None and product.price < criteria.min_price:
        return criteria.min_price - product.price
    return 0


async def _tiers(products: ProductRepository, criteria: Criteria) -> tuple[list[Product], MatchTier]:
    attempts: list[tuple[MatchTier, list[str | None]]] = []
    if criteria.keywords:
        attempts.append(("all_keywords", [" ".join(criteria.keywords)]))
        if len(criteria.keywords) > 1:
            attempts.append(("some_keywords", list(criteria.keywords)))
    narrowed = criteria.category or criteria.brands or criteria.min_price is not None or criteria.max_price is not None
    if narrowed or not attempts:
        attempts.append(("filters_only", [None]))
    brand_texts: list[str | None] = list(criteria.brands) or [None]
    for tier, texts in attempts:
        found: dict[int, Product] = {}
        for text in texts:
            for brand in brand_texts:
                query = " ".join(t for t in (text, brand) if t) or None
                for product in await _search(products, criteria, query):
                    if _passes_brands(product, criteria):
                        found.setdefault(product.id, product)
        if found:
            return _rank(list(found.values()), criteria), tier
    return [], "none"


async def _search(products: ProductRepository, criteria: Criteria, text: str | None) -> list[Product]:
    pool = MAX_PAGE_SIZE if criteria.exclude_brands or criteria.sort != "nearest" else CANDIDATE_POOL
    result = await products.find(
        ProductFilter(
            text=text,
            category=criteria.category,
            min_price=criteria.min_price,
            max_price=criteria.max_price,
            near=criteria.origin,
            in_stock_only=True,
            page=Page(0, pool),
        )
    )
    return result.items


def _distance(product: Product) -> float:
    return product.distance_km if product.distance_km is not None else float("inf")


def _rank(found: list[Product], criteria: Criteria) -> list[Product]:
    if criteria.sort == "price_asc" or (criteria.sort == "nearest" and criteria.prefer_cheaper):
        return sorted(found, key=lambda p: (p.price, _distance(p), p.id))
    if criteria.sort == "price_desc":
        return sorted(found, key=lambda p: (-p.price, _distance(p), p.id))
    return sorted(found, key=lambda p: (_distance(p), p.price, p.id))
