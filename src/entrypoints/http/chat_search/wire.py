"""Wire types of the AI product search and conversation history endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from core.domain.marketplace import Conversation, ConversationMessage, Product
from core.recommendation.retrieval import Alternative
from core.use_cases.recommend_products import UnderstoodFilters


class ChatSearchRequest(msgspec.Struct, forbid_unknown_fields=False):
    query: Annotated[str, msgspec.Meta(max_length=4000, description="The request in Indonesian or English")]
    session_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    user_id: int | None = None
    stream: bool = False
    limit: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None


class LocationOut(msgspec.Struct):
    name: str
    latitude: float
    longitude: float
    source: Literal["query", "profile"]


class FiltersOut(msgspec.Struct):
    category: str | None
    min_price: int | None
    max_price: int | None
    location: LocationOut | None
    keywords: list[str]
    language: Literal["id", "en"]
    prefer_cheaper: bool
    follow_up: bool
    brands: list[str]
    exclude_brands: list[str]
    sort: Literal["nearest", "price_asc", "price_desc"]
    intent: Literal["availability", "compare", "recommend"]


class RecommendedProduct(msgspec.Struct):
    id: int
    name: str
    price: int
    stock_quantity: int
    category: str
    supplier_name: str
    city: str
    distance_km: float | None


class AlternativeProduct(RecommendedProduct):
    reason: str


class ChatSearchResponse(msgspec.Struct):
    session_id: str
    response: str
    products_found: int
    conversation_id: int
    products: list[RecommendedProduct]
    filters: FiltersOut
    ai_generated: bool
    alternatives: list[AlternativeProduct] = msgspec.field(default_factory=list)


class ConversationOut(msgspec.Struct):
    id: int
    user_id: int
    session_id: str
    created_at: datetime
    updated_at: datetime


class MessageOut(msgspec.Struct):
    id: int
    conversation_id: int
    role: str
    content: str
    created_at: datetime
    details: dict[str, Any] | None


def filters_out(filters: UnderstoodFilters) -> FiltersOut:
    location = filters.location
    return FiltersOut(
        category=filters.category,
        min_price=filters.min_price,
        max_price=filters.max_price,
        location=LocationOut(location.name, location.latitude, location.longitude, location.source)
        if location
        else None,
        keywords=list(filters.keywords),
        language=filters.language,
        prefer_cheaper=filters.prefer_cheaper,
        follow_up=filters.follow_up,
        brands=list(filters.brands),
        exclude_brands=list(filters.exclude_brands),
        sort=filters.sort,
        intent=filters.intent,
    )


def product_out(product: Product) -> RecommendedProduct:
    return RecommendedProduct(
        id=product.id,
        name=product.name,
        price=product.price,
        stock_quantity=product.stock_quantity,
        category=product.category,
        supplier_name=product.supplier_name,
        city=product.city,
        distance_km=round(product.distance_km, 2) if product.distance_km is not None else None,
    )


def alternative_out(alternative: Alternative) -> AlternativeProduct:
    shown = product_out(alternative.product)
    return AlternativeProduct(**msgspec.structs.asdict(shown), reason=alternative.reason)


def conversation_out(conversation: Conversation) -> ConversationOut:
    return ConversationOut(
        conversation.id,
        conversation.user_id,
        conversation.session_id,
        conversation.created_at,
        conversation.updated_at,
    )


def message_out(message: ConversationMessage) -> MessageOut:
    details = None
    if message.details:
        try:
            details = msgspec.json.decode(message.details)
        except msgspec.DecodeError:
            details = None
    return MessageOut(message.id, message.conversation_id, message.role, message.content, message.created_at, details)
