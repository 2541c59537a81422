"""Browse suppliers: a page of them (optionally in one city) or one by id."""

from __future__ import annotations

from core.domain.errors import NotFound
from core.domain.marketplace import Page, PageResult, Supplier
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules


class ListSuppliers:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, *, city: str | None = None, page: Page | None = None) -> PageResult[Supplier]:
        city = rules.query_text(city, "city", rules.MAX_CITY)
        return await self._uow.suppliers.list(city=city, page=page or Page())


class GetSupplier:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, supplier_id: int) -> Supplier:
        rules.existing_id(supplier_id, "Supplier", "supplier_id")
        supplier = await self._uow.suppliers.get(supplier_id)
        if supplier is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        return supplier
