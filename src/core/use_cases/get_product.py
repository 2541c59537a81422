"""One product by id (public, like the catalogue)."""

from __future__ import annotations

from core.domain.errors import NotFound
from core.domain.marketplace import Product
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules


class GetProduct:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, product_id: int) -> Product:
        rules.existing_id(product_id, "Product", "product_id")
        product = await self._uow.products.get(product_id)
        if product is None:
            raise NotFound(f"Product {product_id} does not exist", field="product_id")
        return product
