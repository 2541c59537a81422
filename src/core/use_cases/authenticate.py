"""Who is calling: the admin, a supplier or a user, recognised by the bearer API key.

Keys are stored only as SHA-256 digests, so a key is found by hashing it and looking the digest up;
the admin key (from settings) is compared in constant time.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.api_keys import hash_api_key, same_secret
from core.domain.errors import Forbidden, Unauthorized
from core.domain.marketplace import Supplier, User
from core.ports.marketplace import UnitOfWork

MISSING_KEY = "Send an API key as Authorization: Bearer <api_key>"
INVALID_KEY = "The API key is not valid"


@dataclass(frozen=True, slots=True)
class Caller:
    """Exactly one of: the admin, a supplier, a user."""

    admin: bool = False
    supplier: Supplier | None = None
    user: User | None = None


class Authenticate:
    def __init__(self, uow: UnitOfWork, admin_api_key: str | None) -> None:
        self._uow = uow
        self._admin_api_key = admin_api_key or None

    @property
    def admin_configured(self) -> bool:
        return self._admin_api_key is not None

    def is_admin(self, api_key: str | None) -> bool:
        return bool(api_key) and self._admin_api_key is not None and same_secret(api_key, self._admin_api_key)  # type: ignore[arg-type]

    async def __call__(self, api_key: str | None) -> Caller:
        """Raises ``Unauthorized`` when the key is missing or matches nobody."""
        if not api_key:
            raise Unauthorized(MISSING_KEY)
        if self.is_admin(api_key):
            return Caller(admin=True)
        digest = hash_api_key(api_key)
        supplier = await self._uow.suppliers.get_by_api_key_hash(digest)
        if supplier is not None:
            return Caller(supplier=supplier)
        user = await self._uow.users.get_by_api_key_hash(digest)
        if user is not None:
            return Caller(user=user)
        raise Unauthorized(INVALID_KEY)

    async def supplier(self, api_key: str | None) -> Supplier:
        """The supplier owning ``api_key``; ``Forbidden`` for the admin's or a user's key."""
        caller = await self(api_key)
        if caller.supplier is None:
            raise Forbidden("This action needs a supplier's API key")
        return caller.supplier

    async def admin(self, api_key: str | None) -> None:
        """Passes only for the admin key; ``Forbidden`` when no admin key is configured."""
        if self._admin_api_key is None:
            raise Forbidden("No admin key is configured (set ADMIN_API_KEY); this action is disabled")
        caller = await self(api_key)
        if not caller.admin:
            raise Forbidden("This action needs the admin API key")
