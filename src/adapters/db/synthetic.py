"""A reproducible synthetic catalogue spread over Indonesia, bulk-loaded for benchmarks.

Suppliers sit around real city centres (with jitter); each supplier lists ``products_per_supplier``
products with consecutive ids, the way catalogues are uploaded. Loading bypasses the ORM:
``sqlite3.executemany`` in one transaction with the FTS triggers dropped and the FTS index rebuilt
once at the end, or ``COPY`` (asyncpg) on PostgreSQL with the secondary indexes rebuilt after the load.
"""

from __future__ import annotations

import asyncio
import datetime
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.product_search import SQLITE_MERGE_TEXT_INDEX
from core.search_text import product_search_text

logger = structlog.get_logger(__name__)

SUPPLIER_COLUMNS = (
    "id",
    "name",
    "business_name",
    "email",
    "phone",
    "address",
    "latitude",
    "longitude",
    "city",
    "province",
    "is_active",
    "api_key_hash",
    "created_at",
    "updated_at",
)
PRODUCT_COLUMNS = (
    "id",
    "supplier_id",
    "name",
    "description",
    "price",
    "stock_quantity",
    "category",
    "tags",
    "sku",
    "is_available",
    "latitude",
    "longitude",
    "city",
    "search_text",
    "created_at",
    "updated_at",
)
TABLES_CHILD_FIRST = ("messages", "conversations", "products", "users", "suppliers")

# (city, province, latitude, longitude, weight, spread in degrees)
CITIES = [
    ("Jakarta Pusat", "DKI Jakarta", -6.1865, 106.8343, 6, 0.03),
    ("Jakarta Selatan", "DKI Jakarta", -6.2615, 106.8106, 6, 0.04),
    ("Jakarta Barat", "DKI Jakarta", -6.1674, 106.7637, 5, 0.04),
    ("Jakarta Timur", "DKI Jakarta", -6.2250, 106.9004, 5, 0.04),
    ("Jakarta Utara", "DKI Jakarta", -6.1214, 106.7741, 4, 0.04),
    ("Bekasi", "Jawa Barat", -6.2383, 106.9756, 4, 0.05),
    ("Tangerang", "Banten", -6.1783, 106.6319, 4, 0.05),
    ("Depok", "Jawa Barat", -6.4025, 106.7942, 3, 0.04),
    ("Bogor", "Jawa Barat", -6.5971, 106.8060, 3, 0.04),
    ("Bandung", "Jawa Barat", -6.9175, 107.6191, 5, 0.05),
    ("Surabaya", "Jawa Timur", -7.2575, 112.7521, 5, 0.05),
    ("Semarang", "Jawa Tengah", -6.9667, 110.4167, 3, 0.04),
    ("Yogyakarta", "DI Yogyakarta", -7.7956, 110.3695, 3, 0.04),
    ("Surakarta", "Jawa Tengah", -7.5755, 110.8243, 2, 0.03),
    ("Malang", "Jawa Timur", -7.9666, 112.6326, 3, 0.04),
    ("Medan", "Sumatera Utara", 3.5952, 98.6722, 4, 0.05),
    ("Palembang", "Sumatera Selatan", -2.9761, 104.7754, 3, 0.05),
    ("Pekanbaru", "Riau", 0.5071, 101.4478, 2, 0.04),
    ("Padang", "Sumatera Barat", -0.9471, 100.4172, 2, 0.03),
    ("Batam", "Kepulauan Riau", 1.0456, 104.0305, 2, 0.04),
    ("Bandar Lampung", "Lampung", -5.3971, 105.2668, 2, 0.04),
    ("Makassar", "Sulawesi Selatan", -5.1477, 119.4327, 3, 0.04),
    ("Manado", "Sulawesi Utara", 1.4748, 124.8421, 1, 0.03),
    ("Denpasar", "Bali", -8.6705, 115.2126, 2, 0.04),
    ("Balikpapan", "Kalimantan Timur", -1.2379, 116.8529, 1, 0.03),
    ("Samarinda", "Kalimantan Timur", -0.5022, 117.1536, 1, 0.03),
    ("Pontianak", "Kalimantan Barat", -0.0263, 109.3425, 1, 0.03),
    ("Banjarmasin", "Kalimantan Selatan", -3.3186, 114.5944, 1, 0.03),
    ("Mataram", "Nusa Tenggara Barat", -8.5833, 116.1167, 1, 0.03),
    ("Kupang", "Nusa Tenggara Timur", -10.1772, 123.6070, 1, 0.03),
    ("Jayapura", "Papua", -2.5337, 140.7181, 1, 0.03),
    ("Ambon", "Maluku", -3.6954, 128.1814, 1, 0.03),
]

# category: (brand -> model lines, descriptors, price range in rupiah, spec fragments)
CATALOG: dict[str, tuple[dict[str, list[str]], list[str], tuple[int, int], list[str]]] = {
    "laptop": (
        {
            "ASUS": ["ROG Strix G15", "TUF Gaming F15", "Vivobook 14", "Zenbook 14"],
            "Acer": ["Aspire 5", "Nitro 5", "Swift 3", "Predator Helios"],
            "Lenovo": ["ThinkPad X1 Carbon", "IdeaPad Slim 3", "Legion 5", "Yoga 7"],
            "HP": ["Pavilion Gaming", "Victus 15", "EliteBook 840", "14s"],
            "Dell": ["Inspiron 14", "XPS 13", "Latitude 5440", "Vostro 3420"],
            "MSI": ["Katana 15", "Modern 14", "Cyborg 15"],
            "Apple": ["MacBook Air M2", "MacBook Air M3", "MacBook Pro 14"],
        },
        ["gaming", "business", "ultrabook", "student", "creator", "budget"],
        (4_000_000, 35_000_000),
        [
            "Intel i5, 8GB RAM, 512GB SSD",
            "Ryzen 7, 16GB RAM, 1TB SSD",
            "RTX 4060, 16GB RAM",
            "Intel i7, 16GB RAM",
        ],
    ),
    "smartphone": (
        {
            "Samsung": ["Galaxy S24", "Galaxy A55", "Galaxy A15"],
            "Xiaomi": ["Redmi Note 13 Pro", "Redmi 13C", "14T"],
            "Oppo": ["Reno 11", "A78"],
            "Vivo": ["V30", "Y36"],
            "Apple": ["iPhone 15", "iPhone 15 Pro", "iPhone 13"],
            "Realme": ["12 Pro", "C67"],
        },
        ["flagship", "midrange", "budget", "camera", "5g"],
        (1_200_000, 25_000_000),
        ["8GB RAM, 256GB", "6GB RAM, 128GB", "12GB RAM, 512GB", "4GB RAM, 64GB"],
    ),
    "tablet": (
        {
            "Apple": ["iPad Air M2", "iPad 10", "iPad Pro M4"],
            "Samsung": ["Galaxy Tab S9", "Galaxy Tab A9"],
            "Xiaomi": ["Pad 6", "Redmi Pad SE"],
            "Lenovo": ["Tab P12", "Tab M10"],
        },
        ["student", "drawing", "kids", "pro"],
        (1_500_000, 20_000_000),
        ["128GB WiFi", "256GB 5G", "64GB WiFi"],
    ),
    "monitor": (
        {
            "LG": ["UltraGear 27GP850", "27UL500 4K"],
            "Samsung": ["Odyssey G7", "Odyssey G5", "ViewFinity S8"],
            "AOC": ["24G2", "27G2SP"],
            "Dell": ["UltraSharp U2723QE", "S2421HN"],
            "ASUS": ["TUF VG249Q", "ProArt PA278"],
        },
        ["gaming", "4k", "curved", "office", "144hz"],
        (1_000_000, 12_000_000),
        ["27 inch IPS", "24 inch 165Hz", "32 inch curved VA", "27 inch 4K HDR10"],
    ),
    "keyboard": (
        {
            "Logitech": ["G Pro X", "MX Keys"],
            "Razer": ["BlackWidow V3", "Huntsman Mini"],
            "Rexus": ["Legionaire MX5", "Daxa M84"],
            "Keychron": ["K2", "K8 Pro"],
        },
        ["mechanical", "wireless", "rgb", "gaming"],
        (150_000, 3_000_000),
        ["TKL, hot-swap", "full-size, RGB", "75%, Bluetooth"],
    ),
    "mouse": (
        {
            "Logitech": ["G502 HERO", "MX Master 3S", "G304"],
            "Razer": ["DeathAdder V3", "Viper Mini"],
            "Rexus": ["Xierra X16", "Arka"],
            "Fantech": ["Helios XD3", "Aria XD7"],
        },
        ["gaming", "wireless", "ergonomic", "silent"],
        (80_000, 1_500_000),
        ["25K DPI sensor", "wireless 2.4GHz", "lightweight 59g"],
    ),
    "printer": (
        {
            "Epson": ["EcoTank L3250", "L121"],
            "Canon": ["Pixma G2020", "Pixma TS5370"],
            "HP": ["DeskJet 2776", "Smart Tank 515"],
            "Brother": ["DCP-T420W", "HL-L2375DW"],
        },
        ["inkjet", "laser", "wifi", "all-in-one"],
        (900_000, 6_000_000),
        ["print scan copy", "WiFi direct", "duplex"],
    ),
    "headphone": (
        {
            "Sony": ["WH-1000XM5", "WH-CH520"],
            "JBL": ["Tune 520BT", "Live 660NC"],
            "Sennheiser": ["HD 450BT"],
            "Rexus": ["Vonix F30"],
        },
        ["wireless", "noise cancelling", "gaming", "bass"],
        (150_000, 6_000_000),
        ["Bluetooth 5.3", "ANC, 30 jam baterai", "mic detachable"],
    ),
}
_PHRASES = ["garansi resmi", "barang baru", "original", "bergaransi 1 tahun", "free ongkir", "stok terbatas"]


@dataclass(frozen=True, slots=True)
class SyntheticCatalog:
    suppliers: list[tuple]
    product_count: int
    first_product_id: int
    seed: int
    products_per_supplier: int

    def products(self) -> Iterator[tuple]:
        """Product rows in ``PRODUCT_COLUMNS`` order, each supplier's products consecutive."""
        rng = random.Random(self.seed * 7919 + 1)
        categories = list(CATALOG)
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        year = 365 * 24 * 3600
        pid = self.first_product_id
        for index in range(self.product_count):
            supplier = self.suppliers[min(index // self.products_per_supplier, len(self.suppliers) - 1)]
            category = categories[rng.randrange(len(categories))]
            brands, descriptors, (low, high), specs = CATALOG[category]
            brand = rng.choice(list(brands))
            model = rng.choice(brands[brand])
            descriptor = rng.choice(descriptors)
            spec = rng.choice(specs)
            name = f"{category.title()} {brand} {model}"
            description = f"{descriptor.title()} {category} {brand} {model}, {spec}, {rng.choice(_PHRASES)}"
            tags = f"{descriptor},{brand.lower()},{category}"
            price = rng.randrange(low // 1000, high // 1000) * 1000 - (1000 if rng.random() < 0.5 else 0) + 1000
            created = now - datetime.timedelta(seconds=rng.randrange(year))
            yield (
                pid,
                supplier[0],
                name,
                description,
                price,
                rng.randint(0, 50),
                category,
                tags,
                f"SYN-{self.seed}-{pid}",
                rng.random() > 0.05,
                supplier[6],
                supplier[7],
                supplier[8],
                product_search_text(name, description, tags, category),
                created,
                created,
            )
            pid += 1


def synthetic_catalog(
    count: int, *, seed: int, first_supplier_id: int, first_product_id: int, products_per_supplier: int = 200
) -> SyntheticCatalog:
    rng = random.Random(seed)
    weights = [city[4] for city in CITIES]
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    suppliers = []
    for offset in range(max(1, -(-count // products_per_supplier))):
        city, province, lat, lon, _, spread = rng.choices(CITIES, weights)[0]
        sid = first_supplier_id + offset
        suppliers.append(
            (
                sid,
                f"Pemilik {sid}",
                f"Toko {city} {sid}",
                f"supplier{sid}.s{seed}@synthetic.example",
                None,
                f"Jl. Contoh No. {sid % 300 + 1}, {city}",
                round(lat + rng.gauss(0, spread), 6),
                round(lon + rng.gauss(0, spread), 6),
                city,
                province,
                True,
                f"synthetic-{seed}-{sid}",
                now,
                now,
            )
        )
    return SyntheticCatalog(suppliers, count, first_product_id, seed, products_per_supplier)


async def load_synthetic(
    engine: AsyncEngine, count: int, *, reset: bool, seed: int, products_per_supplier: int = 200
) -> None:
    if engine.dialect.name == "postgresql":
        await _load_postgres(engine, count, reset=reset, seed=seed, products_per_supplier=products_per_supplier)
        return
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        raise ValueError("synthetic loading needs a file-backed SQLite database")
    await asyncio.to_thread(_load_sqlite, database, count, reset, seed, products_per_supplier)


# -- SQLite ---------------------------------------------------------------------------------------


def _sqlite_time(value: datetime.datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format, in UTC.
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _load_sqlite(path: str, count: int, reset: bool, seed: int, products_per_supplier: int) -> None:
    connection = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        connection.execute("PRAGMA temp_store=MEMORY")
        connection.execute("BEGIN IMMEDIATE")
        triggers = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'products'"
        ).fetchall()
        for name, _ in triggers:
            connection.execute(f'DROP TRIGGER "{name}"')
        if reset:
            for table in TABLES_CHILD_FIRST:
                connection.execute(f"DELETE FROM {table}")
        first_supplier = connection.execute("SELECT coalesce(max(id), 0) + 1 FROM suppliers").fetchone()[0]
        first_product = connection.execute("SELECT coalesce(max(id), 0) + 1 FROM products").fetchone()[0]
        catalog = synthetic_catalog(
            count,
            seed=seed,
            first_supplier_id=first_supplier,
            first_product_id=first_product,
            products_per_supplier=products_per_supplier,
        )
        connection.executemany(
            _insert_sql("suppliers", SUPPLIER_COLUMNS),
            [(*row[:12], _sqlite_time(row[12]), _sqlite_time(row[13])) for row in catalog.suppliers],
        )
        connection.executemany(
            _insert_sql("products", PRODUCT_COLUMNS),
            ((*row[:14], _sqlite_time(row[14]), _sqlite_time(row[15])) for row in catalog.products()),
        )
        # The FTS index is external-content: rebuilding reads products.search_text once, in bulk.
        connection.execute("INSERT INTO products_fts(products_fts) VALUES ('rebuild')")
        for _, sql in triggers:
            connection.execute(sql)
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
        connection.execute(SQLITE_MERGE_TEXT_INDEX)
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()
    logger.info("db.synthetic.loaded", dialect="sqlite", products=count, suppliers=len(catalog.suppliers))


# -- PostgreSQL -----------------------------------------------------------------------------------


async def _load_postgres(
    engine: AsyncEngine, count: int, *, reset: bool, seed: int, products_per_supplier: int
) -> None:
    import asyncpg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            if reset:
                await connection.execute(f"TRUNCATE {', '.join(TABLES_CHILD_FIRST)} RESTART IDENTITY")
            first_supplier = await connection.fetchval("SELECT coalesce(max(id), 0) + 1 FROM suppliers")
            first_product = await connection.fetchval("SELECT coalesce(max(id), 0) + 1 FROM products")
            catalog = synthetic_catalog(
                count,
                seed=seed,
                first_supplier_id=first_supplier,
                first_product_id=first_product,
                products_per_supplier=products_per_supplier,
            )
            # Secondary indexes are rebuilt once after the load: much faster than a million inserts into GiST.
            indexes = await connection.fetch(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid "
                "WHERE i.schemaname = current_schema() AND i.tablename = 'products' AND NOT x.indisunique"
            )
            for index in indexes:
                await connection.execute(f'DROP INDEX "{index["indexname"]}"')
            await connection.copy_records_to_table("suppliers", records=catalog.suppliers, columns=SUPPLIER_COLUMNS)
            batch: list[tuple] = []
            for row in catalog.products():
                batch.append(row)
                if len(batch) == 50_000:
                    await connection.copy_records_to_table("products", records=batch, columns=PRODUCT_COLUMNS)
                    batch = []
            if batch:
                await connection.copy_records_to_table("products", records=batch, columns=PRODUCT_COLUMNS)
            await connection.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for index in indexes:
                await connection.execute(index["indexdef"])
            for table in ("suppliers", "products"):
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        await connection.execute("ANALYZE suppliers")
        await connection.execute("ANALYZE products")
    finally:
        await connection.close()
    logger.info("db.synthetic.loaded", dialect="postgresql", products=count, suppliers=len(catalog.suppliers))
