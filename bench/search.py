"""Product search latency at scale, on SQLite and PostgreSQL, against the original way of searching.

Loads N synthetic products (default 1,000,000; `marketplace seed --synthetic` uses the same loader) once
per database and reuses them on later runs, then measures, through ``SqlProductRepository.find`` (the
code path of the API, one session per query as per request):

  (a) q=laptop, nearest to a point in Jakarta, limit 20
  (b) the same with max_price=15,000,000 and radius_km=25
  (c) q="gaming laptop" without a location (relevance), limit 20
  (d) category=laptop min_price=5,000,000 nearest, no text (common: growing boxes)
  (e) category=mouse price 300,000-310,000 nearest, no text (few matches: read and ranked at once)

and the same queries done the original way: a LIKE/ILIKE filter that loads every matching row, haversine
in Python for each, sort, first 20. Prints p50/p95 and the ratio of the p50s.

    python bench/search.py                      # 1,000,000 products, both databases
    python bench/search.py --products 100000    # quicker
    python bench/search.py --skip-postgres
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.db.engine import create_engine, create_session_factory
from adapters.db.repositories import SqlProductRepository
from core.domain.marketplace import GeoPoint, Page, ProductFilter
from core.geo.distance import haversine_km
from entrypoints.bootstrap.database import seed_synthetic, upgrade_database
from entrypoints.bootstrap.settings import Settings, to_async_database_url

RESULTS = Path(__file__).resolve().parent / "results"
# Places in Jakarta the queries are asked from, in turn.
JAKARTA_POINTS = [
    GeoPoint(-6.2088, 106.8456),  # Sudirman
    GeoPoint(-6.1754, 106.8272),  # Monas
    GeoPoint(-6.2607, 106.8137),  # Kemang
    GeoPoint(-6.1588, 106.9057),  # Kelapa Gading
    GeoPoint(-6.1675, 106.7902),  # Grogol
]


@dataclass(frozen=True)
class Query:
    key: str
    label: str
    text: str | None
    located: bool
    radius_km: float | None = None
    max_price: int | None = None
    category: str | None = None
    min_price: int | None = None

    def criteria(self, point: GeoPoint) -> ProductFilter:
        return ProductFilter(
            text=self.text,
            near=point if self.located else None,
            radius_km=self.radius_km,
            max_price=self.max_price,
            category=self.category,
            min_price=self.min_price,
            page=Page(0, 20),
        )


QUERIES = [
    Query("a", "q=laptop nearest to Jakarta, limit 20", "laptop", True),
    Query("b", "q=laptop max_price=15jt radius_km=25", "laptop", True, 25.0, 15_000_000),
    Query("c", "q='gaming laptop', no location", "gaming laptop", False),
    Query("d", "category=laptop min 5jt, nearest", None, True, category="laptop", min_price=5_000_000),
    Query("e", "category=mouse 300-310rb, nearest", None, True, category="mouse", min_price=300_000, max_price=310_000),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def timed(runs: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    await call(0)  # warm-up
    samples = []
    for index in range(runs):
        started = time.perf_counter()
        await call(index)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def repository_way(sessions: async_sessionmaker[AsyncSession], query: Query, point: GeoPoint) -> list[int]:
    async with sessions() as session:
        result = await SqlProductRepository(session).find(query.criteria(point))
        return [product.id for product in result.items]


async def original_way(
    sessions: async_sessionmaker[AsyncSession], query: Query, point: GeoPoint, postgres: bool
) -> list[int]:
    """Every matching row into Python, then distances, filter and sort there."""
    like = "ILIKE" if postgres else "LIKE"
    conditions, params = [], {}
    for index, word in enumerate((query.text or "").split()):
        params[f"w{index}"] = f"%{word}%"
        conditions.append(
            f"(p.name {like} :w{index} OR p.description {like} :w{index} OR p.tags {like} :w{index} "
            f"OR p.category {like} :w{index})"
        )
    if query.max_price is not None:
        conditions.append("p.price <= :max_price")
        params["max_price"] = query.max_price
    if query.min_price is not None:
        conditions.append("p.price >= :min_price")
        params["min_price"] = query.min_price
    if query.category is not None:
        conditions.append("p.category = :category")
        params["category"] = query.category
    sql = (
        "SELECT p.id, p.name, p.description, p.price, p.stock_quantity, p.category, p.tags, p.sku, "
        "p.is_available, p.created_at, p.latitude, p.longitude, p.city, s.business_name "
        "FROM products p JOIN suppliers s ON s.id = p.supplier_id WHERE " + " AND ".join(conditions)
    )
    async with sessions() as session:
        rows = (await session.execute(text(sql), params)).all()
    if not query.located:
        return [row.id for row in sorted(rows, key=lambda row: (str(row.created_at), row.id), reverse=True)[:20]]
    located = []
    for row in rows:
        distance = haversine_km(point, GeoPoint(row.latitude, row.longitude))
        if query.radius_km is None or distance <= query.radius_km:
            located.append((distance, row.id))
    located.sort()
    return [product_id for _, product_id in located[:20]]


async def product_count(engine: AsyncEngine) -> int | None:
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT count(*) FROM products"))).scalar_one())
    except Exception:  # no schema yet
        return None


async def ensure_loaded(url: str, products: int, reload: bool) -> str:
    settings = Settings(database_url=url)
    engine = create_engine(to_async_database_url(url))
    try:
        await upgrade_database(settings)
        if not reload and await product_count(engine) == products:
            return "reused"
    finally:
        await engine.dispose()
    started = time.perf_counter()
    await seed_synthetic(settings, products, reset=True)
    return f"loaded in {time.perf_counter() - started:.1f} s"


async def ensure_postgres_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def bench(name: str, url: str, args: argparse.Namespace) -> None:
    how = await ensure_loaded(url, args.products, args.reload)
    engine = create_engine(to_async_database_url(url))
    sessions = create_session_factory(engine)
    postgres = engine.dialect.name == "postgresql"
    print(f"\n{name}: {args.products:,} products ({how})")
    print(
        f"  {'query':<40} {'find p50':>9} {'p95':>8}   {'original p50':>12} {'p95':>8}   {'speed-up':>8}  same top 20"
    )
    try:
        for query in QUERIES:

            def point(index: int) -> GeoPoint:
                return JAKARTA_POINTS[index % len(JAKARTA_POINTS)]

            fast = await timed(args.runs, lambda i, q=query: repository_way(sessions, q, point(i)))
            slow = await timed(args.baseline_runs, lambda i, q=query: original_way(sessions, q, point(i), postgres))
            same = await compare(sessions, query, postgres)
            p50, p95 = statistics.median(fast), percentile(fast, 0.95)
            o50, o95 = statistics.median(slow), percentile(slow, 0.95)
            print(
                f"  ({query.key}) {query.label:<36} {p50:7.2f}ms {p95:6.2f}ms   {o50:10.1f}ms {o95:6.1f}ms   "
                f"{o50 / p50:7.0f}x  {same}"
            )
    finally:
        await engine.dispose()


async def compare(sessions: async_sessionmaker[AsyncSession], query: Query, postgres: bool) -> str:
    """Whether both ways agree on the first page (relevance and recency orders legitimately differ)."""
    point = JAKARTA_POINTS[0]
    fast = await repository_way(sessions, query, point)
    slow = await original_way(sessions, query, point, postgres)
    if not query.located:
        return "n/a (different orders)"
    if fast == slow:
        return "yes"
    # Products of one supplier share its coordinates: equal distances may be ordered differently.
    return "same distances" if len(fast) == len(slow) else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50, help="timed runs per query through find()")
    parser.add_argument("--baseline-runs", type=int, default=5, help="timed runs per query the original way")
    parser.add_argument("--sqlite", type=Path, help="SQLite file (default bench/results/search-N.sqlite)")
    parser.add_argument("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--postgres-database", help="default bench_search_N")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--reload", action="store_true", help="reload the data even if already there")
    args = parser.parse_args()

    async def run() -> None:
        if not args.skip_sqlite:
            path = args.sqlite or RESULTS / f"search-{args.products}.sqlite"
            path.parent.mkdir(parents=True, exist_ok=True)
            await bench("SQLite", f"sqlite:///{path}", args)
        if not args.skip_postgres:
            database = args.postgres_database or f"bench_search_{args.products}"
            await ensure_postgres_database(args.postgres_admin_url, database)
            url = make_url(args.postgres_admin_url).set(database=database).render_as_string(hide_password=False)
            await bench("PostgreSQL", url, args)

    asyncio.run(run())


if __name__ == "__main__":
    main()
