"""A user's profile (email, phone and location are private): the user's own key or the admin key.

Anyone else gets the same 404 as for an id that does not exist, so profiles cannot be probed.
"""

from __future__ import annotations

from core.domain.caller import Caller
from core.domain.errors import NotFound
from core.domain.marketplace import User
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules


def no_such_user(user_id: int) -> NotFound:
    return NotFound(f"User {user_id} does not exist", field="user_id")


async def visible_user(uow: UnitOfWork, caller: Caller, user_id: int) -> User:
    """The user ``user_id`` if ``caller`` may see its private data (itself, or the admin); else 404."""
    rules.existing_id(user_id, "User", "user_id")
    if caller.user is not None and caller.user.id == user_id:
        return caller.user
    if not caller.is_admin:
        raise no_such_user(user_id)
    user = await uow.users.get(user_id)
    if user is None:
        raise no_such_user(user_id)
    return user


class GetUser:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, caller: Caller, user_id: int) -> User:
        return await visible_user(self._uow, caller, user_id)
