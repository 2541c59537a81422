"""Demo data (the seed's 5 suppliers, 15 products, 3 users) and bulk synthetic products for benchmarks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.product_search import SQLITE_MERGE_TEXT_INDEX
from adapters.db.tables import ConversationRow, MessageRow, ProductRow, SupplierRow, UserRow
from core.domain.api_keys import SUPPLIER_KEY_PREFIX, USER_KEY_PREFIX, hash_api_key
from core.search_text import product_search_text


@dataclass(frozen=True, slots=True)
class SeededKey:
    kind: str  # "supplier" | "user"
    id: int
    name: str
    api_key: str


def demo_key(kind: str, number: int) -> str:
    """Demo keys are deterministic and PUBLIC (printed by `marketplace seed`): for trying the API only."""
    prefix = SUPPLIER_KEY_PREFIX if kind == "supplier" else USER_KEY_PREFIX
    return f"{prefix}demo_{number}"


def load_demo_data() -> dict[str, Any]:
    return json.loads(resources.files("adapters.db").joinpath("demo_data.json").read_text("utf-8"))


async def wipe(session: AsyncSession) -> None:
    for table in (MessageRow, ConversationRow, ProductRow, UserRow, SupplierRow):
        await session.execute(delete(table))


async def seed_demo(sessions: async_sessionmaker[AsyncSession], *, reset: bool) -> list[SeededKey]:
    data = load_demo_data()
    keys: list[SeededKey] = []
    async with sessions() as session, session.begin():
        if reset:
            await wipe(session)
        supplier_ids: list[int] = []
        for number, item in enumerate(data["suppliers"], 1):
            email = item["email"].lower()
            row = await session.scalar(select(SupplierRow).where(SupplierRow.email == email))
            key = demo_key("supplier", number)
            if row is None:
                row = SupplierRow(**{**item, "email": email}, is_active=True, api_key_hash=hash_api_key(key))
                session.add(row)
                await session.flush()
            supplier_ids.append(row.id)
            if row.api_key_hash == hash_api_key(key):  # not when someone registered that email first
                keys.append(SeededKey("supplier", row.id, row.business_name, key))
        suppliers = {row.id: row for row in (await session.scalars(select(SupplierRow))).all()}
        for item in data["products"]:
            if await session.scalar(select(ProductRow.id).where(ProductRow.sku == item["sku"])) is not None:
                continue
            supplier = suppliers[supplier_ids[item["supplier_index"]]]
            fields = {k: v for k, v in item.items() if k != "supplier_index"}
            fields["category"] = fields["category"].strip().lower()
            session.add(
                ProductRow(
                    **fields,
                    supplier_id=supplier.id,
                    is_available=True,
                    latitude=supplier.latitude,
                    longitude=supplier.longitude,
                    city=supplier.city,
                    search_text=product_search_text(
                        fields["name"], fields.get("description"), fields.get("tags"), fields["category"]
                    ),
                )
            )
        for number, item in enumerate(data["users"], 1):
            email = item["email"].lower()
            row = await session.scalar(select(UserRow).where(UserRow.email == email))
            key = demo_key("user", number)
            if row is None:
                row = UserRow(**{**item, "email": email}, api_key_hash=hash_api_key(key))
                session.add(row)
                await session.flush()
            if row.api_key_hash == hash_api_key(key):
                keys.append(SeededKey("user", row.id, row.name, key))
        if session.bind.dialect.name == "sqlite":
            await session.execute(text(SQLITE_MERGE_TEXT_INDEX))
    return keys


async def is_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        return not await session.scalar(select(func.count(SupplierRow.id)))
