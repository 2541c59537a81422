"""Valid inputs for the marketplace use cases, changed per test with keyword arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from core.domain.caller import Caller
from core.domain.marketplace import GeoPoint, NewProduct, NewSupplier, NewUser
from core.use_cases.add_product import AddProduct
from core.use_cases.authenticate import Access, Authenticate, KeyConfig
from core.use_cases.register_supplier import RegisterSupplier, SupplierRegistration
from core.use_cases.register_user import RegisterUser, UserRegistration
from tests.fakes.marketplace import FakeUnitOfWork

JAKARTA = GeoPoint(-6.2088, 106.8456)
BANDUNG = GeoPoint(-6.9175, 107.6191)
SURABAYA = GeoPoint(-7.2575, 112.7521)
JAKARTA_SELATAN = GeoPoint(-6.291, 106.7968)
MEDAN = GeoPoint(3.5952, 98.6722)


def new_supplier(**changes: Any) -> NewSupplier:
    base = NewSupplier(
        name="Budi Santoso",
        business_name="Toko Komputer Jakarta",
        email="budi@tokokomputer.com",
        phone="+62812345678",
        address="Jl. Sudirman No. 123",
        location=JAKARTA,
        city="Jakarta",
        province="DKI Jakarta",
    )
    return replace(base, **changes)


def new_product(**changes: Any) -> NewProduct:
    base = NewProduct(
        name="Laptop ASUS ROG Strix G15",
        description="Gaming laptop with RTX 4060",
        price=15_999_000,
        stock_quantity=5,
        category="laptop",
        tags="gaming,asus,rtx",
        sku="ASU-ROG-G15-001",
    )
    return replace(base, **changes)


def new_user(**changes: Any) -> NewUser:
    base = NewUser(
        name="Jane Smith",
        email="jane@email.com",
        phone="+62856789012",
        location=JAKARTA,
        city="Jakarta",
        province="DKI Jakarta",
        ai_access_enabled=False,
    )
    return replace(base, **changes)


async def caller_for(
    uow: FakeUnitOfWork, key: str | None, access: Access = Access.PUBLIC, admin: str | None = None
) -> Caller:
    """What the HTTP layer hands a use case for a request bearing ``key`` on a route requiring ``access``."""
    return await Authenticate(uow, KeyConfig(admin_api_key=admin))(key, access)


def keyed(
    use_case: Callable[..., Awaitable[Any]], uow: FakeUnitOfWork, access: Access, admin: str | None = None
) -> Callable[..., Awaitable[Any]]:
    """``use_case`` called as its route would be: the first argument is the bearer key, not the caller."""

    async def call(key: str | None, *args: Any) -> Any:
        return await use_case(await caller_for(uow, key, access, admin), *args)

    return call


async def supplier_in(uow: FakeUnitOfWork, **changes: Any) -> SupplierRegistration:
    return await RegisterSupplier(uow)(new_supplier(**changes))


async def user_in(uow: FakeUnitOfWork, admin_key: str | None = None, **changes: Any) -> UserRegistration:
    caller = await caller_for(uow, admin_key, Access.PUBLIC, admin_key)
    return await RegisterUser(uow, KeyConfig(admin_api_key=admin_key))(new_user(**changes), caller)


async def product_in(uow: FakeUnitOfWork, supplier: SupplierRegistration, **changes: Any):  # type: ignore[no-untyped-def]
    caller = await caller_for(uow, supplier.api_key, Access.SUPPLIER)
    return await AddProduct(uow)(caller, supplier.supplier.id, new_product(**changes))
