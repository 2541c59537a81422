"""The admin turns a user's paid AI access on or off (the route requires ``Access.ADMIN``)."""

from __future__ import annotations

from core.domain.caller import Caller
from core.domain.errors import Forbidden, NotFound
from core.domain.marketplace import User
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules


class SetAiAccess:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, caller: Caller, user_id: int, enabled: bool) -> User:
        if not caller.is_admin:
            raise Forbidden("This action needs the admin API key")
        rules.existing_id(user_id, "User", "user_id")
        if await self._uow.users.get(user_id) is None:
            raise NotFound(f"User {user_id} does not exist", field="user_id")
        user = await self._uow.users.set_ai_access(user_id, bool(enabled))
        await self._uow.commit()
        return user
