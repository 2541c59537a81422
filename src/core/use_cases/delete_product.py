"""A supplier removes one of its own products."""

from __future__ import annotations

from core.domain.errors import Forbidden, NotFound
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules
from core.use_cases.authenticate import Authenticate


class DeleteProduct:
    def __init__(self, uow: UnitOfWork, authenticate: Authenticate) -> None:
        self._uow = uow
        self._authenticate = authenticate

    async def __call__(self, api_key: str | None, product_id: int) -> None:
        caller = await self._authenticate(api_key)
        rules.existing_id(product_id, "Product", "product_id")
        product = await self._uow.products.get(product_id)
        if product is None:
            raise NotFound(f"Product {product_id} does not exist", field="product_id")
        if caller.supplier is None or caller.supplier.id != product.supplier_id:
            raise Forbidden("Only the product's supplier, with its own API key, may delete it")
        await self._uow.products.delete(product_id)
        await self._uow.commit()
