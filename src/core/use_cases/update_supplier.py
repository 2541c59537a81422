"""A supplier changes its own profile; a new place moves its products' copies with it."""

from __future__ import annotations

from core.domain.caller import Caller
from core.domain.errors import Forbidden, InvalidInput, NotFound
from core.domain.marketplace import Supplier, SupplierChanges
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules


def clean_supplier_changes(changes: SupplierChanges) -> SupplierChanges:
    if changes.is_empty():
        raise InvalidInput(
            "Nothing to update: send at least one of name, business_name, phone, address, latitude and "
            "longitude, city, province"
        )

    def required(value: str | None, field: str, limit: int) -> str | None:
        return None if value is None else rules.required_text(value, field, limit)

    def optional(value: str | None, field: str, limit: int) -> str | None:
        # "" clears an optional field; None leaves it as it is.
        return None if value is None else rules.optional_text(value, field, limit) or ""

    return SupplierChanges(
        name=required(changes.name, "name", rules.MAX_NAME),
        business_name=required(changes.business_name, "business_name", rules.MAX_NAME),
        phone=None if changes.phone is None else rules.phone(changes.phone) or "",
        address=optional(changes.address, "address", rules.MAX_ADDRESS),
        location=changes.location,
        city=required(changes.city, "city", rules.MAX_CITY),
        province=optional(changes.province, "province", rules.MAX_PROVINCE),
    )


class UpdateSupplier:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, caller: Caller, supplier_id: int, changes: SupplierChanges) -> Supplier:
        cleaned = clean_supplier_changes(changes)
        rules.existing_id(supplier_id, "Supplier", "supplier_id")
        if await self._uow.suppliers.get(supplier_id) is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        if not caller.is_supplier(supplier_id):
            raise Forbidden("Only this supplier, with its own API key, may change it")
        updated = await self._uow.suppliers.update(supplier_id, cleaned)
        await self._uow.commit()
        return updated
