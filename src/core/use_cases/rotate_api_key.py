"""Rotate a supplier's or a user's API key: the owner's current key or the admin key.

The new key is returned once; the old one stops working at once (keys are looked up by digest on
every request, and only the new digest is stored). A user's account is private, so a stranger
rotating it gets the 404 of an unknown id; suppliers are public, so a stranger gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.api_keys import SUPPLIER_KEY_PREFIX, USER_KEY_PREFIX, hash_api_key, new_api_key
from core.domain.caller import Caller
from core.domain.errors import Forbidden, NotFound
from core.domain.marketplace import Supplier, User
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules
from core.use_cases.get_user import visible_user


@dataclass(frozen=True, slots=True)
class RotatedSupplierKey:
    supplier: Supplier
    api_key: str


@dataclass(frozen=True, slots=True)
class RotatedUserKey:
    user: User
    api_key: str


class RotateSupplierKey:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, caller: Caller, supplier_id: int) -> RotatedSupplierKey:
        rules.existing_id(supplier_id, "Supplier", "supplier_id")
        supplier = await self._uow.suppliers.get(supplier_id)
        if supplier is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        if not (caller.is_admin or caller.is_supplier(supplier_id)):
            raise Forbidden("Only this supplier, with its current API key, or the admin may rotate its key")
        api_key = new_api_key(SUPPLIER_KEY_PREFIX)
        await self._uow.suppliers.set_api_key_hash(supplier_id, hash_api_key(api_key))
        await self._uow.commit()
        return RotatedSupplierKey(supplier, api_key)


class RotateUserKey:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, caller: Caller, user_id: int) -> RotatedUserKey:
        user = await visible_user(self._uow, caller, user_id)
        api_key = new_api_key(USER_KEY_PREFIX)
        await self._uow.users.set_api_key_hash(user_id, hash_api_key(api_key))
        await self._uow.commit()
        return RotatedUserKey(user, api_key)
