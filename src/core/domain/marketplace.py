"""Marketplace entities and the criteria used to find them. Money is integer rupiah."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, TypeVar

from core.domain.errors import BadRequest, InvalidInput

MAX_PAGE_SIZE = 100
# The deepest page any list or search reaches: one request never walks more than MAX_SKIP + MAX_PAGE_SIZE rows.
MAX_SKIP = 10_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0:
            raise InvalidInput(f"latitude must be within [-90, 90], got {self.latitude}", field="latitude")
        if not -180.0 <= self.longitude <= 180.0:
            raise InvalidInput(f"longitude must be within [-180, 180], got {self.longitude}", field="longitude")


@dataclass(frozen=True, slots=True)
class Page:
    skip: int = 0
    limit: int = MAX_PAGE_SIZE

    def __post_init__(self) -> None:
        if self.skip < 0:
            raise InvalidInput("skip must be >= 0", field="skip")
        if self.skip > MAX_SKIP:
            raise BadRequest(
                f"skip must be at most {MAX_SKIP}; narrow the search (filters, q, radius_km) to reach further",
                field="skip",
            )
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}", field="limit")


@dataclass(frozen=True, slots=True)
class NewSupplier:
    name: str
    business_name: str
    email: str
    phone: str | None
    address: str | None
    location: GeoPoint
    city: str
    province: str | None


@dataclass(frozen=True, slots=True)
class Supplier:
    id: int
    name: str
    business_name: str
    email: str
    phone: str | None
    address: str | None
    location: GeoPoint
    city: str
    province: str | None
    is_active: bool
    registration_date: datetime


@dataclass(frozen=True, slots=True)
class NewProduct:
    name: str
    description: str | None
    price: int
    stock_quantity: int
    category: str
    tags: str | None
    sku: str | None
    is_available: bool = True


@dataclass(frozen=True, slots=True)
class ProductChanges:
    """A partial update: ``None`` leaves a field unchanged."""

    name: str | None = None
    description: str | None = None
    price: int | None = None
    stock_quantity: int | None = None
    category: str | None = None
    tags: str | None = None
    is_available: bool | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__slots__)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Product:
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
    # The supplier's place, where the product ships from.
    city: str
    location: GeoPoint
    distance_km: float | None = None


@dataclass(frozen=True, slots=True)
class NewUser:
    name: str
    email: str
    phone: str | None
    location: GeoPoint | None
    city: str | None
    province: str | None
    ai_access_enabled: bool = False


@dataclass(frozen=True, slots=True)
class SupplierChanges:
    """A partial update of a supplier: ``None`` leaves a field unchanged."""

    name: str | None = None
    business_name: str | None = None
    phone: str | None = None
    address: str | None = None
    location: GeoPoint | None = None
    city: str | None = None
    province: str | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__slots__)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    email: str
    phone: str | None
    location: GeoPoint | None
    city: str | None
    province: str | None
    ai_access_enabled: bool
    created_at: datetime


ProductOrder = Literal["relevance", "distance", "newest"]


@dataclass(frozen=True, slots=True)
class ProductFilter:
    """Criteria shared by product listing and search.

    ``text``: every word must match name, description, tags or category (case-insensitive, any order).
    ``near`` + ``radius_km``: only products within the radius, with ``distance_km`` set, nearest first.
    ``cities``: the supplier's city must match one of these names (case-insensitive); a city name also
    matches its parts ("Jakarta" matches "Jakarta Selatan").
    """

    text: str | None = None
    category: str | None = None
    cities: tuple[str, ...] = ()
    min_price: int | None = None
    max_price: int | None = None
    near: GeoPoint | None = None
    radius_km: float | None = None
    available_only: bool = False
    in_stock_only: bool = False
    supplier_id: int | None = None
    page: Page = field(default_factory=Page)

    def __post_init__(self) -> None:
        if self.min_price is not None and self.min_price < 0:
            raise InvalidInput("min_price must be >= 0", field="min_price")
        if self.max_price is not None and self.max_price < 0:
            raise InvalidInput("max_price must be >= 0", field="max_price")
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise InvalidInput("min_price must not exceed max_price", field="min_price")
        if self.radius_km is not None:
            if self.radius_km <= 0:
                raise InvalidInput("radius_km must be > 0", field="radius_km")
            if self.near is None:
                raise InvalidInput("radius_km needs user_lat and user_lon", field="radius_km")

    @property
    def order(self) -> ProductOrder:
        if self.near is not None:
            return "distance"
        return "relevance" if self.text else "newest"


@dataclass(frozen=True)
class PageResult(Generic[T]):
    items: list[T]
    total: int


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    user_id: int
    session_id: str
    created_at: datetime
    updated_at: datetime
    # What the last turn understood, as JSON text, so follow-ups can reuse it.
    last_filters: str | None = None


MessageRole = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class ConversationMessage:
    id: int
    conversation_id: int
    role: MessageRole
    content: str
    created_at: datetime
    # JSON text: products shown, filters understood, whether the text is AI-generated.
    details: str | None = None
