"""Demo data (the seed's 5 suppliers, 15 products, 3 users) and bulk synthetic products for benchmarks."""

from __future__ import annotations

import datetime
import json
import random
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.domain.api_keys import SUPPLIER_KEY_PREFIX, USER_KEY_PREFIX, hash_api_key
from core.search_text import product_search_text

from adapters.db.tables import ConversationRow, MessageRow, ProductRow, SupplierRow, UserRow


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
            keys.append(SeededKey("supplier", row.id, row.business_name, key))
        suppliers = {row.id: row for row in (await session.scalars(select(SupplierRow))).all()}
        for item in data["products"]:
            if await session.scalar(select(ProductRow.id).where(ProductRow.sku == item["sku"])) is not None:
                continue
            supplier = suppliers[supplier_ids[item["supplier_index"]]]
            fields = {k: v for k, v in item.items() if k != "supplier_index"}
            fields["category"] = fields["category"].strip().lower()
            session.add(ProductRow(
                **fields, supplier_id=supplier.id, is_available=True, latitude=supplier.latitude,
                longitude=supplier.longitude, city=supplier.city,
                search_text=product_search_text(fields["name"], fields.get("description"), fields.get("tags"),
                                                fields["category"]),
            ))
        for number, item in enumerate(data["users"], 1):
            email = item["email"].lower()
            row = await session.scalar(select(UserRow).where(UserRow.email == email))
            key = demo_key("user", number)
            if row is None:
                row = UserRow(**{**item, "email": email}, api_key_hash=hash_api_key(key))
                session.add(row)
                await session.flush()
            keys.append(SeededKey("user", row.id, row.name, key))
    return keys


async def is_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        return not await session.scalar(select(func.count(SupplierRow.id)))


# -- synthetic catalog ----------------------------------------------------------------------------

CITIES = [  # (city, province, latitude, longitude, weight)
    ("Jakarta Pusat", "DKI Jakarta", -6.1865, 106.8343, 6), ("Jakarta Selatan", "DKI Jakarta", -6.2615, 106.8106, 6),
    ("Jakarta Barat", "DKI Jakarta", -6.1674, 106.7637, 5), ("Jakarta Timur", "DKI Jakarta", -6.2250, 106.9004, 5),
    ("Jakarta Utara", "DKI Jakarta", -6.1214, 106.7741, 4), ("Bekasi", "Jawa Barat", -6.2383, 106.9756, 4),
    ("Tangerang", "Banten", -6.1783, 106.6319, 4), ("Depok", "Jawa Barat", -6.4025, 106.7942, 3),
    ("Bogor", "Jawa Barat", -6.5971, 106.8060, 3), ("Bandung", "Jawa Barat", -6.9175, 107.6191, 5),
    ("Surabaya", "Jawa Timur", -7.2575, 112.7521, 5), ("Semarang", "Jawa Tengah", -6.9667, 110.4167, 3),
    ("Yogyakarta", "DI Yogyakarta", -7.7956, 110.3695, 3), ("Surakarta", "Jawa Tengah", -7.5755, 110.8243, 2),
    ("Malang", "Jawa Timur", -7.9666, 112.6326, 3), ("Medan", "Sumatera Utara", 3.5952, 98.6722, 4),
    ("Palembang", "Sumatera Selatan", -2.9761, 104.7754, 3), ("Pekanbaru", "Riau", 0.5071, 101.4478, 2),
    ("Padang", "Sumatera Barat", -0.9471, 100.4172, 2), ("Batam", "Kepulauan Riau", 1.0456, 104.0305, 2),
    ("Bandar Lampung", "Lampung", -5.3971, 105.2668, 2), ("Makassar", "Sulawesi Selatan", -5.1477, 119.4327, 3),
    ("Manado", "Sulawesi Utara", 1.4748, 124.8421, 1), ("Denpasar", "Bali", -8.6705, 115.2126, 2),
    ("Balikpapan", "Kalimantan Timur", -1.2379, 116.8529, 1), ("Samarinda", "Kalimantan Timur", -0.5022, 117.1536, 1),
    ("Pontianak", "Kalimantan Barat", -0.0263, 109.3425, 1), ("Banjarmasin", "Kalimantan Selatan", -3.3186, 114.5944, 1),
    ("Mataram", "Nusa Tenggara Barat", -8.5833, 116.1167, 1), ("Kupang", "Nusa Tenggara Timur", -10.1772, 123.6070, 1),
    ("Jayapura", "Papua", -2.5337, 140.7181, 1), ("Ambon", "Maluku", -3.6954, 128.1814, 1),
]
CATALOG = {  # category: (brands, models, adjectives, price range)
    "laptop": (["ASUS", "Acer", "Lenovo", "HP", "Dell", "MSI", "Apple"], ["ROG", "Vivobook", "ThinkPad", "Pavilion",
               "Inspiron", "Katana", "MacBook Air"], ["gaming", "business", "ultrabook", "student", "creator"],
               (4_000_000, 35_000_000)),
    "smartphone": (["Samsung", "Xiaomi", "Oppo", "Vivo", "Apple", "Realme"], ["Galaxy", "Redmi", "Reno", "Y", "iPhone",
                   "Note"], ["flagship", "midrange", "budget", "camera", "5g"], (1_200_000, 25_000_000)),
    "tablet": (["Apple", "Samsung", "Xiaomi", "Lenovo"], ["iPad", "Galaxy Tab", "Pad", "Tab"],
               ["student", "drawing", "kids", "pro"], (1_500_000, 20_000_000)),
    "monitor": (["LG", "Samsung", "AOC", "Dell", "ASUS"], ["UltraGear", "Odyssey", "24G2", "UltraSharp", "TUF"],
                ["gaming", "4k", "curved", "office", "144hz"], (1_000_000, 12_000_000)),
    "keyboard": (["Logitech", "Razer", "Rexus", "Keychron"], ["G Pro", "BlackWidow", "Legionaire", "K2"],
                 ["mechanical", "wireless", "rgb", "gaming"], (150_000, 3_000_000)),
    "mouse": (["Logitech", "Razer", "Rexus", "Fantech"], ["G502", "DeathAdder", "Xierra", "Helios"],
              ["gaming", "wireless", "ergonomic", "silent"], (80_000, 1_500_000)),
    "printer": (["Epson", "Canon", "HP", "Brother"], ["EcoTank", "Pixma", "DeskJet", "DCP"],
                ["inkjet", "laser", "wifi", "all-in-one"], (900_000, 6_000_000)),
    "headphone": (["Sony", "JBL", "Sennheiser", "Rexus"], ["WH-1000XM5", "Tune", "HD", "Vonix"],
                  ["wireless", "noise cancelling", "gaming", "bass"], (150_000, 6_000_000)),
}


async def seed_synthetic(engine: AsyncEngine, count: int, *, reset: bool, seed: int = 42,
                         products_per_supplier: int = 200) -> None:
    """Bulk-load ``count`` products (and their suppliers) with multi-row inserts in large transactions."""
    rng = random.Random(seed)
    postgres = engine.dialect.name == "postgresql"
    now = datetime.datetime.now(datetime.UTC)
    weights = [c[4] for c in CITIES]
    async with engine.begin() as connection:
        if reset:
            for table in (MessageRow, ConversationRow, ProductRow, UserRow, SupplierRow):
                await connection.execute(delete(table.__table__))
        base_supplier = int(await connection.scalar(select(func.coalesce(func.max(SupplierRow.id), 0))) or 0)
        base_product = int(await connection.scalar(select(func.coalesce(func.max(ProductRow.id), 0))) or 0)
    supplier_count = max(1, count // products_per_supplier)
    suppliers = []
    for index in range(supplier_count):
        city, province, lat, lon, _ = rng.choices(CITIES, weights)[0]
        slat, slon = lat + rng.gauss(0, 0.06), lon + rng.gauss(0, 0.06)
        sid = base_supplier + index + 1
        suppliers.append({
            "id": sid, "name": f"Pemilik {sid}", "business_name": f"Toko {city} {sid}",
            "email": f"supplier{sid}@synthetic.example", "phone": None, "address": f"Jl. Contoh {sid}, {city}",
            "latitude": slat, "longitude": slon, "city": city, "province": province, "is_active": True,
            "api_key_hash": f"synthetic-{sid}-{seed}", "created_at": now, "updated_at": now,
        })
    async with engine.begin() as connection:
        for start in range(0, len(suppliers), 2000):
            await connection.execute(insert(SupplierRow.__table__), suppliers[start:start + 2000])
    categories = list(CATALOG)
    batch: list[dict[str, Any]] = []
    batch_size = 20_000
    async with engine.begin() as connection:
        if not postgres:
            await connection.execute(text("PRAGMA synchronous=OFF"))
        for index in range(count):
            supplier = suppliers[index % supplier_count]
            category = categories[rng.randrange(len(categories))]
            brands, models, adjectives, (low, high) = CATALOG[category]
            brand, model, adjective = rng.choice(brands), rng.choice(models), rng.choice(adjectives)
            name = f"{category.title()} {brand} {model} {rng.randint(1, 99)}"
            description = f"{adjective.title()} {category} {brand} {model}, garansi resmi"
            tags = f"{adjective},{brand.lower()},{category}"
            pid = base_product + index + 1
            batch.append({
                "id": pid, "supplier_id": supplier["id"], "name": name, "description": description,
                "price": rng.randrange(low, high, 1000), "stock_quantity": rng.randint(0, 50), "category": category,
                "tags": tags, "sku": f"SYN-{seed}-{pid}", "is_available": rng.random() > 0.05,
                "latitude": supplier["latitude"], "longitude": supplier["longitude"], "city": supplier["city"],
                "search_text": product_search_text(name, description, tags, category),
                "created_at": now, "updated_at": now,
            })
            if len(batch) >= batch_size:
                await connection.execute(insert(ProductRow.__table__), batch)
                batch = []
        if batch:
            await connection.execute(insert(ProductRow.__table__), batch)
        if postgres:
            for table in ("suppliers", "products"):
                await connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"))
            await connection.execute(text("ANALYZE products"))
        else:
            await connection.execute(text("ANALYZE"))
