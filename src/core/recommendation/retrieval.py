"""Find the real products a recommendation may talk about, nearest first.

Hard filters (category, price bounds, in stock) always hold. Keywords narrow the set when they can:
all keywords first, then any single keyword, then none; the answer says which tier was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.domain.marketplace import GeoPoint, Page, Product, ProductFilter
from core.ports.marketplace import ProductRepository

MatchTier = Literal["all_keywords", "some_keywords", "filters_only", "none"]
CANDIDATE_POOL = 50


@dataclass(frozen=True, slots=True)
class Criteria:
    category: str | None
    min_price: int | None
    max_price: int | None
    keywords: tuple[str, ...]
    origin: GeoPoint | None
    prefer_cheaper: bool = False


@dataclass(frozen=True, slots=True)
class Candidates:
    products: list[Product]
    tier: MatchTier


async def find_candidates(products: ProductRepository, criteria: Criteria, limit: int) -> Candidates:
    attempts: list[tuple[MatchTier, list[str | None]]] = []
    if criteria.keywords:
        attempts.append(("all_keywords", [" ".join(criteria.keywords)]))
        if len(criteria.keywords) > 1:
            attempts.append(("some_keywords", list(criteria.keywords)))
    if criteria.category or criteria.min_price is not None or criteria.max_price is not None or not attempts:
        attempts.append(("filters_only", [None]))
    for tier, texts in attempts:
        found: dict[int, Product] = {}
        for text in texts:
            for product in await _search(products, criteria, text):
                found.setdefault(product.id, product)
        if found:
            return Candidates(_rank(list(found.values()), criteria)[:limit], tier)
    return Candidates([], "none")


async def _search(products: ProductRepository, criteria: Criteria, text: str | None) -> list[Product]:
    result = await products.find(
        ProductFilter(
            text=text,
            category=criteria.category,
            min_price=criteria.min_price,
            max_price=criteria.max_price,
            near=criteria.origin,
            in_stock_only=True,
            page=Page(0, CANDIDATE_POOL),
        )
    )
    return result.items


def _rank(found: list[Product], criteria: Criteria) -> list[Product]:
    def distance(product: Product) -> float:
        return product.distance_km if product.distance_km is not None else float("inf")

    if criteria.prefer_cheaper:
        return sorted(found, key=lambda p: (p.price, distance(p), p.id))
    return sorted(found, key=lambda p: (distance(p), p.price, p.id))
