"""Adding and changing products: the supplier's own key, validation, duplicates."""

from __future__ import annotations

import pytest

from core.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from core.domain.marketplace import ProductChanges
from core.use_cases.add_product import AddProduct
from core.use_cases.authenticate import Access
from core.use_cases.update_product import UpdateProduct
from tests.fakes.marketplace import FakeUnitOfWork
from tests.unit.marketplace.builders import keyed, new_product, product_in, supplier_in, user_in

ADMIN = "admin-secret"


def add(uow: FakeUnitOfWork):  # type: ignore[no-untyped-def]
    return keyed(AddProduct(uow), uow, Access.SUPPLIER, ADMIN)


def update(uow: FakeUnitOfWork):  # type: ignore[no-untyped-def]
    return keyed(UpdateProduct(uow), uow, Access.SUPPLIER, ADMIN)


async def test_a_supplier_adds_a_product_to_itself() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    commits = uow.commits
    product = await add(uow)(shop.api_key, shop.supplier.id, new_product(category="  Laptop "))
    assert product.supplier_id == shop.supplier.id
    assert product.supplier_name == "Toko Komputer Jakarta"
    assert product.category == "laptop"
    assert product.is_available
    assert uow.commits == commits + 1


async def test_tags_are_trimmed_and_blank_ones_dropped() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    product = await add(uow)(shop.api_key, shop.supplier.id, new_product(tags=" gaming , asus,, "))
    assert product.tags == "gaming,asus"


@pytest.mark.parametrize("key", [None, "", "sk_sup_not-a-real-key"])
async def test_adding_needs_a_valid_key(key: str | None) -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    commits = uow.commits
    with pytest.raises(Unauthorized):
        await add(uow)(key, shop.supplier.id, new_product())
    assert uow.commits == commits
    assert uow.products.items == {}


async def test_another_suppliers_key_is_forbidden() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    other = await supplier_in(uow, email="other@shop.id")
    with pytest.raises(Forbidden):
        await add(uow)(other.api_key, shop.supplier.id, new_product())
    assert uow.products.items == {}


@pytest.mark.parametrize("kind", ["user", "admin"])
async def test_a_user_or_the_admin_cannot_add_products(kind: str) -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    key = (await user_in(uow)).api_key if kind == "user" else ADMIN
    with pytest.raises(Forbidden):
        await add(uow)(key, shop.supplier.id, new_product())


async def test_unknown_supplier_is_not_found_even_with_a_valid_key() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    with pytest.raises(NotFound) as raised:
        await add(uow)(shop.api_key, 999, new_product())
    assert raised.value.field == "supplier_id"


async def test_duplicate_sku_is_a_conflict_naming_the_sku() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    await product_in(uow, shop)
    commits = uow.commits
    with pytest.raises(Conflict) as raised:
        await product_in(uow, shop, name="Another")
    assert raised.value.field == "sku"
    assert uow.commits == commits
    assert len(uow.products.items) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": 0}, "price"),
        ({"price": -5}, "price"),
        ({"price": 10**13}, "price"),
        ({"stock_quantity": -1}, "stock_quantity"),
        ({"name": " "}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"description": "d" * 5001}, "description"),
        ({"category": ""}, "category"),
        ({"tags": "t" * 501}, "tags"),
        ({"sku": "s" * 65}, "sku"),
    ],
)
async def test_invalid_products_name_the_field(changes: dict, field: str) -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    with pytest.raises(InvalidInput) as raised:
        await product_in(uow, shop, **changes)
    assert raised.value.field == field
    assert uow.products.items == {}


async def test_a_description_may_have_several_lines() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    product = await product_in(uow, shop, description="Line one\nLine two\tindented")
    assert product.description == "Line one\nLine two\tindented"


async def test_update_changes_only_the_given_fields() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    product = await product_in(uow, shop)
    commits = uow.commits
    updated = await update(uow)(
        shop.api_key, product.id, ProductChanges(price=14_999_000, stock_quantity=3, category=" LAPTOP")
    )
    assert (updated.price, updated.stock_quantity, updated.category) == (14_999_000, 3, "laptop")
    unchanged = (updated.name, updated.sku, updated.description)
    assert unchanged == (product.name, product.sku, product.description)
    assert uow.products.items[product.id] == updated
    assert uow.commits == commits + 1


async def test_update_can_make_a_product_unavailable_and_clear_its_tags() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    product = await product_in(uow, shop)
    updated = await update(uow)(shop.api_key, product.id, ProductChanges(is_available=False, tags=""))
    assert updated.is_available is False
    assert updated.tags == ""


async def test_an_empty_update_is_invalid() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    product = await product_in(uow, shop)
    with pytest.raises(InvalidInput):
        await update(uow)(shop.api_key, product.id, ProductChanges())


async def test_update_rules_match_creation() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    product = await product_in(uow, shop)
    commits = uow.commits
    with pytest.raises(InvalidInput) as raised:
        await update(uow)(shop.api_key, product.id, ProductChanges(price=0))
    assert raised.value.field == "price"
    with pytest.raises(InvalidInput) as raised:
        await update(uow)(shop.api_key, product.id, ProductChanges(stock_quantity=-1))
    assert raised.value.field == "stock_quantity"
    assert uow.products.items[product.id] == product
    assert uow.commits == commits


async def test_update_auth_matrix() -> None:
    uow = FakeUnitOfWork()
    shop = await supplier_in(uow)
    other = await supplier_in(uow, email="other@shop.id")
    product = await product_in(uow, shop)
    change = ProductChanges(price=1)
    with pytest.raises(Unauthorized):
        await update(uow)(None, product.id, change)
    with pytest.raises(Unauthorized):
        await update(uow)("wrong", product.id, change)
    with pytest.raises(Forbidden):
        await update(uow)(other.api_key, product.id, change)
    with pytest.raises(NotFound) as raised:
        await update(uow)(shop.api_key, 999, change)
    assert raised.value.field == "product_id"
    assert uow.products.items[product.id].price == product.price
