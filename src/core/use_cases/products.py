"""A supplier's own catalog, and product listing and search for everybody."""

from __future__ import annotations

from core.domain.errors import Forbidden, InvalidInput, NotFound
from core.domain.marketplace import NewProduct, PageResult, Product, ProductChanges, ProductFilter
from core.ports.marketplace import UnitOfWork
from core.use_cases.access import Access


class ManageProducts:
    def __init__(self, access: Access) -> None:
        self._access = access

    async def add(self, uow: UnitOfWork, api_key: str | None, supplier_id: int, product: NewProduct) -> Product:
        caller = await self._access.supplier(uow, api_key)
        if await uow.suppliers.get(supplier_id) is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        if caller.id != supplier_id:
            raise Forbidden("This API key belongs to another supplier", field="supplier_id")
        created = await uow.products.add(supplier_id, product)
        await uow.commit()
        return created

    async def update(self, uow: UnitOfWork, api_key: str | None, product_id: int, changes: ProductChanges) -> Product:
        caller = await self._access.supplier(uow, api_key)
        product = await uow.products.get(product_id)
        if product is None:
            raise NotFound(f"Product {product_id} does not exist", field="product_id")
        if product.supplier_id != caller.id:
            raise Forbidden("This product belongs to another supplier", field="product_id")
        if changes.is_empty():
            raise InvalidInput("Send at least one field to change", field="body")
        updated = await uow.products.update(product_id, changes)
        await uow.commit()
        return updated


class FindProducts:
    async def __call__(self, uow: UnitOfWork, criteria: ProductFilter) -> PageResult[Product]:
        return await uow.products.find(criteria)
