"""A user's profile (email, phone and location are private): the user's own key or the admin key."""

from __future__ import annotations

from core.domain.errors import Forbidden, NotFound
from core.domain.marketplace import User
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules
from core.use_cases.authenticate import Authenticate


class GetUser:
    def __init__(self, uow: UnitOfWork, authenticate: Authenticate) -> None:
        self._uow = uow
        self._authenticate = authenticate

    async def __call__(self, api_key: str | None, user_id: int) -> User:
        caller = await self._authenticate(api_key)
        if caller.user is not None and caller.user.id == user_id:
            return caller.user
        rules.existing_id(user_id, "User", "user_id")
        user = await self._uow.users.get(user_id)
        if user is None:
            raise NotFound(f"User {user_id} does not exist", field="user_id")
        if not caller.admin:
            raise Forbidden("A user's profile needs that user's own API key or the admin key")
        return user
