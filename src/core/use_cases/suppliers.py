"""Supplier registration and browsing."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.api_keys import SUPPLIER_KEY_PREFIX, hash_api_key, new_api_key
from core.domain.errors import NotFound
from core.domain.marketplace import NewSupplier, Page, PageResult, Supplier
from core.ports.marketplace import UnitOfWork


@dataclass(frozen=True, slots=True)
class RegisteredSupplier:
    supplier: Supplier
    api_key: str  # shown once, stored only as a hash


class RegisterSupplier:
    async def __call__(self, uow: UnitOfWork, supplier: NewSupplier) -> RegisteredSupplier:
        api_key = new_api_key(SUPPLIER_KEY_PREFIX)
        created = await uow.suppliers.add(supplier, hash_api_key(api_key))
        await uow.commit()
        return RegisteredSupplier(created, api_key)


class BrowseSuppliers:
    async def list(self, uow: UnitOfWork, *, city: str | None, page: Page) -> PageResult[Supplier]:
        return await uow.suppliers.list(city=city, page=page)

    async def get(self, uow: UnitOfWork, supplier_id: int) -> Supplier:
        supplier = await uow.suppliers.get(supplier_id)
        if supplier is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        return supplier
