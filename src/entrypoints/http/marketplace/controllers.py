"""Suppliers, products and users: parse the wire, call one use case, shape the answer.

Each route states what it requires (``access=``); ``entrypoints.http.auth`` turns the bearer token
into the ``caller`` before the body is parsed, and the use cases decide what that caller may do.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from core.domain.caller import Caller
from core.domain.marketplace import (
    MAX_PAGE_SIZE,
    GeoPoint,
    NewProduct,
    NewSupplier,
    NewUser,
    ProductChanges,
    SupplierChanges,
)
from core.use_cases import marketplace_rules as rules
from core.use_cases.add_product import AddProduct
from core.use_cases.authenticate import Access
from core.use_cases.delete_product import DeleteProduct
from core.use_cases.get_product import GetProduct
from core.use_cases.get_user import GetUser
from core.use_cases.list_products import ListProducts
from core.use_cases.list_suppliers import GetSupplier, ListSuppliers
from core.use_cases.register_supplier import RegisterSupplier
from core.use_cases.register_user import RegisterUser
from core.use_cases.rotate_api_key import RotateSupplierKey, RotateUserKey
from core.use_cases.search_products import ProductSearch, SearchProducts
from core.use_cases.set_ai_access import SetAiAccess
from core.use_cases.update_product import UpdateProduct
from core.use_cases.update_supplier import UpdateSupplier
from entrypoints.http.marketplace.wire import (
    AiAccessChange,
    ErrorOut,
    ProductCreate,
    ProductOut,
    ProductUpdate,
    RegisteredSupplierOut,
    RegisteredUserOut,
    SupplierOut,
    SupplierRegistration,
    SupplierUpdate,
    UserOut,
    UserRegistration,
    product_out,
    registered_supplier_out,
    registered_user_out,
    supplier_out,
    user_out,
)
from entrypoints.http.paging import TOTAL, TOTAL_HEADER, Limit, Skip, listing, page

DEFAULT_SEARCH_LIMIT = 20
Money = Annotated[int | None, Parameter(ge=0, required=False, description="Integer rupiah")]
CategoryQuery = Annotated[
    str | None,
    Parameter(max_length=rules.MAX_CATEGORY, required=False, description="Exact category, case-insensitive"),
]
CityQuery = Annotated[
    str | None,
    Parameter(
        max_length=rules.MAX_CITY,
        required=False,
        description='Supplier city, case-insensitive; "Jakarta" also matches "Jakarta Selatan"',
    ),
]


def _errors(*pairs: tuple[int, str]) -> dict[int, ResponseSpec]:
    """Error answers for OpenAPI; every route can answer 400 (say, a body that is not JSON)."""
    documented = ((400, "The request cannot be read, such as a body that is not JSON"), *pairs)
    return {status: ResponseSpec(ErrorOut, description=text, generate_examples=False) for status, text in documented}


BAD_INPUT = (422, "A field breaks a rule; `field` names it")
AUTH = (
    (401, "No API key, or one that matches nobody (WWW-Authenticate: Bearer)"),
    (403, "A valid key that does not grant this action"),
)
LIST_HEADERS = f"JSON array; the `{TOTAL_HEADER}` header holds the number of matches before paging"


class SupplierController(Controller):
    path = "/api/suppliers"
    tags: ClassVar[list[str]] = ["suppliers"]

    @post(
        "/register",
        status_code=201,
        summary="Register a supplier",
        description="Answers with the supplier's `api_key`, shown only this once (needed to add products).",
        responses=_errors((409, "The email is already registered"), BAD_INPUT),
    )
    async def register(
        self, data: SupplierRegistration, register: FromDishka[RegisterSupplier]
    ) -> RegisteredSupplierOut:
        created = await register(
            NewSupplier(
                name=data.name,
                business_name=data.business_name,
                email=data.email,
                phone=data.phone,
                address=data.address,
                location=GeoPoint(data.latitude, data.longitude),
                city=data.city,
                province=data.province,
            )
        )
        return registered_supplier_out(created.supplier, created.api_key)

    @get(
        "",
        summary="List suppliers",
        description=LIST_HEADERS + "; oldest registration first.",
        response_headers=TOTAL,
        responses=_errors(BAD_INPUT),
    )
    async def list_suppliers(
        self,
        suppliers: FromDishka[ListSuppliers],
        city: CityQuery = None,
        skip: Skip = 0,
        limit: Limit = MAX_PAGE_SIZE,
    ) -> Response[list[SupplierOut]]:
        result = await suppliers(city=city, page=page(skip, limit))
        return listing(result, [supplier_out(s) for s in result.items])

    @get("/{supplier_id:int}", summary="Get one supplier", responses=_errors((404, "No such supplier")))
    async def get_supplier(self, supplier_id: int, get_supplier: FromDishka[GetSupplier]) -> SupplierOut:
        return supplier_out(await get_supplier(supplier_id))

    @put(
        "/{supplier_id:int}",
        access=Access.SUPPLIER,
        summary="Change a supplier's profile (Authorization: Bearer <that supplier's api_key>)",
        description=(
            "Only the fields sent change. A new `latitude`/`longitude` (both together) or `city` is copied onto "
            "every product of the supplier in the same transaction, so distance search follows at once."
        ),
        responses=_errors(*AUTH, (404, "No such supplier"), BAD_INPUT),
    )
    async def update_supplier(
        self,
        caller: Caller,
        supplier_id: int,
        data: SupplierUpdate,
        update: FromDishka[UpdateSupplier],
    ) -> SupplierOut:
        location = rules.location(data.latitude, data.longitude, required=False)
        changes = SupplierChanges(
            name=data.name,
            business_name=data.business_name,
            phone=data.phone,
            address=data.address,
            location=location,
            city=data.city,
            province=data.province,
        )
        return supplier_out(await update(caller, supplier_id, changes))

    @post(
        "/{supplier_id:int}/api-key",
        status_code=200,
        access=Access.SUPPLIER_OR_ADMIN,
        summary="Rotate a supplier's API key (that supplier's current api_key or the admin key)",
        description="Answers the supplier with a new `api_key`, shown only this once; the old key stops at once.",
        responses=_errors(*AUTH, (404, "No such supplier")),
    )
    async def rotate_key(
        self, caller: Caller, supplier_id: int, rotate: FromDishka[RotateSupplierKey]
    ) -> RegisteredSupplierOut:
        rotated = await rotate(caller, supplier_id)
        return registered_supplier_out(rotated.supplier, rotated.api_key)

    @get(
        "/{supplier_id:int}/products",
        summary="A supplier's products, by category and price",
        description=LIST_HEADERS + "; newest first.",
        response_headers=TOTAL,
        responses=_errors((404, "No such supplier"), BAD_INPUT),
    )
    async def list_supplier_products(
        self,
        supplier_id: int,
        products: FromDishka[ListProducts],
        category: CategoryQuery = None,
        min_price: Money = None,
        max_price: Money = None,
        available_only: Annotated[bool, Parameter(description="Hide products marked unavailable")] = True,
        skip: Skip = 0,
        limit: Limit = MAX_PAGE_SIZE,
    ) -> Response[list[ProductOut]]:
        result = await products(
            category=category,
            min_price=min_price,
            max_price=max_price,
            available_only=available_only,
            supplier_id=supplier_id,
            page=page(skip, limit),
        )
        return listing(result, [product_out(p) for p in result.items])

    @post(
        "/{supplier_id:int}/products",
        status_code=201,
        access=Access.SUPPLIER,
        summary="Add a product (Authorization: Bearer <that supplier's api_key>)",
        description=(
            "The category is stored lower-case. `sku`, `description` and `tags` are optional; a `sku`, when "
            "given, must be unique."
        ),
        responses=_errors(*AUTH, (404, "No such supplier"), (409, "The SKU already exists"), BAD_INPUT),
    )
    async def add_product(
        self,
        caller: Caller,
        supplier_id: int,
        data: ProductCreate,
        add: FromDishka[AddProduct],
    ) -> ProductOut:
        created = await add(
            caller,
            supplier_id,
            NewProduct(
                name=data.name,
                description=data.description,
                price=data.price,
                stock_quantity=data.stock_quantity,
                category=data.category,
                tags=data.tags,
                sku=data.sku,
                is_available=data.is_available,
            ),
        )
        return product_out(created)


class ProductController(Controller):
    path = "/api/products"
    tags: ClassVar[list[str]] = ["products"]

    @get("/{product_id:int}", summary="Get one product", responses=_errors((404, "No such product")))
    async def get_product(self, product_id: int, get_product: FromDishka[GetProduct]) -> ProductOut:
        return product_out(await get_product(product_id))

    @delete(
        "/{product_id:int}",
        status_code=204,
        access=Access.SUPPLIER,
        summary="Delete a product (Authorization: Bearer <its supplier's api_key>)",
        responses=_errors(*AUTH, (404, "No such product")),
    )
    async def delete_product(self, caller: Caller, product_id: int, remove: FromDishka[DeleteProduct]) -> None:
        await remove(caller, product_id)

    @put(
        "/{product_id:int}",
        access=Access.SUPPLIER,
        summary="Change some fields of a product (Authorization: Bearer <its supplier's api_key>)",
        responses=_errors(*AUTH, (404, "No such product"), BAD_INPUT),
    )
    async def update(
        self,
        caller: Caller,
        product_id: int,
        data: ProductUpdate,
        update: FromDishka[UpdateProduct],
    ) -> ProductOut:
        changes = ProductChanges(
            name=data.name,
            description=data.description,
            price=data.price,
            stock_quantity=data.stock_quantity,
            category=data.category,
            tags=data.tags,
            is_available=data.is_available,
        )
        return product_out(await update(caller, product_id, changes))

    @get(
        "",
        summary="List products by category and price",
        description=LIST_HEADERS + "; newest first.",
        response_headers=TOTAL,
        responses=_errors(BAD_INPUT),
    )
    async def list_products(
        self,
        products: FromDishka[ListProducts],
        category: CategoryQuery = None,
        min_price: Money = None,
        max_price: Money = None,
        available_only: Annotated[bool, Parameter(description="Hide products marked unavailable")] = True,
        skip: Skip = 0,
        limit: Limit = MAX_PAGE_SIZE,
    ) -> Response[list[ProductOut]]:
        result = await products(
            category=category,
            min_price=min_price,
            max_price=max_price,
            available_only=available_only,
            page=page(skip, limit),
        )
        return listing(result, [product_out(p) for p in result.items])

    @get(
        "/search",
        summary="Search products by words, category, city, price and distance",
        description=(
            LIST_HEADERS + ". Every word of `q` must match the name, description, tags or category "
            "(case-insensitive, any order, word prefixes). With `user_lat` and `user_lon` (both or neither) "
            "every product has `distance_km` and the nearest comes first, within `radius_km` when given; "
            "otherwise the best text match comes first. Only available products are shown."
        ),
        response_headers=TOTAL,
        responses=_errors(BAD_INPUT),
    )
    async def search(
        self,
        search: FromDishka[SearchProducts],
        q: Annotated[
            str | None,
            Parameter(
                max_length=rules.MAX_QUERY,
                required=False,
                description="Words that must all match, in any order",
            ),
        ] = None,
        category: CategoryQuery = None,
        city: CityQuery = None,
        min_price: Money = None,
        max_price: Money = None,
        user_lat: Annotated[float | None, Parameter(ge=-90, le=90, required=False)] = None,
        user_lon: Annotated[float | None, Parameter(ge=-180, le=180, required=False)] = None,
        radius_km: Annotated[
            float | None, Parameter(gt=0, required=False, description="Needs user_lat and user_lon")
        ] = None,
        skip: Skip = 0,
        limit: Limit = DEFAULT_SEARCH_LIMIT,
    ) -> Response[list[ProductOut]]:
        result = await search(
            ProductSearch(
                q=q,
                category=category,
                city=city,
                min_price=min_price,
                max_price=max_price,
                user_lat=user_lat,
                user_lon=user_lon,
                radius_km=radius_km,
                page=page(skip, limit),
            )
        )
        return listing(result, [product_out(p) for p in result.items])


class UserController(Controller):
    path = "/api/users"
    tags: ClassVar[list[str]] = ["users"]

    @post(
        "/register",
        status_code=201,
        summary="Register a user",
        description=(
            "Answers the user with its `api_key`, shown only this once. `ai_access_enabled` is a paid "
            "feature: when the server has an ADMIN_API_KEY, only a request bearing it "
            "(Authorization: Bearer <admin key>) may set it true."
        ),
        responses=_errors(
            (403, "ai_access_enabled needs the admin key"),
            (409, "The email is already registered"),
            BAD_INPUT,
        ),
    )
    async def register(
        self, caller: Caller, data: UserRegistration, register: FromDishka[RegisterUser]
    ) -> RegisteredUserOut:
        location = rules.location(data.latitude, data.longitude, required=False)
        created = await register(
            NewUser(
                name=data.name,
                email=data.email,
                phone=data.phone,
                location=location,
                city=data.city,
                province=data.province,
                ai_access_enabled=data.ai_access_enabled,
            ),
            caller,
        )
        return registered_user_out(created.user, created.api_key)

    @get(
        "/{user_id:int}",
        access=Access.USER_OR_ADMIN,
        summary="Get a user's private profile (that user's api_key or the admin key)",
        description="Anyone else gets 404, as for an id that does not exist.",
        responses=_errors(*AUTH, (404, "No such user, or not yours")),
    )
    async def profile(self, caller: Caller, user_id: int, get_user: FromDishka[GetUser]) -> UserOut:
        return user_out(await get_user(caller, user_id))

    @put(
        "/{user_id:int}/ai-access",
        access=Access.ADMIN,
        summary="Turn a user's paid AI access on or off (the admin key)",
        description="403 when the server has no ADMIN_API_KEY configured.",
        responses=_errors(*AUTH, (404, "No such user"), BAD_INPUT),
    )
    async def set_ai_access(
        self,
        caller: Caller,
        user_id: int,
        data: AiAccessChange,
        set_access: FromDishka[SetAiAccess],
    ) -> UserOut:
        return user_out(await set_access(caller, user_id, data.ai_access_enabled))

    @post(
        "/{user_id:int}/api-key",
        status_code=200,
        access=Access.USER_OR_ADMIN,
        summary="Rotate a user's API key (that user's current api_key or the admin key)",
        description=(
            "Answers the user with a new `api_key`, shown only this once; the old key stops working at once. "
            "Anyone else gets 404, as for an id that does not exist."
        ),
        responses=_errors(*AUTH, (404, "No such user, or not yours")),
    )
    async def rotate_key(self, caller: Caller, user_id: int, rotate: FromDishka[RotateUserKey]) -> RegisteredUserOut:
        rotated = await rotate(caller, user_id)
        return registered_user_out(rotated.user, rotated.api_key)
