"""Register a shopper and hand out its API key, shown only this once.

``ai_access_enabled`` is a paid feature: when an admin key is configured only a request bearing it
may set the flag; without one the flag is taken as given (the service warns at start-up).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.api_keys import USER_KEY_PREFIX, hash_api_key, new_api_key
from core.domain.caller import Caller
from core.domain.errors import Conflict, Forbidden
from core.domain.marketplace import NewUser, User
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules
from core.use_cases.authenticate import KeyConfig


@dataclass(frozen=True, slots=True)
class UserRegistration:
    user: User
    api_key: str


def clean_user(user: NewUser) -> NewUser:
    return NewUser(
        name=rules.required_text(user.name, "name", rules.MAX_NAME),
        email=rules.email(user.email),
        phone=rules.phone(user.phone),
        location=user.location,
        city=rules.optional_text(user.city, "city", rules.MAX_CITY),
        province=rules.optional_text(user.province, "province", rules.MAX_PROVINCE),
        ai_access_enabled=bool(user.ai_access_enabled),
    )


class RegisterUser:
    def __init__(self, uow: UnitOfWork, keys: KeyConfig) -> None:
        self._uow = uow
        self._admin_configured = bool(keys.admin_api_key)

    async def __call__(self, user: NewUser, caller: Caller) -> UserRegistration:
        cleaned = clean_user(user)
        if cleaned.ai_access_enabled and self._admin_configured and not caller.is_admin:
            raise Forbidden(
                "ai_access_enabled is a paid feature: only a request bearing the admin API key may set it",
                field="ai_access_enabled",
            )
        api_key_for_user = new_api_key(USER_KEY_PREFIX)
        try:
            created = await self._uow.users.add(cleaned, hash_api_key(api_key_for_user))
        except Conflict as error:
            if error.field == "email":
                raise Conflict(f"Email {cleaned.email} is already registered", field="email") from error
            raise
        await self._uow.commit()
        return UserRegistration(created, api_key_for_user)
