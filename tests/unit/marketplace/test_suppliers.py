"""Registering and browsing suppliers."""

from __future__ import annotations

import pytest

from core.domain.api_keys import SUPPLIER_KEY_PREFIX, hash_api_key
from core.domain.errors import Conflict, InvalidInput, NotFound
from core.domain.marketplace import Page
from core.use_cases.list_suppliers import GetSupplier, ListSuppliers
from core.use_cases.register_supplier import RegisterSupplier
from tests.fakes.marketplace import FakeUnitOfWork
from tests.unit.marketplace.builders import BANDUNG, JAKARTA_SELATAN, new_supplier, supplier_in


async def test_registration_stores_the_supplier_and_only_the_hash_of_its_new_key() -> None:
    uow = FakeUnitOfWork()
    registration = await RegisterSupplier(uow)(new_supplier())
    assert registration.api_key.startswith(SUPPLIER_KEY_PREFIX)
    assert uow.suppliers.key_hashes == {hash_api_key(registration.api_key): registration.supplier.id}
    assert registration.supplier.is_active
    assert registration.supplier.business_name == "Toko Komputer Jakarta"
    assert uow.committed


async def test_each_registration_gets_a_different_key() -> None:
    uow = FakeUnitOfWork()
    first = await supplier_in(uow)
    second = await supplier_in(uow, email="other@shop.id")
    assert first.api_key != second.api_key


async def test_registration_trims_text_and_lower_cases_the_email() -> None:
    uow = FakeUnitOfWork()
    registration = await supplier_in(uow, name="  Budi  ", email=" Budi@TokoKomputer.COM ", address="  ", phone=" ")
    supplier = registration.supplier
    assert (supplier.name, supplier.email, supplier.address, supplier.phone) == (
        "Budi",
        "budi@tokokomputer.com",
        None,
        None,
    )


async def test_duplicate_email_is_a_conflict_that_says_so_and_commits_nothing() -> None:
    uow = FakeUnitOfWork()
    await supplier_in(uow)
    commits = uow.commits
    with pytest.raises(Conflict) as raised:
        await supplier_in(uow, email="BUDI@tokokomputer.com")
    assert raised.value.field == "email"
    assert "already registered" in raised.value.message
    assert uow.commits == commits


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"business_name": ""}, "business_name"),
        ({"email": ""}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"address": "x" * 501}, "address"),
        ({"city": ""}, "city"),
        ({"name": "Budi\x00"}, "name"),
        ({"province": "p" * 101}, "province"),
    ],
)
async def test_invalid_registrations_name_the_field_and_commit_nothing(changes: dict, field: str) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(InvalidInput) as raised:
        await supplier_in(uow, **changes)
    assert raised.value.field == field
    assert not uow.committed
    assert uow.suppliers.items == {}


async def test_list_filters_by_city_including_its_districts_and_pages() -> None:
    uow = FakeUnitOfWork()
    jakarta = await supplier_in(uow, email="a@shop.id")
    selatan = await supplier_in(uow, email="b@shop.id", city="Jakarta Selatan", location=JAKARTA_SELATAN)
    await supplier_in(uow, email="c@shop.id", city="Bandung", location=BANDUNG)
    listed = await ListSuppliers(uow)(city="jakarta")
    assert [s.id for s in listed.items] == [jakarta.supplier.id, selatan.supplier.id]
    assert listed.total == 2
    page = await ListSuppliers(uow)(page=Page(skip=1, limit=1))
    assert page.total == 3
    assert [s.id for s in page.items] == [selatan.supplier.id]


async def test_a_blank_city_lists_everyone() -> None:
    uow = FakeUnitOfWork()
    await supplier_in(uow)
    assert (await ListSuppliers(uow)(city="  ")).total == 1


async def test_get_supplier_and_unknown_ids() -> None:
    uow = FakeUnitOfWork()
    registration = await supplier_in(uow)
    assert await GetSupplier(uow)(registration.supplier.id) == registration.supplier
    for missing in (999, 0, -1, 2**70):
        with pytest.raises(NotFound) as raised:
            await GetSupplier(uow)(missing)
        assert raised.value.field == "supplier_id"
