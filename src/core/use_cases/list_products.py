"""Browse the catalogue by category and price, newest first."""

from __future__ import annotations

from core.domain.errors import InvalidInput, NotFound
from core.domain.marketplace import Page, PageResult, Product, ProductFilter
from core.ports.marketplace import ProductCatalog
from core.use_cases import marketplace_rules as rules


def price_range(min_price: int | None, max_price: int | None) -> tuple[int | None, int | None]:
    low = rules.price_bound(min_price, "min_price")
    high = rules.price_bound(max_price, "max_price")
    if low is not None and high is not None and low > high:
        raise InvalidInput("min_price must not exceed max_price", field="min_price")
    return low, high


class ListProducts:
    def __init__(self, catalog: ProductCatalog) -> None:
        self._catalog = catalog

    async def __call__(
        self,
        *,
        category: str | None = None,
        min_price: int | None = None,
        max_price: int | None = None,
        available_only: bool = True,
        supplier_id: int | None = None,
        page: Page | None = None,
    ) -> PageResult[Product]:
        """With ``supplier_id``, only that supplier's products (``NotFound`` for an unknown supplier)."""
        wanted = rules.query_text(category, "category", rules.MAX_CATEGORY)
        low, high = price_range(min_price, max_price)
        if supplier_id is not None:
            rules.existing_id(supplier_id, "Supplier", "supplier_id")
            if not await self._catalog.supplier_exists(supplier_id):
                raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        criteria = ProductFilter(
            category=wanted.lower() if wanted else None,
            min_price=low,
            max_price=high,
            available_only=available_only,
            supplier_id=supplier_id,
            page=page or Page(),
        )
        return await self._catalog.find(criteria)
