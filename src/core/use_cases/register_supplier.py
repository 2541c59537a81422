"""Register a supplier and hand out its API key, shown only this once."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.api_keys import SUPPLIER_KEY_PREFIX, hash_api_key, new_api_key
from core.domain.errors import Conflict
from core.domain.marketplace import NewSupplier, Supplier
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules


@dataclass(frozen=True, slots=True)
class SupplierRegistration:
    supplier: Supplier
    api_key: str


def clean_supplier(supplier: NewSupplier) -> NewSupplier:
    return NewSupplier(
        name=rules.required_text(supplier.name, "name", rules.MAX_NAME),
        business_name=rules.required_text(supplier.business_name, "business_name", rules.MAX_NAME),
        email=rules.email(supplier.email),
        phone=rules.phone(supplier.phone),
        address=rules.optional_text(supplier.address, "address", rules.MAX_ADDRESS),
        location=supplier.location,
        city=rules.required_text(supplier.city, "city", rules.MAX_CITY),
        province=rules.optional_text(supplier.province, "province", rules.MAX_PROVINCE),
    )


class RegisterSupplier:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, supplier: NewSupplier) -> SupplierRegistration:
        cleaned = clean_supplier(supplier)
        api_key = new_api_key(SUPPLIER_KEY_PREFIX)
        try:
            created = await self._uow.suppliers.add(cleaned, hash_api_key(api_key))
        except Conflict as error:
            if error.field == "email":
                raise Conflict(f"Email {cleaned.email} is already registered", field="email") from error
            raise
        await self._uow.commit()
        return SupplierRegistration(created, api_key)
