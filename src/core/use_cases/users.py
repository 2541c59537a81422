"""User registration, profiles, and the paid AI-access flag."""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.domain.api_keys import USER_KEY_PREFIX, hash_api_key, new_api_key
from core.domain.errors import Forbidden, NotFound, Unauthorized
from core.domain.marketplace import NewUser, User
from core.ports.marketplace import UnitOfWork
from core.use_cases.access import MISSING_KEY, Access


@dataclass(frozen=True, slots=True)
class RegisteredUser:
    user: User
    api_key: str  # shown once, stored only as a hash


class ManageUsers:
    def __init__(self, access: Access) -> None:
        self._access = access

    async def register(self, uow: UnitOfWork, caller_key: str | None, user: NewUser) -> RegisteredUser:
        """``ai_access_enabled`` is paid: with an admin key configured only the admin may set it."""
        if user.ai_access_enabled and self._access.admin_configured and not self._access.is_admin(caller_key):
            raise Forbidden("Only the admin key may enable AI access (a paid feature)", field="ai_access_enabled")
        api_key = new_api_key(USER_KEY_PREFIX)
        created = await uow.users.add(replace(user), hash_api_key(api_key))
        await uow.commit()
        return RegisteredUser(created, api_key)

    async def profile(self, uow: UnitOfWork, caller_key: str | None, user_id: int) -> User:
        if self._access.is_admin(caller_key):
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound(f"User {user_id} does not exist", field="user_id")
            return user
        caller = await self._access.user(uow, caller_key)
        if caller.id != user_id:
            if await uow.users.get(user_id) is None:
                raise NotFound(f"User {user_id} does not exist", field="user_id")
            raise Forbidden("A user's profile is private to that user")
        return caller

    async def set_ai_access(self, uow: UnitOfWork, caller_key: str | None, user_id: int, enabled: bool) -> User:
        if not self._access.admin_configured:
            raise Forbidden("No ADMIN_API_KEY is configured on this server, so AI access cannot be changed here")
        if not caller_key:
            raise Unauthorized(MISSING_KEY)
        if not self._access.is_admin(caller_key):
            raise Forbidden("Only the admin key may change AI access")
        user = await uow.users.set_ai_access(user_id, enabled)
        await uow.commit()
        return user
