"""Location-aware product search: words in any order, optional city, price and distance bounds.

Without a location the best text match comes first; with ``user_lat``/``user_lon`` every product
carries ``distance_km`` and the nearest comes first, within ``radius_km`` when given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.domain.errors import InvalidInput
from core.domain.marketplace import Page, PageResult, Product, ProductFilter
from core.ports.marketplace import ProductCatalog
from core.use_cases import marketplace_rules as rules
from core.use_cases.list_products import price_range


@dataclass(frozen=True, slots=True)
class ProductSearch:
    q: str | None = None
    category: str | None = None
    city: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    user_lat: float | None = None
    user_lon: float | None = None
    radius_km: float | None = None
    page: Page = field(default_factory=Page)


def search_filter(search: ProductSearch) -> ProductFilter:
    """Validate a search and translate it to the repository's criteria; errors name the parameter."""
    text = rules.query_text(search.q, "q", rules.MAX_QUERY)
    category = rules.query_text(search.category, "category", rules.MAX_CATEGORY)
    city = rules.query_text(search.city, "city", rules.MAX_CITY)
    low, high = price_range(search.min_price, search.max_price)
    near = rules.location(search.user_lat, search.user_lon, required=False, lat_field="user_lat", lon_field="user_lon")
    radius = search.radius_km
    if radius is not None:
        if near is None:
            raise InvalidInput("radius_km needs user_lat and user_lon", field="radius_km")
        if not radius > 0:  # also rejects NaN
            raise InvalidInput("radius_km must be greater than 0", field="radius_km")
        radius = min(radius, rules.MAX_RADIUS_KM)
    return ProductFilter(
        text=text,
        category=category.lower() if category else None,
        cities=(city,) if city else (),
        min_price=low,
        max_price=high,
        near=near,
        radius_km=radius,
        available_only=True,
        page=search.page,
    )


class SearchProducts:
    def __init__(self, catalog: ProductCatalog) -> None:
        self._catalog = catalog

    async def __call__(self, search: ProductSearch) -> PageResult[Product]:
        return await self._catalog.find(search_filter(search))
