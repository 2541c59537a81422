"""Suppliers, products and users."""

from __future__ import annotations

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post, put
from litestar.params import Parameter

from core.domain.errors import InvalidInput
from core.domain.marketplace import (
    MAX_PAGE_SIZE,
    GeoPoint,
    NewProduct,
    NewSupplier,
    NewUser,
    Page,
    PageResult,
    ProductChanges,
    ProductFilter,
)
from core.ports.marketplace import UnitOfWork
from core.use_cases.products import FindProducts, ManageProducts
from core.use_cases.suppliers import BrowseSuppliers, RegisterSupplier
from core.use_cases.users import ManageUsers
from entrypoints.http.bearer import bearer_token
from entrypoints.http.marketplace.wire import (
    AiAccessChange,
    ProductCreate,
    ProductOut,
    ProductUpdate,
    RegisteredSupplierOut,
    RegisteredUserOut,
    SupplierOut,
    SupplierRegistration,
    UserOut,
    UserRegistration,
    product_out,
    registered_supplier_out,
    registered_user_out,
    supplier_out,
    user_out,
)

Skip = Annotated[int, Parameter(ge=0, description="Rows to skip")]
Limit = Annotated[int, Parameter(ge=1, description=f"Page size; values above {MAX_PAGE_SIZE} are capped")]
Money = Annotated[int | None, Parameter(ge=0, required=False, description="Integer rupiah")]


def page(skip: int, limit: int) -> Page:
    return Page(skip, min(limit, MAX_PAGE_SIZE))


def listing(result: PageResult[Any], items: list[Any]) -> Response[list[Any]]:
    return Response(items, headers={"X-Total-Count": str(result.total)})


class SupplierController(Controller):
    path = "/api/suppliers"
    tags = ["suppliers"]

    @post("/register", status_code=201, summary="Register a supplier; the api_key is shown only once")
    async def register(
        self, data: SupplierRegistration, uow: FromDishka[UnitOfWork], register: FromDishka[RegisterSupplier]
    ) -> RegisteredSupplierOut:
        created = await register(uow, NewSupplier(
            name=data.name.strip(), business_name=data.business_name.strip(), email=data.email.strip(),
            phone=data.phone, address=data.address, location=GeoPoint(data.latitude, data.longitude),
            city=data.city.strip(), province=data.province,
        ))
        return registered_supplier_out(created.supplier, created.api_key)

    @get("", summary="List suppliers (X-Total-Count has the total)")
    async def list_suppliers(
        self, uow: FromDishka[UnitOfWork], browse: FromDishka[BrowseSuppliers],
        city: Annotated[str | None, Parameter(max_length=100, required=False)] = None,
        skip: Skip = 0, limit: Limit = MAX_PAGE_SIZE,
    ) -> Response[list[SupplierOut]]:
        result = await browse.list(uow, city=city, page=page(skip, limit))
        return listing(result, [supplier_out(s) for s in result.items])

    @get("/{supplier_id:int}", summary="One supplier")
    async def get_supplier(
        self, supplier_id: int, uow: FromDishka[UnitOfWork], browse: FromDishka[BrowseSuppliers]
    ) -> SupplierOut:
        return supplier_out(await browse.get(uow, supplier_id))

    @post("/{supplier_id:int}/products", status_code=201,
          summary="Add a product (Authorization: Bearer <that supplier's api_key>)")
    async def add_product(
        self, request: Request[Any, Any, Any], supplier_id: int, data: ProductCreate,
        uow: FromDishka[UnitOfWork], products: FromDishka[ManageProducts],
    ) -> ProductOut:
        created = await products.add(uow, bearer_token(request), supplier_id, NewProduct(
            name=data.name.strip(), description=data.description, price=data.price,
            stock_quantity=data.stock_quantity, category=data.category, tags=data.tags, sku=data.sku.strip(),
            is_available=data.is_available,
        ))
        return product_out(created)


class ProductController(Controller):
    path = "/api/products"
    tags = ["products"]

    @put("/{product_id:int}", summary="Change some fields of a product (the owner's api_key)")
    async def update(
        self, request: Request[Any, Any, Any], product_id: int, data: ProductUpdate,
        uow: FromDishka[UnitOfWork], products: FromDishka[ManageProducts],
    ) -> ProductOut:
        changes = ProductChanges(
            name=data.name, description=data.description, price=data.price, stock_quantity=data.stock_quantity,
            category=data.category, tags=data.tags, is_available=data.is_available,
        )
        return product_out(await products.update(uow, bearer_token(request), product_id, changes))

    @get("", summary="List products by category and price (newest first)")
    async def list_products(
        self, uow: FromDishka[UnitOfWork], find: FromDishka[FindProducts],
        category: Annotated[str | None, Parameter(max_length=60, required=False)] = None,
        min_price: Money = None, max_price: Money = None, available_only: bool = True,
        skip: Skip = 0, limit: Limit = MAX_PAGE_SIZE,
    ) -> Response[list[ProductOut]]:
        result = await find(uow, ProductFilter(
            category=category, min_price=min_price, max_price=max_price, available_only=available_only,
            page=page(skip, limit),
        ))
        return listing(result, [product_out(p) for p in result.items])

    @get("/search", summary="Search by words, category, city, price and distance (nearest first)")
    async def search(
        self, uow: FromDishka[UnitOfWork], find: FromDishka[FindProducts],
        q: Annotated[str | None, Parameter(max_length=200, required=False,
                                           description="Every word must match, in any order")] = None,
        category: Annotated[str | None, Parameter(max_length=60, required=False)] = None,
        city: Annotated[str | None, Parameter(max_length=100, required=False)] = None,
        min_price: Money = None, max_price: Money = None,
        user_lat: Annotated[float | None, Parameter(ge=-90, le=90, required=False)] = None,
        user_lon: Annotated[float | None, Parameter(ge=-180, le=180, required=False)] = None,
        radius_km: Annotated[float | None, Parameter(gt=0, le=20_040, required=False)] = None,
        available_only: bool = True, skip: Skip = 0, limit: Limit = 20,
    ) -> Response[list[ProductOut]]:
        if (user_lat is None) != (user_lon is None):
            missing = "user_lon" if user_lon is None else "user_lat"
            raise InvalidInput(f"{missing} is required together with the other coordinate", field=missing)
        near = GeoPoint(user_lat, user_lon) if user_lat is not None and user_lon is not None else None
        result = await find(uow, ProductFilter(
            text=q, category=category, cities=(city,) if city else (), min_price=min_price, max_price=max_price,
            near=near, radius_km=radius_km, available_only=available_only, page=page(skip, limit),
        ))
        return listing(result, [product_out(p) for p in result.items])


class UserController(Controller):
    path = "/api/users"
    tags = ["users"]

    @post("/register", status_code=201,
          summary="Register a user; ai_access_enabled needs the admin key when one is configured")
    async def register(
        self, request: Request[Any, Any, Any], data: UserRegistration, uow: FromDishka[UnitOfWork],
        users: FromDishka[ManageUsers],
    ) -> RegisteredUserOut:
        if (data.latitude is None) != (data.longitude is None):
            missing = "longitude" if data.longitude is None else "latitude"
            raise InvalidInput(f"{missing} is required together with the other coordinate", field=missing)
        location = GeoPoint(data.latitude, data.longitude) if data.latitude is not None \
            and data.longitude is not None else None
        created = await users.register(uow, bearer_token(request), NewUser(
            name=data.name.strip(), email=data.email.strip(), phone=data.phone, location=location,
            city=data.city, province=data.province, ai_access_enabled=data.ai_access_enabled,
        ))
        return registered_user_out(created.user, created.api_key)

    @get("/{user_id:int}", summary="A user's profile (that user's api_key or the admin key)")
    async def profile(
        self, request: Request[Any, Any, Any], user_id: int, uow: FromDishka[UnitOfWork],
        users: FromDishka[ManageUsers],
    ) -> UserOut:
        return user_out(await users.profile(uow, bearer_token(request), user_id))

    @put("/{user_id:int}/ai-access", summary="Turn the paid AI access on or off (admin key)")
    async def set_ai_access(
        self, request: Request[Any, Any, Any], user_id: int, data: AiAccessChange, uow: FromDishka[UnitOfWork],
        users: FromDishka[ManageUsers],
    ) -> UserOut:
        return user_out(await users.set_ai_access(uow, bearer_token(request), user_id, data.ai_access_enabled))
