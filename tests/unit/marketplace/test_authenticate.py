"""The one authentication: a bearer token becomes a Caller, checked against what the route requires;
key rotation; private resources answer 404 to everyone but their owner (and the admin)."""

from __future__ import annotations

import pytest

from core.domain.caller import Caller
from core.domain.errors import Forbidden, NotFound, Unauthorized
from core.domain.marketplace import Page
from core.domain.streams import ANONYMOUS_OWNER, api_client_owner, user_owner
from core.use_cases.authenticate import Access, Authenticate, KeyConfig, key_id
from core.use_cases.conversation_history import ConversationHistory
from core.use_cases.rotate_api_key import RotateSupplierKey, RotateUserKey
from tests.fakes.marketplace import FakeUnitOfWork
from tests.unit.marketplace.builders import caller_for, supplier_in, user_in

ADMIN = "admin-secret"


class CountingUnitOfWork(FakeUnitOfWork):
    """Counts key lookups, to prove which routes authenticate without the database."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        for repository in (self.suppliers, self.users):
            original = repository.get_by_api_key_hash

            async def counted(digest, original=original):  # type: ignore[no-untyped-def]
                self.lookups += 1
                return await original(digest)

            repository.get_by_api_key_hash = counted  # type: ignore[method-assign]


async def test_each_key_becomes_its_kind_of_caller() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    jane = await user_in(uow)
    supplier = await caller_for(uow, shop.api_key, Access.SUPPLIER, ADMIN)
    assert supplier.kind == "supplier" and supplier.is_supplier(shop.supplier.id)
    user = await caller_for(uow, jane.api_key, Access.USER, ADMIN)
    assert user.kind == "user" and user.is_user(jane.user.id) and not user.is_admin
    admin = await caller_for(uow, ADMIN, Access.USER_OR_ADMIN, ADMIN)
    assert admin.is_admin and admin.user is None
    assert (await caller_for(uow, None, Access.PUBLIC, ADMIN)).kind == "anonymous"


@pytest.mark.parametrize(
    "access", [Access.SUPPLIER, Access.USER, Access.USER_OR_ADMIN, Access.SUPPLIER_OR_ADMIN, Access.ADMIN]
)
async def test_a_route_that_needs_a_key_refuses_none_or_an_unknown_one(access: Access) -> None:
    uow = FakeUnitOfWork()
    for token in (None, "", "sk_usr_guess"):
        with pytest.raises(Unauthorized):
            await caller_for(uow, token, access, ADMIN)


async def test_a_valid_key_of_the_wrong_kind_is_forbidden() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    jane = await user_in(uow)
    for token, access in (
        (jane.api_key, Access.SUPPLIER),
        (ADMIN, Access.SUPPLIER),
        (shop.api_key, Access.USER),
        (shop.api_key, Access.USER_OR_ADMIN),
        (jane.api_key, Access.SUPPLIER_OR_ADMIN),
        (jane.api_key, Access.ADMIN),
        (shop.api_key, Access.ADMIN),
    ):
        with pytest.raises(Forbidden):
            await caller_for(uow, token, access, ADMIN)


async def test_admin_routes_are_disabled_without_an_admin_key() -> None:
    uow = FakeUnitOfWork()
    for token in (None, "", "admin"):
        with pytest.raises(Forbidden) as raised:
            await caller_for(uow, token, Access.ADMIN, None)
        assert "ADMIN_API_KEY" in raised.value.message


async def test_public_routes_ignore_unknown_keys_and_never_look_up_accounts() -> None:
    uow = CountingUnitOfWork()
    jane = await user_in(uow)
    for token in (None, "whatever", jane.api_key):
        caller = await caller_for(uow, token, Access.PUBLIC, ADMIN)
        assert caller.kind == "anonymous" and caller.presented_token == bool(token)
    assert (await caller_for(uow, ADMIN, Access.PUBLIC, ADMIN)).is_admin
    assert uow.lookups == 0


async def test_inference_keys_identify_a_client_by_a_key_id_never_the_key() -> None:
    uow = CountingUnitOfWork()
    authenticate = Authenticate(uow, KeyConfig(inference_api_keys=("k1", "k2")))
    first = await authenticate("k1", Access.INFERENCE)
    second = await authenticate("k2", Access.INFERENCE)
    assert first.kind == second.kind == "api_client"
    assert first.stream_owner == f"key:{key_id('k1')}" == api_client_owner("k1") != second.stream_owner
    assert "k1" not in (first.key_id or "") and len(first.key_id or "") == 32
    assert await authenticate("k1", Access.INFERENCE) == first  # stable across requests
    for token in (None, "k3", "k1 "):
        with pytest.raises(Unauthorized) as raised:
            await authenticate(token, Access.INFERENCE)
        assert raised.value.code == "invalid_api_key"
    assert uow.lookups == 0


async def test_an_open_inference_server_takes_every_client_as_anonymous() -> None:
    authenticate = Authenticate(FakeUnitOfWork(), KeyConfig(admin_api_key=ADMIN))
    for token in (None, "sk-anything", ADMIN):
        caller = await authenticate(token, Access.INFERENCE)
        assert caller.kind == "anonymous" and caller.stream_owner == ANONYMOUS_OWNER


async def test_metrics_key_when_configured() -> None:
    open_metrics = Authenticate(FakeUnitOfWork(), KeyConfig())
    assert (await open_metrics(None, Access.METRICS)).kind == "anonymous"
    closed = Authenticate(FakeUnitOfWork(), KeyConfig(metrics_api_key="m"))
    assert (await closed("m", Access.METRICS)).kind == "metrics_scraper"
    with pytest.raises(Unauthorized):
        await closed("wrong", Access.METRICS)


async def test_stream_owners_are_stable_and_distinct_per_caller() -> None:
    uow = FakeUnitOfWork()
    jane = await user_in(uow)
    john = await user_in(uow, email="john@email.com")
    jane_caller = await caller_for(uow, jane.api_key, Access.USER)
    assert jane_caller.stream_owner == user_owner(jane.user.id)
    assert (await caller_for(uow, john.api_key, Access.USER)).stream_owner != jane_caller.stream_owner
    assert Caller().stream_owner == ANONYMOUS_OWNER


async def test_rotating_a_supplier_key_returns_a_new_one_and_the_old_stops_at_once() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    other = await supplier_in(uow, email="other@shop.id")
    rotate = RotateSupplierKey(uow)
    rotated = await rotate(await caller_for(uow, shop.api_key, Access.SUPPLIER_OR_ADMIN), shop.supplier.id)
    assert rotated.api_key != shop.api_key and rotated.api_key.startswith("sk_sup_")
    with pytest.raises(Unauthorized):
        await caller_for(uow, shop.api_key, Access.SUPPLIER)
    assert (await caller_for(uow, rotated.api_key, Access.SUPPLIER)).is_supplier(shop.supplier.id)
    with pytest.raises(Forbidden):
        await rotate(await caller_for(uow, other.api_key, Access.SUPPLIER_OR_ADMIN), shop.supplier.id)
    by_admin = await rotate(await caller_for(uow, ADMIN, Access.SUPPLIER_OR_ADMIN, ADMIN), shop.supplier.id)
    with pytest.raises(Unauthorized):
        await caller_for(uow, rotated.api_key, Access.SUPPLIER)
    assert (await caller_for(uow, by_admin.api_key, Access.SUPPLIER)).is_supplier(shop.supplier.id)
    assert (await caller_for(uow, other.api_key, Access.SUPPLIER)).is_supplier(other.supplier.id)
    with pytest.raises(NotFound):
        await rotate(await caller_for(uow, ADMIN, Access.SUPPLIER_OR_ADMIN, ADMIN), 2**64)


async def test_rotating_a_user_key_is_private_to_its_owner_and_the_admin() -> None:
    uow = FakeUnitOfWork()
    jane = await user_in(uow)
    john = await user_in(uow, email="john@email.com")
    rotate = RotateUserKey(uow)
    with pytest.raises(NotFound):
        await rotate(await caller_for(uow, john.api_key, Access.USER_OR_ADMIN), jane.user.id)
    assert (await caller_for(uow, jane.api_key, Access.USER)).is_user(jane.user.id)  # untouched
    rotated = await rotate(await caller_for(uow, jane.api_key, Access.USER_OR_ADMIN), jane.user.id)
    with pytest.raises(Unauthorized):
        await caller_for(uow, jane.api_key, Access.USER)
    assert (await caller_for(uow, rotated.api_key, Access.USER)).is_user(jane.user.id)
    assert rotated.user == jane.user


async def test_conversations_and_messages_answer_404_to_strangers_and_out_of_range_ids() -> None:
    uow = FakeUnitOfWork()
    jane = await user_in(uow)
    john = await user_in(uow, email="john@email.com")
    conversation = await uow.conversations.create(jane.user.id, "s1")
    await uow.conversations.add_message(conversation.id, "user", "laptop?")
    history = ConversationHistory(uow)
    owner = await caller_for(uow, jane.api_key, Access.USER_OR_ADMIN)
    stranger = await caller_for(uow, john.api_key, Access.USER_OR_ADMIN)
    admin = await caller_for(uow, ADMIN, Access.USER_OR_ADMIN, ADMIN)
    assert (await history.conversations(owner, jane.user.id, Page())).total == 1
    assert (await history.messages(owner, conversation.id, Page())).total == 1
    assert (await history.messages(admin, conversation.id, Page())).total == 1
    for caller in (stranger, admin):
        with pytest.raises(NotFound):
            await history.conversations(caller, 999, Page())
    with pytest.raises(NotFound):
        await history.conversations(stranger, jane.user.id, Page())
    with pytest.raises(NotFound) as hidden:
        await history.messages(stranger, conversation.id, Page())
    assert hidden.value.field == "conversation_id"
    for huge in (0, 2**63, 10**30):
        with pytest.raises(NotFound):
            await history.conversations(owner, huge, Page())
        with pytest.raises(NotFound):
            await history.messages(owner, huge, Page())
