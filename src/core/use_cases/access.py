"""Who is calling: bearer API keys of suppliers and users, and the operator's admin key."""

from __future__ import annotations

from core.domain.api_keys import hash_api_key, same_secret
from core.domain.errors import Unauthorized
from core.domain.marketplace import Supplier, User
from core.ports.marketplace import UnitOfWork

MISSING_KEY = "Send your API key as Authorization: Bearer <api_key>"


class Access:
    def __init__(self, admin_api_key: str | None) -> None:
        self._admin_api_key = admin_api_key

    @property
    def admin_configured(self) -> bool:
        return bool(self._admin_api_key)

    def is_admin(self, api_key: str | None) -> bool:
        return bool(api_key and self._admin_api_key and same_secret(api_key, self._admin_api_key))

    async def supplier(self, uow: UnitOfWork, api_key: str | None) -> Supplier:
        if not api_key:
            raise Unauthorized(MISSING_KEY)
        supplier = await uow.suppliers.get_by_api_key_hash(hash_api_key(api_key))
        if supplier is None:
            raise Unauthorized("The API key is not valid")
        return supplier

    async def user(self, uow: UnitOfWork, api_key: str | None) -> User:
        if not api_key:
            raise Unauthorized(MISSING_KEY)
        user = await uow.users.get_by_api_key_hash(hash_api_key(api_key))
        if user is None:
            raise Unauthorized("The API key is not valid")
        return user
