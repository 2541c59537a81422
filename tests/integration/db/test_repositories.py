"""The SQL repositories and unit of work against real SQLite and PostgreSQL."""

from __future__ import annotations

import datetime

import pytest

from core.domain.errors import Conflict, NotFound
from core.domain.marketplace import (
    GeoPoint,
    NewProduct,
    NewSupplier,
    NewUser,
    Page,
    ProductChanges,
    ProductFilter,
)
from tests.integration.db.conftest import UnitOfWorkOpener

JAKARTA = GeoPoint(-6.2088, 106.8456)


def new_supplier(email: str = "budi@x.com", city: str = "Jakarta", location: GeoPoint = JAKARTA) -> NewSupplier:
    return NewSupplier(
        name="Budi",
        business_name=f"Toko {city}",
        email=email,
        phone="+62811",
        address="Jl. Sudirman 1",
        location=location,
        city=city,
        province="DKI Jakarta",
    )


def new_product(sku: str = "SKU-1", name: str = "ASUS ROG Gaming Laptop", **changes: object) -> NewProduct:
    values: dict[str, object] = {
        "name": name,
        "description": "RTX 4060, 16GB RAM",
        "price": 15_000_000,
        "stock_quantity": 3,
        "category": "Laptop",
        "tags": "gaming,asus",
        "sku": sku,
    }
    values.update(changes)
    return NewProduct(**values)  # type: ignore[arg-type]


async def test_supplier_email_is_stored_lower_case_and_found_by_key(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        created = await uow.suppliers.add(new_supplier(email="Budi@X.com"), "hash-1")
        await uow.commit()
    async with open_uow() as uow:
        assert created.email == "budi@x.com" and created.is_active
        assert created.registration_date.tzinfo is not None
        assert await uow.suppliers.get(created.id) == created
        assert await uow.suppliers.get_by_api_key_hash("hash-1") == created
        assert await uow.suppliers.get_by_api_key_hash("other") is None
        assert await uow.suppliers.get(created.id + 1000) is None


async def test_duplicate_email_is_a_conflict_and_writes_nothing(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        await uow.suppliers.add(new_supplier(), "hash-1")
        await uow.commit()
    async with open_uow() as uow:
        with pytest.raises(Conflict) as caught:
            await uow.suppliers.add(new_supplier(email="BUDI@x.com"), "hash-2")
        assert caught.value.field == "email"
        assert caught.value.message == "Email budi@x.com is already registered"
        # The transaction is still usable after the conflict.
        await uow.suppliers.add(new_supplier(email="siti@x.com"), "hash-3")
        await uow.commit()
    async with open_uow() as uow:
        listed = await uow.suppliers.list(city=None, page=Page())
        assert sorted(s.email for s in listed.items) == ["budi@x.com", "siti@x.com"]
        assert await uow.suppliers.get_by_api_key_hash("hash-2") is None


async def test_supplier_list_matches_city_and_its_districts_and_pages(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        for email, city in [
            ("a@x.com", "Jakarta"),
            ("b@x.com", "Jakarta Selatan"),
            ("c@x.com", "Bandung"),
            ("d@x.com", "Jakartaraya"),
        ]:
            await uow.suppliers.add(new_supplier(email=email, city=city), f"hash-{email}")
        await uow.commit()
    async with open_uow() as uow:
        jakarta = await uow.suppliers.list(city="jakarta", page=Page())
        assert [s.city for s in jakarta.items] == ["Jakarta", "Jakarta Selatan"] and jakarta.total == 2
        selatan = await uow.suppliers.list(city="Jakarta Selatan", page=Page())
        assert [s.city for s in selatan.items] == ["Jakarta Selatan"]
        second = await uow.suppliers.list(city=None, page=Page(skip=1, limit=2))
        assert [s.email for s in second.items] == ["b@x.com", "c@x.com"] and second.total == 4


async def test_uncommitted_work_is_rolled_back(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        await uow.suppliers.add(new_supplier(), "hash-1")
    async with open_uow() as uow:
        supplier = await uow.suppliers.add(new_supplier(), "hash-1")
        await uow.rollback()
        assert await uow.suppliers.get(supplier.id) is None
    async with open_uow() as uow:
        assert (await uow.suppliers.list(city=None, page=Page())).total == 0


async def test_product_copies_the_supplier_place_and_lower_cases_category(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        supplier = await uow.suppliers.add(new_supplier(city="Jakarta Selatan"), "hash-1")
        product = await uow.products.add(supplier.id, new_product())
        await uow.commit()
    async with open_uow() as uow:
        stored = await uow.products.get(product.id)
    assert stored == product
    assert stored.category == "laptop" and stored.city == "Jakarta Selatan" and stored.location == JAKARTA
    assert stored.supplier_name == "Toko Jakarta Selatan" and stored.distance_km is None
    assert stored.created_at.tzinfo is not None
    assert abs(stored.created_at - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=5)


async def test_duplicate_sku_is_a_conflict_and_writes_nothing(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        supplier = await uow.suppliers.add(new_supplier(), "hash-1")
        await uow.products.add(supplier.id, new_product())
        await uow.commit()
    async with open_uow() as uow:
        with pytest.raises(Conflict) as caught:
            await uow.products.add(supplier.id, new_product(name="Another laptop"))
        assert caught.value.field == "sku" and "SKU-1" in caught.value.message
        await uow.commit()
    async with open_uow() as uow:
        found = await uow.products.find(ProductFilter(text="another"))
        assert found.total == 0
        assert (await uow.products.find(ProductFilter())).total == 1


async def test_product_for_an_unknown_supplier_is_not_found(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        with pytest.raises(NotFound):
            await uow.products.add(12345, new_product())


async def test_update_changes_fields_and_what_text_search_finds(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        supplier = await uow.suppliers.add(new_supplier(), "hash-1")
        product = await uow.products.add(supplier.id, new_product())
        await uow.commit()
    async with open_uow() as uow:
        updated = await uow.products.update(
            product.id,
            ProductChanges(name="Lenovo ThinkPad", price=14_999_000, stock_quantity=0, category="Notebook"),
        )
        await uow.commit()
    assert (updated.name, updated.price, updated.stock_quantity, updated.category) == (
        "Lenovo ThinkPad",
        14_999_000,
        0,
        "notebook",
    )
    assert updated.sku == product.sku and updated.description == product.description
    async with open_uow() as uow:
        assert await uow.products.get(product.id) == updated
        assert [p.id for p in (await uow.products.find(ProductFilter(text="thinkpad"))).items] == [product.id]
        assert (await uow.products.find(ProductFilter(text="rog"))).total == 0
        assert (await uow.products.find(ProductFilter(category="notebook"))).total == 1
        with pytest.raises(NotFound):
            await uow.products.update(product.id + 1000, ProductChanges(price=1))


async def test_users_conflict_on_email_and_toggle_ai_access(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        user = await uow.users.add(
            NewUser(name="Jane", email="Jane@Email.com", phone=None, location=None, city=None, province=None),
            "user-hash",
        )
        await uow.commit()
    assert user.email == "jane@email.com" and user.location is None and not user.ai_access_enabled
    async with open_uow() as uow:
        with pytest.raises(Conflict) as caught:
            await uow.users.add(
                NewUser(
                    name="J",
                    email="jane@email.com",
                    phone=None,
                    location=JAKARTA,
                    city="Jakarta",
                    province=None,
                ),
                "other-hash",
            )
        assert caught.value.field == "email" and caught.value.message == "Email jane@email.com is already registered"
        enabled = await uow.users.set_ai_access(user.id, True)
        await uow.commit()
    async with open_uow() as uow:
        assert enabled.ai_access_enabled
        assert await uow.users.get(user.id) == enabled
        assert await uow.users.get_by_api_key_hash("user-hash") == enabled
        assert await uow.users.get_by_api_key_hash("other-hash") is None
        with pytest.raises(NotFound):
            await uow.users.set_ai_access(user.id + 1000, True)


async def test_conversations_keep_messages_in_order(open_uow: UnitOfWorkOpener) -> None:
    async with open_uow() as uow:
        user = await uow.users.add(
            NewUser(
                name="Jane",
                email="jane@x.com",
                phone=None,
                location=JAKARTA,
                city="Jakarta",
                province=None,
                ai_access_enabled=True,
            ),
            "h",
        )
        conversation = await uow.conversations.create(user.id, "session-1")
        for index in range(5):
            await uow.conversations.add_message(
                conversation.id,
                "user" if index % 2 == 0 else "assistant",
                f"message {index}",
                f'{{"n": {index}}}' if index else None,
            )
        await uow.conversations.set_last_filters(conversation.id, '{"category": "laptop"}')
        await uow.commit()
    async with open_uow() as uow:
        with pytest.raises(Conflict) as caught:
            await uow.conversations.create(user.id, "session-1")
        assert caught.value.field == "session_id"
        stored = await uow.conversations.get_by_session("session-1")
        assert stored is not None and stored.id == conversation.id and stored.user_id == user.id
        assert stored.last_filters == '{"category": "laptop"}'
        assert await uow.conversations.get(conversation.id) == stored
        assert await uow.conversations.get_by_session("nope") is None
        messages = await uow.conversations.list_messages(conversation.id, Page(skip=1, limit=2))
        assert [m.content for m in messages.items] == ["message 1", "message 2"] and messages.total == 5
        assert messages.items[0].role == "assistant" and messages.items[0].details == '{"n": 1}'
        recent = await uow.conversations.recent_messages(conversation.id, 3)
        assert [m.content for m in recent] == ["message 2", "message 3", "message 4"]
        listed = await uow.conversations.list_for_user(user.id, Page())
        assert [c.id for c in listed.items] == [conversation.id] and listed.total == 1
        assert (await uow.conversations.list_for_user(user.id + 1, Page())).total == 0
