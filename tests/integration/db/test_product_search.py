"""Product search semantics on SQLite and PostgreSQL, through every search strategy.

Each strategy (rare text or rare filters ranked directly, growing bounding boxes / index-ordered walks,
with or without the SQLite latitude-strip index) must give the same answers; ``SearchTuning`` forces each one on a small
catalogue. Each runs on both drivers of the same plans: the unit of work's session, and the lean read path
of the public routes (``adapters.db.catalog``: sqlite3 in a worker thread, asyncpg). A synthetic catalogue
is then checked against a brute-force reference.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.db.catalog import SQLITE_INLINE_BUDGET_S, SqliteCatalog, open_catalog, run_on_session
from adapters.db.product_search import Plan, ProductSearch, Query, SearchTuning, total_cap
from adapters.db.repositories import SqlProductRepository, SqlSupplierRepository
from adapters.db.synthetic import CITIES, load_synthetic
from core.domain.marketplace import (
    GeoPoint,
    NewProduct,
    NewSupplier,
    Page,
    PageResult,
    Product,
    ProductChanges,
    ProductFilter,
)
from core.geo.distance import haversine_km
from core.search_text import query_terms

T = TypeVar("T")
Find = Callable[[ProductFilter], Awaitable[PageResult[Product]]]

JAKARTA = GeoPoint(-6.2088, 106.8456)
SURABAYA = GeoPoint(-7.2575, 112.7521)
TUNINGS = {
    "default": SearchTuning(),
    "rare-filters": SearchTuning(rare_text_matches=0, rare_filter_matches=1_000_000),
    "boxes": SearchTuning(rare_text_matches=0, rare_filter_matches=0, first_box_km=0.001),
    "boxes-without-strip-index": SearchTuning(
        rare_text_matches=0, rare_filter_matches=0, first_box_km=0.05, use_cell_index=False
    ),
}

PLACES = {  # city: location
    "Jakarta": JAKARTA,
    "Jakarta Selatan": GeoPoint(-6.2910, 106.7968),
    "Bandung": GeoPoint(-6.9175, 107.6191),
    "Surabaya": SURABAYA,
    "Jakartaraya": GeoPoint(-6.15, 106.90),
}
CATALOGUE = [  # key, city, name, description, tags, category, price, stock, available
    (
        "rog",
        "Jakarta",
        "ASUS ROG Gaming Laptop",
        "RTX 4060, 16GB RAM",
        "gaming,asus",
        "Laptop",
        15_000_000,
        5,
        True,
    ),
    (
        "thinkpad",
        "Jakarta Selatan",
        "Lenovo ThinkPad X1",
        "Business laptop",
        "business",
        "laptop",
        22_500_000,
        0,
        True,
    ),
    (
        "pavilion",
        "Bandung",
        "HP Pavilion Gaming",
        "Gaming laptop, RTX 3050",
        "gaming,hp",
        "laptop",
        11_999_000,
        7,
        True,
    ),
    (
        "g502",
        "Surabaya",
        "Mouse Logitech G502",
        "Wireless gaming mouse",
        "logitech",
        "mouse",
        550_000,
        20,
        True,
    ),
    ("lg", "Jakarta", "Monitor LG 27' 4K", "IPS panel, HDR10", "monitor,lg", "monitor", 4_500_000, 10, False),
    (
        "aspire",
        "Jakartaraya",
        "Laptop Acer Aspire 5",
        "Budget notebook",
        "budget,acer",
        "laptop",
        7_999_000,
        12,
        True,
    ),
]


@dataclass
class Catalogue:
    ids: dict[str, int]
    find: Find

    def keys(self, products: list[Product]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[p.id] for p in products]


# "catalog-in-thread": a zero inline budget moves every SQLite plan to a worker thread after its first
# statement or in the middle of it (SQLite's progress handler interrupts it; it runs again there).
DRIVERS = ("session", "catalog", "catalog-in-thread")


@pytest.fixture(params=[(tuning, driver) for tuning in TUNINGS for driver in DRIVERS], ids="-".join)
async def catalogue(
    request: pytest.FixtureRequest, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Catalogue]:
    ids = await _add_catalogue(sessions)
    tuning_name, driver = request.param
    tuning = TUNINGS[tuning_name]
    if driver.startswith("catalog"):
        if driver == "catalog-in-thread" and engine.dialect.name != "sqlite":
            pytest.skip("SQLite only")
        budget = 0.0 if driver == "catalog-in-thread" else SQLITE_INLINE_BUDGET_S
        url = engine.url.render_as_string(hide_password=False)
        catalog = open_catalog(url, sessions, tuning=tuning, sqlite_inline_budget_s=budget)
        try:
            yield Catalogue(ids, catalog.find)
        finally:
            await catalog.close()
        return

    async def find(criteria: ProductFilter) -> PageResult[Product]:
        async with sessions() as session:
            return await SqlProductRepository(session, tuning).find(criteria)

    yield Catalogue(ids, find)


async def _add_catalogue(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """``CATALOGUE`` with a supplier per place; the products' ids by key."""
    ids: dict[str, int] = {}
    async with sessions() as session:
        suppliers = SqlSupplierRepository(session)
        products = SqlProductRepository(session)
        supplier_ids = {}
        for index, (city, location) in enumerate(PLACES.items()):
            supplier = await suppliers.add(
                NewSupplier(f"Owner {index}", f"Toko {city}", f"s{index}@x.com", None, None, location, city, None),
                f"hash-{index}",
            )
            supplier_ids[city] = supplier.id
        for key, city, name, description, tags, category, price, stock, available in CATALOGUE:
            product = await products.add(
                supplier_ids[city],
                NewProduct(name, description, price, stock, category, tags, f"SKU-{key}", available),
            )
            ids[key] = product.id
        await session.commit()
    return ids


async def keys(catalogue: Catalogue, **criteria: object) -> list[str]:
    return catalogue.keys((await catalogue.find(ProductFilter(**criteria))).items)  # type: ignore[arg-type]


async def test_every_word_matches_in_any_order_case_and_prefix(catalogue: Catalogue) -> None:
    assert sorted(await keys(catalogue, text="laptop gaming")) == ["pavilion", "rog"]
    assert sorted(await keys(catalogue, text="GAMING Laptop")) == ["pavilion", "rog"]
    assert sorted(await keys(catalogue, text="lap gam")) == ["pavilion", "rog"]
    assert await keys(catalogue, text="gaming laptop wireless") == []


async def test_text_matches_description_tags_and_category(catalogue: Catalogue) -> None:
    assert await keys(catalogue, text="logitech wireless") == ["g502"]  # name + description
    assert await keys(catalogue, text="budget") == ["aspire"]  # tags and description
    assert await keys(catalogue, text="monitor") == ["lg"]
    assert sorted(await keys(catalogue, text="mouse")) == ["g502"]  # category
    assert await keys(catalogue, text="4k") == ["lg"]  # punctuation around words is ignored
    assert await keys(catalogue, text="tablet") == []


async def test_category_is_exact_and_case_insensitive(catalogue: Catalogue) -> None:
    assert sorted(await keys(catalogue, category="LAPTOP")) == ["aspire", "pavilion", "rog", "thinkpad"]
    assert await keys(catalogue, category="lap") == []


async def test_city_matches_its_districts_but_not_longer_names(catalogue: Catalogue) -> None:
    assert sorted(await keys(catalogue, cities=("jakarta",))) == ["lg", "rog", "thinkpad"]
    assert await keys(catalogue, cities=("Jakarta Selatan",)) == ["thinkpad"]
    assert sorted(await keys(catalogue, cities=("Bandung", "surabaya"))) == ["g502", "pavilion"]
    assert await keys(catalogue, cities=("Jakarta%",)) == []


async def test_price_bounds_are_inclusive_and_stock_flags_filter(catalogue: Catalogue) -> None:
    assert sorted(await keys(catalogue, min_price=7_999_000, max_price=15_000_000)) == [
        "aspire",
        "pavilion",
        "rog",
    ]
    assert "lg" not in await keys(catalogue, available_only=True)
    in_stock = await keys(catalogue, in_stock_only=True)
    assert "lg" not in in_stock and "thinkpad" not in in_stock and len(in_stock) == 4


async def test_nearest_first_with_reference_distances(catalogue: Catalogue) -> None:
    result = await catalogue.find(ProductFilter(near=JAKARTA))
    assert result.total == len(CATALOGUE)
    expected = sorted(catalogue.ids, key=lambda k: (_distance(k, JAKARTA), catalogue.ids[k]))
    assert catalogue.keys(result.items) == expected
    for product in result.items:
        assert product.distance_km == haversine_km(JAKARTA, product.location)
    text_result = await catalogue.find(ProductFilter(text="gaming", near=SURABAYA))
    assert catalogue.keys(text_result.items) == ["g502", "pavilion", "rog"]


async def test_filters_nearest_first(catalogue: Catalogue) -> None:
    def nearest(origin: GeoPoint, *keys: str) -> list[str]:
        return sorted(keys, key=lambda k: (_distance(k, origin), catalogue.ids[k]))

    in_stock_laptops = await catalogue.find(ProductFilter(category="Laptop", in_stock_only=True, near=SURABAYA))
    assert catalogue.keys(in_stock_laptops.items) == nearest(SURABAYA, "rog", "pavilion", "aspire")
    assert in_stock_laptops.total == 3
    second_page = await keys(catalogue, min_price=5_000_000, near=SURABAYA, page=Page(1, 2))
    assert second_page == nearest(SURABAYA, "rog", "thinkpad", "pavilion", "aspire")[1:3]
    in_jakarta = await catalogue.find(ProductFilter(cities=("jakarta",), near=SURABAYA, radius_km=1000))
    assert catalogue.keys(in_jakarta.items) == nearest(SURABAYA, "rog", "thinkpad", "lg") and in_jakarta.total == 3
    assert await keys(catalogue, text="gaming", category="laptop", near=SURABAYA) == ["pavilion", "rog"]
    assert await keys(catalogue, category="laptop", near=JAKARTA, radius_km=9) == ["rog", "aspire"]
    assert (await catalogue.find(ProductFilter(category="tablet", near=JAKARTA))).total == 0


async def test_radius_keeps_only_products_within_it(catalogue: Catalogue) -> None:
    for radius in (0.5, 9.0, 20.0, 200.0, 1000.0):
        result = await catalogue.find(ProductFilter(near=JAKARTA, radius_km=radius))
        expected = sorted(
            (k for k in catalogue.ids if _distance(k, JAKARTA) <= radius),
            key=lambda k: (_distance(k, JAKARTA), catalogue.ids[k]),
        )
        assert catalogue.keys(result.items) == expected, radius
        assert result.total == len(expected)
    laptops = await catalogue.find(ProductFilter(text="laptop", near=JAKARTA, radius_km=20, max_price=16_000_000))
    assert catalogue.keys(laptops.items) == ["rog", "aspire"] and laptops.total == 2


async def test_pages_concatenate_to_the_whole_ordering(catalogue: Catalogue) -> None:
    for criteria in ({"near": JAKARTA}, {}, {"text": "laptop"}, {"text": "laptop", "near": SURABAYA}):
        whole = await catalogue.find(ProductFilter(**criteria))  # type: ignore[arg-type]
        pages = [
            await catalogue.find(ProductFilter(**criteria, page=Page(skip, 2)))  # type: ignore[arg-type]
            for skip in range(0, 6, 2)
        ]
        assert [p.id for page in pages for p in page.items] == [p.id for p in whole.items]
        assert {page.total for page in pages} == {whole.total}
        beyond = await catalogue.find(ProductFilter(**criteria, page=Page(50, 2)))  # type: ignore[arg-type]
        assert beyond.items == [] and beyond.total == whole.total


async def test_newest_first_without_text_or_location(catalogue: Catalogue) -> None:
    assert await keys(catalogue) == [key for key, *_ in reversed(CATALOGUE)]


async def test_relevance_finds_every_match(catalogue: Catalogue) -> None:
    result = await catalogue.find(ProductFilter(text="gaming"))
    assert sorted(catalogue.keys(result.items)) == ["g502", "pavilion", "rog"] and result.total == 3


async def test_the_read_path_sees_every_committed_write_at_once(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The catalogue keeps its connections (and SQLite's statement cache) between calls: each call must
    still start after the last commit, for adds, changes and deletes alike."""
    catalog = open_catalog(engine.url.render_as_string(hide_password=False), sessions)
    try:
        assert (await catalog.find(ProductFilter(text="zephyr"))).total == 0  # connections opened and used
        async with sessions() as session:
            supplier = await SqlSupplierRepository(session).add(
                NewSupplier("Owner", "Toko Zephyr", "z@x.com", None, None, JAKARTA, "Jakarta", None), "hash-z"
            )
            added = await SqlProductRepository(session).add(
                supplier.id, NewProduct("Zephyr Laptop", None, 9_000_000, 3, "laptop", None, None, True)
            )
            await session.commit()
        assert await catalog.supplier_exists(supplier.id)
        for criteria in (ProductFilter(text="zephyr"), ProductFilter(text="zephyr", near=JAKARTA), ProductFilter()):
            assert [p.id for p in (await catalog.find(criteria)).items] == [added.id]
        async with sessions() as session:
            await SqlProductRepository(session).update(added.id, ProductChanges(price=8_500_000, name="Zephyr Pro"))
            await session.commit()
        (changed,) = (await catalog.find(ProductFilter(text="zephyr pro"))).items
        assert changed.price == 8_500_000 and changed.name == "Zephyr Pro"
        async with sessions() as session:
            assert await SqlProductRepository(session).delete(added.id)
            await session.commit()
        assert (await catalog.find(ProductFilter(text="zephyr"))).total == 0
        assert (await catalog.find(ProductFilter(near=JAKARTA))).items == []
    finally:
        await catalog.close()


async def test_sqlite_keeps_answers_until_any_connection_commits(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The SQLite catalogue answers the same criteria again without reading them, until the database changes:
    a commit through the app's engine, or through a connection of its own as another process would make."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    ids = await _add_catalogue(sessions)
    path = engine.url.database
    assert path
    catalog = SqliteCatalog(path)
    criteria = ProductFilter(text="laptop", near=JAKARTA)

    async def stock_and_price(key: str) -> tuple[int, int]:
        found = {p.id: p for p in (await catalog.find(criteria)).items}[ids[key]]
        return found.stock_quantity, found.price

    try:
        first = await catalog.find(criteria)
        assert await catalog.find(criteria) is first
        async with sessions() as session:
            await SqlProductRepository(session).update(ids["rog"], ProductChanges(stock_quantity=0))
            await session.commit()
        assert (await stock_and_price("rog"))[0] == 0
        other = sqlite3.connect(path)
        with other:  # commits
            other.execute("UPDATE products SET price = 1 WHERE id = ?", (ids["thinkpad"],))
        other.close()
        assert (await stock_and_price("thinkpad"))[1] == 1
        assert await catalog.find(criteria) is await catalog.find(criteria)
    finally:
        await catalog.close()
    small = SqliteCatalog(path, cached_results=1)
    try:
        kept = await small.find(criteria)
        await small.find(ProductFilter(text="mouse"))  # pushes the first answer out
        assert await small.find(criteria) is not kept and await small.find(criteria) == kept
    finally:
        await small.close()


async def _kept_rows_catalogue(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> tuple[dict[str, int], str, SqliteCatalog]:
    """The test catalogue in a SQLite file, and a catalogue over it that runs every plan on the loop's
    thread, where rows are kept (skips on other databases)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    ids = await _add_catalogue(sessions)
    path = engine.url.database
    assert path
    return ids, path, SqliteCatalog(path, inline_budget_s=60.0)


async def test_sqlite_ranks_new_points_from_kept_rows_until_any_connection_commits(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Searches from new points over the same filters are ranked from the rows kept for the first one,
    without reading; after a commit the next one reads again. Answers are those of a catalogue that keeps
    nothing."""
    ids, path, catalog = await _kept_rows_catalogue(engine, sessions)
    fresh = SqliteCatalog(path, cached_results=0, kept_rows=0)

    async def statements_for(origin: GeoPoint) -> int:
        criteria = ProductFilter(category="laptop", min_price=5_000_000, near=origin)
        before = catalog.statements_run
        assert await catalog.find(criteria) == await fresh.find(criteria)
        return catalog.statements_run - before

    try:
        assert await statements_for(JAKARTA) > 0
        assert [await statements_for(GeoPoint(-6.2 - n / 1000, 106.8)) for n in range(3)] == [0, 0, 0]
        other = sqlite3.connect(path)
        with other:  # commits
            other.execute("UPDATE products SET price = 1 WHERE id = ?", (ids["aspire"],))
        other.close()
        assert await statements_for(SURABAYA) > 0
        assert await statements_for(GeoPoint(-7.0, 110.0)) == 0
    finally:
        await catalog.close()
        await fresh.close()


async def test_sqlite_reads_again_when_a_commit_comes_while_kept_rows_are_used(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan answered partly from kept rows (of the version before a commit) and partly by reading (after
    it) runs again in one snapshot: no product is shown that its own row says does not match."""
    ids, path, catalog = await _kept_rows_catalogue(engine, sessions)
    laptops = ProductFilter(category="laptop", min_price=5_000_000, near=JAKARTA)
    first_two = ProductFilter(category="laptop", min_price=5_000_000, near=GeoPoint(-6.2, 106.85), page=Page(0, 2))

    def commit() -> None:
        other = sqlite3.connect(path)
        with other:
            other.execute("UPDATE products SET category = 'mouse' WHERE id = ?", (ids["rog"],))
        other.close()

    original = catalog._search.find
    calls = []

    def committing(criteria: ProductFilter) -> Plan[PageResult[Product]]:
        calls.append(criteria)
        plan = original(criteria)
        return _commit_after_first_statement(plan, commit) if len(calls) == 2 else plan

    monkeypatch.setattr(catalog._search, "find", committing)
    try:
        assert [p.id for p in (await catalog.find(laptops)).items][:2] == [ids["rog"], ids["aspire"]]
        result = await catalog.find(first_two)  # the candidates kept, the two products' rows read after the commit
        assert all(p.category == "laptop" for p in result.items)
        assert [p.id for p in result.items] == [ids["aspire"], ids["thinkpad"]] and result.total == 3
        assert len(calls) == 3  # read again
    finally:
        await catalog.close()


def _commit_after_first_statement(plan: Plan[T], commit: Callable[[], None]) -> Plan[T]:
    query = next(plan)
    rows = yield query
    commit()
    while True:
        try:
            query = plan.send(rows)
        except StopIteration as done:
            return done.value
        rows = yield query


async def test_few_filter_matches_are_ranked_in_three_statements(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Nearest first without text over a small catalogue: the matches are read and ranked at once (on
    SQLite without growing a box around the point), the page's products loaded; the same answer as boxes."""
    ids = await _add_catalogue(sessions)
    postgres = engine.dialect.name == "postgresql"
    criteria = ProductFilter(category="laptop", min_price=5_000_000, near=JAKARTA)
    answers = {}
    for name in ("default", "boxes"):
        statements: list[Query] = []
        plan = _counting(ProductSearch(postgres, TUNINGS[name]).find(criteria), statements)
        async with sessions() as session:
            answers[name] = await run_on_session(session, plan)
        if name == "default":
            assert len(statements) <= 3, [query.sql for query in statements]
    expected = sorted(("rog", "thinkpad", "pavilion", "aspire"), key=lambda k: (_distance(k, JAKARTA), ids[k]))
    assert [p.id for p in answers["default"].items] == [ids[k] for k in expected]
    assert answers["default"] == answers["boxes"] and answers["default"].total == 4


def _counting(plan: Plan[T], statements: list[Query]) -> Plan[T]:
    """``plan``, keeping the statements it runs."""
    query = next(plan)
    while True:
        statements.append(query)
        rows = yield query
        try:
            query = plan.send(rows)
        except StopIteration as done:
            return done.value


def _distance(key: str, origin: GeoPoint) -> float:
    city = next(row[1] for row in CATALOGUE if row[0] == key)
    return haversine_km(origin, PLACES[city])


# -- a synthetic catalogue against a brute-force reference ------------------------------------------


async def test_synthetic_catalogue_matches_a_brute_force_reference(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await load_synthetic(engine, 3000, reset=True, seed=7, products_per_supplier=40)
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT id, latitude, longitude, search_text, price, category, city, is_available, "
                    "stock_quantity FROM products"
                )
            )
        ).all()
    url = engine.url.render_as_string(hide_password=False)
    catalogs = [open_catalog(url, sessions, tuning=tuning) for tuning in TUNINGS.values()]
    catalogs += [open_catalog(url, sessions, tuning=tuning, sqlite_inline_budget_s=0.0) for tuning in TUNINGS.values()]
    try:
        await _compare_with_reference(rows, sessions, catalogs)
        if engine.dialect.name == "sqlite":
            assert all(catalog.plans_moved_to_thread > 0 for catalog in catalogs[len(TUNINGS) :])
    finally:
        for catalog in catalogs:
            await catalog.close()


async def _compare_with_reference(rows: list, sessions: async_sessionmaker[AsyncSession], catalogs: list) -> None:
    rng = random.Random(3)
    for _ in range(25):
        city = rng.choice(CITIES)
        near = GeoPoint(city[2] + rng.uniform(-0.1, 0.1), city[3] + rng.uniform(-0.1, 0.1))
        criteria = ProductFilter(
            text=rng.choice(["laptop", "gaming laptop", "samsung galaxy", "mouse wireless", "thinkpad", None]),
            near=near,
            radius_km=rng.choice([None, None, 3.0, 30.0, 300.0]),
            max_price=rng.choice([None, 2_000_000, 15_000_000]),
            in_stock_only=rng.random() < 0.3,
            page=Page(rng.choice([0, 0, 5, 120]), 10),
            category=rng.choice([None, None, "laptop", "mouse"]),
        )
        expected = _reference(rows, criteria)
        for tuning, catalog in zip([*TUNINGS.values(), *TUNINGS.values()], catalogs, strict=True):
            async with sessions() as session:
                on_session = await SqlProductRepository(session, tuning).find(criteria)
            wanted = expected[criteria.page.skip : criteria.page.skip + criteria.page.limit]
            assert [p.id for p in on_session.items] == [pid for _, pid in wanted], (criteria, tuning)
            assert on_session.total == min(len(expected), total_cap(criteria.page)), (criteria, tuning)
            assert await catalog.find(criteria) == on_session, (criteria, tuning)  # the same products, field by field


def _reference(rows: list, criteria: ProductFilter) -> list[tuple[float, int]]:
    terms = query_terms(criteria.text)
    found = []
    for row in rows:
        words = row.search_text.split()
        if not all(any(word.startswith(term) for word in words) for term in terms):
            continue
        if criteria.max_price is not None and row.price > criteria.max_price:
            continue
        if criteria.category is not None and row.category != criteria.category:
            continue
        if criteria.in_stock_only and not (row.is_available and row.stock_quantity > 0):
            continue
        distance = haversine_km(criteria.near, GeoPoint(row.latitude, row.longitude))  # type: ignore[arg-type]
        if criteria.radius_km is None or distance <= criteria.radius_km:
            found.append((distance, row.id))
    return sorted(found)
