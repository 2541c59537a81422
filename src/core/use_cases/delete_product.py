"""A supplier removes one of its own products."""

from __future__ import annotations

from core.domain.caller import Caller
from core.domain.errors import Forbidden, NotFound
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules


class DeleteProduct:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, caller: Caller, product_id: int) -> None:
        rules.existing_id(product_id, "Product", "product_id")
        product = await self._uow.products.get(product_id)
        if product is None:
            raise NotFound(f"Product {product_id} does not exist", field="product_id")
        if not caller.is_supplier(product.supplier_id):
            raise Forbidden("Only the product's supplier, with its own API key, may delete it")
        await self._uow.products.delete(product_id)
        await self._uow.commit()
