"""Users: registration, the paid AI flag with and without an admin key, private profiles."""

from __future__ import annotations

import pytest

from core.domain.api_keys import USER_KEY_PREFIX, hash_api_key
from core.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from core.use_cases.authenticate import Access, KeyConfig
from core.use_cases.get_user import GetUser
from core.use_cases.register_user import RegisterUser
from core.use_cases.set_ai_access import SetAiAccess
from tests.fakes.marketplace import FakeUnitOfWork
from tests.unit.marketplace.builders import caller_for, keyed, new_user, supplier_in, user_in

ADMIN = "admin-secret"


def register(uow: FakeUnitOfWork, admin: str | None):  # type: ignore[no-untyped-def]
    use_case = RegisterUser(uow, KeyConfig(admin_api_key=admin))

    async def call(user, key=None):  # type: ignore[no-untyped-def]
        return await use_case(user, await caller_for(uow, key, Access.PUBLIC, admin))

    return call


async def test_registration_returns_a_user_key_and_stores_its_hash() -> None:
    uow = FakeUnitOfWork()
    registration = await register(uow, ADMIN)(new_user(email=" Jane@Email.com "))
    assert registration.api_key.startswith(USER_KEY_PREFIX)
    assert uow.users.key_hashes == {hash_api_key(registration.api_key): registration.user.id}
    assert registration.user.email == "jane@email.com"
    assert registration.user.ai_access_enabled is False
    assert uow.committed


async def test_a_user_without_location_or_city_is_fine() -> None:
    uow = FakeUnitOfWork()
    registration = await register(uow, None)(new_user(location=None, city=None, province=None, phone=None))
    assert registration.user.location is None


async def test_duplicate_email_is_a_conflict() -> None:
    uow = FakeUnitOfWork()
    await user_in(uow)
    commits = uow.commits
    with pytest.raises(Conflict) as raised:
        await user_in(uow)
    assert raised.value.field == "email"
    assert "already registered" in raised.value.message
    assert uow.commits == commits


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"email": "jane"}, "email"),
        ({"city": "c" * 101}, "city"),
        ({"phone": "abc"}, "phone"),
    ],
)
async def test_invalid_users_name_the_field(changes: dict, field: str) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(InvalidInput) as raised:
        await user_in(uow, **changes)
    assert raised.value.field == field
    assert uow.users.items == {}


async def test_with_an_admin_key_only_the_admin_may_enable_ai_access() -> None:
    uow = FakeUnitOfWork()
    for key in (None, "", "guess", "admin-secret "):
        with pytest.raises(Forbidden) as raised:
            await register(uow, ADMIN)(new_user(ai_access_enabled=True), key)
        assert raised.value.field == "ai_access_enabled"
    assert uow.users.items == {}
    assert not uow.committed
    registration = await register(uow, ADMIN)(new_user(ai_access_enabled=True), ADMIN)
    assert registration.user.ai_access_enabled is True


async def test_with_an_admin_key_anyone_may_register_without_ai_access() -> None:
    uow = FakeUnitOfWork()
    registration = await register(uow, ADMIN)(new_user(ai_access_enabled=False), "whatever")
    assert registration.user.ai_access_enabled is False


async def test_without_an_admin_key_the_flag_is_taken_as_given() -> None:
    uow = FakeUnitOfWork()
    registration = await register(uow, None)(new_user(ai_access_enabled=True))
    assert registration.user.ai_access_enabled is True


def set_access(uow: FakeUnitOfWork, admin: str | None):  # type: ignore[no-untyped-def]
    return keyed(SetAiAccess(uow), uow, Access.ADMIN, admin)


async def test_the_admin_toggles_ai_access() -> None:
    uow = FakeUnitOfWork()
    user = (await user_in(uow)).user
    commits = uow.commits
    assert (await set_access(uow, ADMIN)(ADMIN, user.id, True)).ai_access_enabled is True
    assert uow.users.items[user.id].ai_access_enabled is True
    assert (await set_access(uow, ADMIN)(ADMIN, user.id, False)).ai_access_enabled is False
    assert uow.commits == commits + 2


async def test_ai_access_auth_matrix() -> None:
    uow = FakeUnitOfWork()
    registration = await user_in(uow)
    shop = await supplier_in(uow)
    user_id = registration.user.id
    commits = uow.commits
    with pytest.raises(Unauthorized):
        await set_access(uow, ADMIN)(None, user_id, True)
    with pytest.raises(Unauthorized):
        await set_access(uow, ADMIN)("guess", user_id, True)
    with pytest.raises(Forbidden):
        await set_access(uow, ADMIN)(registration.api_key, user_id, True)
    with pytest.raises(Forbidden):
        await set_access(uow, ADMIN)(shop.api_key, user_id, True)
    with pytest.raises(NotFound) as raised:
        await set_access(uow, ADMIN)(ADMIN, 999, True)
    assert raised.value.field == "user_id"
    assert uow.users.items[user_id].ai_access_enabled is False
    assert uow.commits == commits


async def test_without_an_admin_key_ai_access_cannot_be_toggled() -> None:
    uow = FakeUnitOfWork()
    registration = await user_in(uow)
    for key in (None, registration.api_key, "anything"):
        with pytest.raises(Forbidden) as raised:
            await set_access(uow, None)(key, registration.user.id, True)
        assert "admin key" in raised.value.message.lower()


def get_user(uow: FakeUnitOfWork, admin: str | None = ADMIN):  # type: ignore[no-untyped-def]
    return keyed(GetUser(uow), uow, Access.USER_OR_ADMIN, admin)


async def test_a_profile_is_visible_to_its_owner_and_the_admin_only() -> None:
    uow = FakeUnitOfWork()
    jane = await user_in(uow)
    john = await user_in(uow, email="john@email.com")
    shop = await supplier_in(uow)
    assert await get_user(uow)(jane.api_key, jane.user.id) == jane.user
    assert await get_user(uow)(ADMIN, jane.user.id) == jane.user
    with pytest.raises(NotFound) as hidden:  # another user: as if the profile did not exist
        await get_user(uow)(john.api_key, jane.user.id)
    assert hidden.value.message == f"User {jane.user.id} does not exist"
    with pytest.raises(Forbidden):
        await get_user(uow)(shop.api_key, jane.user.id)
    with pytest.raises(Unauthorized):
        await get_user(uow)(None, jane.user.id)
    with pytest.raises(Unauthorized):
        await get_user(uow)("guess", jane.user.id)
    with pytest.raises(NotFound):
        await get_user(uow)(ADMIN, 999)
    with pytest.raises(NotFound):
        await get_user(uow)(jane.api_key, 2**64)


async def test_without_an_admin_key_nobody_is_admin() -> None:
    uow = FakeUnitOfWork()
    jane = await user_in(uow)
    for empty_admin in (None, ""):
        with pytest.raises(Unauthorized):
            await get_user(uow, empty_admin)("", jane.user.id)
        with pytest.raises(Unauthorized):
            await get_user(uow, empty_admin)("admin", jane.user.id)
