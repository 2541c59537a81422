"""Rows to domain entities."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from typing import Any

from adapters.db.tables import ConversationRow, MessageRow, ProductRow, SupplierRow, UserRow
from core.domain.marketplace import (
    Conversation,
    ConversationMessage,
    GeoPoint,
    Product,
    Supplier,
    User,
)


def supplier(row: SupplierRow) -> Supplier:
    return Supplier(
        id=row.id,
        name=row.name,
        business_name=row.business_name,
        email=row.email,
        phone=row.phone,
        address=row.address,
        location=GeoPoint(row.latitude, row.longitude),
        city=row.city,
        province=row.province,
        is_active=row.is_active,
        registration_date=row.created_at,
    )


def product(row: ProductRow, supplier_name: str, distance_km: float | None = None) -> Product:
    return Product(
        id=row.id,
        supplier_id=row.supplier_id,
        supplier_name=supplier_name,
        name=row.name,
        description=row.description,
        price=row.price,
        stock_quantity=row.stock_quantity,
        category=row.category,
        tags=row.tags,
        sku=row.sku,
        is_available=row.is_available,
        created_at=row.created_at,
        city=row.city,
        location=GeoPoint(row.latitude, row.longitude),
        distance_km=distance_km,
    )


def user(row: UserRow) -> User:
    location = GeoPoint(row.latitude, row.longitude) if row.latitude is not None and row.longitude is not None else None
    return User(
        id=row.id,
        name=row.name,
        email=row.email,
        phone=row.phone,
        location=location,
        city=row.city,
        province=row.province,
        ai_access_enabled=row.ai_access_enabled,
        created_at=row.created_at,
    )


def conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id,
        user_id=row.user_id,
        session_id=row.session_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_filters=row.last_filters,
    )


def message(row: MessageRow) -> ConversationMessage:
    return ConversationMessage(
        id=row.id,
        conversation_id=row.conversation_id,
        role=row.role,  # type: ignore[arg-type]
        content=row.content,
        created_at=row.created_at,
        details=row.details,
    )


# Raw-SQL product rows (search reads them without the ORM): ``products p JOIN suppliers s``.
PRODUCT_SQL_COLUMNS = (
    "p.id, p.supplier_id, s.business_name AS supplier_name, p.name, p.description, p.price, "
    "p.stock_quantity, p.category, p.tags, p.sku, p.is_available, p.created_at, p.city, "
    "p.latitude, p.longitude"
)


def _utc(value: datetime.datetime | str) -> datetime.datetime:
    if isinstance(value, str):  # SQLite stores SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff", in UTC
        return _parsed_utc(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


@functools.lru_cache(maxsize=4096)  # the same products' timestamps come back search after search
def _parsed_utc(text: str) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


PRODUCT_SQL_WIDTH = 15  # columns in PRODUCT_SQL_COLUMNS; a query may add its own after them


def product_from_sql(row: Sequence[Any], distance_km: float | None = None) -> Product:
    """A row that starts with ``PRODUCT_SQL_COLUMNS``, in that order (a plain tuple from any driver)."""
    return Product(
        id=row[0],
        supplier_id=row[1],
        supplier_name=row[2],
        name=row[3],
        description=row[4],
        price=row[5],
        stock_quantity=row[6],
        category=row[7],
        tags=row[8],
        sku=row[9],
        is_available=bool(row[10]),
        created_at=_utc(row[11]),
        city=row[12],
        location=GeoPoint(row[13], row[14]),
        distance_km=distance_km,
    )
