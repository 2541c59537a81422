"""The admin turns a user's paid AI access on or off."""

from __future__ import annotations

from core.domain.errors import NotFound
from core.domain.marketplace import User
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules
from core.use_cases.authenticate import Authenticate


class SetAiAccess:
    def __init__(self, uow: UnitOfWork, authenticate: Authenticate) -> None:
        self._uow = uow
        self._authenticate = authenticate

    async def __call__(self, api_key: str | None, user_id: int, enabled: bool) -> User:
        await self._authenticate.admin(api_key)
        rules.existing_id(user_id, "User", "user_id")
        if await self._uow.users.get(user_id) is None:
            raise NotFound(f"User {user_id} does not exist", field="user_id")
        user = await self._uow.users.set_ai_access(user_id, bool(enabled))
        await self._uow.commit()
        return user
