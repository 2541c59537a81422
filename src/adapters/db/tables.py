"""ORM tables. Money is integer rupiah; products carry a copy of their supplier's place for search."""

from __future__ import annotations

import datetime

from advanced_alchemy.base import BigIntAuditBase
from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship


class SupplierRow(BigIntAuditBase):
    __tablename__ = "suppliers"

    name: Mapped[str] = mapped_column(String(200))
    business_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    city: Mapped[str] = mapped_column(String(100), index=True)
    province: Mapped[str | None] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)

    @property
    def registration_date(self) -> datetime.datetime:
        return self.created_at


class ProductRow(BigIntAuditBase):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_lat_lon", "latitude", "longitude"),
        Index("ix_products_category_price", "category", "price"),
        Index("ix_products_price", "price"),
        Index("ix_products_created_at", "created_at"),
        Index("ix_products_supplier_id", "supplier_id"),
    )

    supplier_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("suppliers.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[int] = mapped_column(BigInteger)
    stock_quantity: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(60))
    tags: Mapped[str | None] = mapped_column(String(500))
    # Unique when given; NULL for products without one (both databases allow many NULLs in a unique column).
    sku: Mapped[str | None] = mapped_column(String(64), unique=True)
    is_available: Mapped[bool] = mapped_column(Boolean, default=True)
    # Denormalised from the supplier so proximity search needs no join.
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    city: Mapped[str] = mapped_column(String(100))
    # Lower-cased, punctuation-free name + description + tags + category: what full-text search indexes.
    search_text: Mapped[str] = mapped_column(Text, default="")

    supplier: Mapped[SupplierRow] = relationship(lazy="joined", innerjoin=True)


class UserRow(BigIntAuditBase):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))
    ai_access_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)


class ConversationRow(BigIntAuditBase):
    __tablename__ = "conversations"

    user_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[str] = mapped_column(String(128), unique=True)
    last_filters: Mapped[str | None] = mapped_column(Text)


class MessageRow(BigIntAuditBase):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)

    conversation_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)
