"""Marketplace wire types: the seed's snake_case JSON, validated at the edge.

The limits come from ``core.use_cases.marketplace_rules`` (the use cases apply them again), so
OpenAPI documents exactly what the service enforces.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from core.domain.marketplace import Product, Supplier, User
from core.use_cases import marketplace_rules as rules

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=rules.MAX_NAME, examples=["Budi Santoso"])]
BusinessName = Annotated[str, msgspec.Meta(min_length=1, max_length=rules.MAX_NAME, examples=["Toko Komputer Jakarta"])]
# The address's shape is checked by the use case (a clearer message than a regex dump).
Email = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=rules.MAX_EMAIL,
        description="name@domain.tld; unique, stored trimmed and lower-case",
        examples=["budi@tokokomputer.com"],
    ),
]
Phone = Annotated[str, msgspec.Meta(max_length=rules.MAX_PHONE, examples=["+62812345678"])]
Address = Annotated[str, msgspec.Meta(max_length=rules.MAX_ADDRESS, examples=["Jl. Sudirman No. 123"])]
City = Annotated[str, msgspec.Meta(min_length=1, max_length=rules.MAX_CITY, examples=["Jakarta"])]
Province = Annotated[str, msgspec.Meta(max_length=rules.MAX_PROVINCE, examples=["DKI Jakarta"])]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90, examples=[-6.2088])]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180, examples=[106.8456])]
Price = Annotated[int, msgspec.Meta(gt=0, le=rules.MAX_PRICE, description="Integer rupiah", examples=[15_999_000])]
Stock = Annotated[int, msgspec.Meta(ge=0, le=rules.MAX_STOCK, examples=[5])]
Category = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=rules.MAX_CATEGORY, description="Stored lower-case", examples=["laptop"]),
]
Description = Annotated[str, msgspec.Meta(max_length=rules.MAX_DESCRIPTION, examples=["Gaming laptop with RTX 4060"])]
Tags = Annotated[
    str, msgspec.Meta(max_length=rules.MAX_TAGS, description="Comma-separated", examples=["gaming,asus,rtx"])
]
Sku = Annotated[
    str,
    msgspec.Meta(
        max_length=rules.MAX_SKU, description="Optional; unique when given (blank = none)", examples=["ASU-ROG-G15-001"]
    ),
]
ApiKey = Annotated[str, msgspec.Meta(description="Bearer key for Authorization; shown only in this response")]


class ErrorOut(msgspec.Struct, omit_defaults=True):
    """Every marketplace error: what went wrong and, where one is at fault, which field."""

    detail: str
    field: str | None = None


class SupplierRegistration(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    business_name: BusinessName
    email: Email
    latitude: Latitude
    longitude: Longitude
    city: City
    phone: Phone | None = None
    address: Address | None = None
    province: Province | None = None


class SupplierOut(msgspec.Struct):
    id: int
    name: str
    business_name: str
    email: str
    phone: str | None
    address: str | None
    latitude: float
    longitude: float
    city: str
    province: str | None
    is_active: bool
    registration_date: datetime


class RegisteredSupplierOut(SupplierOut):
    api_key: ApiKey


class SupplierUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields sent change; ``""`` clears ``phone``, ``address`` or ``province``. ``latitude`` and
    ``longitude`` go together; a new place or city is copied onto the supplier's products at once.
    The email cannot change."""

    name: Name | None = None
    business_name: BusinessName | None = None
    phone: Phone | None = None
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    city: City | None = None
    province: Province | None = None


class ProductCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    price: Price
    stock_quantity: Stock
    category: Category
    sku: Sku | None = None
    description: Description | None = None
    tags: Tags | None = None
    is_available: bool = True


class ProductUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields sent change; ``null`` or absent leaves a field as it is, ``""`` clears
    ``description`` or ``tags``. The SKU cannot change."""

    name: Name | None = None
    description: Description | None = None
    price: Price | None = None
    stock_quantity: Stock | None = None
    category: Category | None = None
    tags: Tags | None = None
    is_available: bool | None = None


class ProductOut(msgspec.Struct):
    id: int
    supplier_id: int
    supplier_name: str
    name: str
    description: str | None
    price: int
    stock_quantity: int
    category: str
    tags: str | None
    sku: str | None
    is_available: bool
    created_at: datetime
    city: str
    distance_km: Annotated[
        float | None,
        msgspec.Meta(description="Haversine km from user_lat/user_lon; null unless a location was given"),
    ]


class UserRegistration(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    email: Email
    phone: Phone | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    city: City | None = None
    province: Province | None = None
    ai_access_enabled: Annotated[
        bool,
        msgspec.Meta(
            description="Paid AI search; with ADMIN_API_KEY configured only a request bearing it may set true",
        ),
    ] = False


class UserOut(msgspec.Struct):
    id: int
    name: str
    email: str
    phone: str | None
    latitude: float | None
    longitude: float | None
    city: str | None
    province: str | None
    ai_access_enabled: bool
    created_at: datetime


class RegisteredUserOut(UserOut):
    api_key: ApiKey


class AiAccessChange(msgspec.Struct, forbid_unknown_fields=True):
    ai_access_enabled: bool


def supplier_out(supplier: Supplier) -> SupplierOut:
    return SupplierOut(**_supplier_fields(supplier))


def registered_supplier_out(supplier: Supplier, api_key: str) -> RegisteredSupplierOut:
    return RegisteredSupplierOut(**_supplier_fields(supplier), api_key=api_key)


def _supplier_fields(s: Supplier) -> dict[str, object]:
    return {
        "id": s.id,
        "name": s.name,
        "business_name": s.business_name,
        "email": s.email,
        "phone": s.phone,
        "address": s.address,
        "latitude": s.location.latitude,
        "longitude": s.location.longitude,
        "city": s.city,
        "province": s.province,
        "is_active": s.is_active,
        "registration_date": s.registration_date,
    }


def product_out(p: Product) -> ProductOut:
    return ProductOut(
        id=p.id,
        supplier_id=p.supplier_id,
        supplier_name=p.supplier_name,
        name=p.name,
        description=p.description,
        price=p.price,
        stock_quantity=p.stock_quantity,
        category=p.category,
        tags=p.tags,
        sku=p.sku,
        is_available=p.is_available,
        created_at=p.created_at,
        city=p.city,
        distance_km=round(p.distance_km, 3) if p.distance_km is not None else None,
    )


def user_out(user: User) -> UserOut:
    return UserOut(**_user_fields(user))


def registered_user_out(user: User, api_key: str) -> RegisteredUserOut:
    return RegisteredUserOut(**_user_fields(user), api_key=api_key)


def _user_fields(u: User) -> dict[str, object]:
    return {
        "id": u.id,
        "name": u.name,
        "email": u.email,
        "phone": u.phone,
        "latitude": u.location.latitude if u.location else None,
        "longitude": u.location.longitude if u.location else None,
        "city": u.city,
        "province": u.province,
        "ai_access_enabled": u.ai_access_enabled,
        "created_at": u.created_at,
    }
