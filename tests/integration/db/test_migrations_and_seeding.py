"""Migrations from empty and at every start, demo seeding, and the synthetic loader."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.db.repositories import SqlUnitOfWork
from core.domain.api_keys import hash_api_key
from core.domain.marketplace import GeoPoint, NewUser, Page, ProductChanges, ProductFilter
from entrypoints.bootstrap.database import (
    database_is_empty,
    seed_demo_data,
    seed_synthetic,
    upgrade_database,
)
from entrypoints.bootstrap.settings import Settings
from tests.integration.db.test_repositories import new_product

SEED_FILE = Path("/work/shared/seed/demo-data.json")


async def scalar(engine: AsyncEngine, sql: str) -> object:
    async with engine.connect() as connection:
        return (await connection.execute(text(sql))).scalar()


async def test_upgrade_from_empty_builds_the_schema_and_is_idempotent(database_url: str, engine: AsyncEngine) -> None:
    assert await scalar(engine, "SELECT version_num FROM alembic_version") == "0003"
    for table in ("suppliers", "products", "users", "conversations", "messages"):
        assert await scalar(engine, f"SELECT count(*) FROM {table}") == 0
    if engine.dialect.name == "postgresql":
        extensions = await scalar(
            engine,
            "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension "
            "WHERE extname IN ('cube', 'earthdistance')",
        )
        assert extensions == "cube,earthdistance"
        assert (
            await scalar(
                engine,
                "SELECT count(*) FROM pg_indexes WHERE indexname IN ('ix_products_earth', 'ix_products_search_tsv')",
            )
            == 2
        )
    else:
        assert await scalar(engine, "SELECT count(*) FROM sqlite_master WHERE name = 'products_fts'") == 1
        assert await scalar(engine, "SELECT count(*) FROM sqlite_master WHERE name = 'ix_products_geo_cell'") == 1
    await upgrade_database(Settings(database_url=database_url))  # at every start: nothing to do, no error
    assert await scalar(engine, "SELECT version_num FROM alembic_version") == "0003"


async def test_upgrade_creates_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    await upgrade_database(Settings(database_url=f"sqlite:///{path}"))
    assert path.exists()
    assert await database_is_empty(Settings(database_url=f"sqlite:///{path}"))


def test_the_packaged_demo_data_is_the_seed_file() -> None:
    packaged = json.loads(resources.files("adapters.db").joinpath("demo_data.json").read_text("utf-8"))
    if SEED_FILE.exists():
        assert packaged == json.loads(SEED_FILE.read_text("utf-8"))
    assert (len(packaged["suppliers"]), len(packaged["products"]), len(packaged["users"])) == (5, 15, 3)


async def test_demo_seed_is_idempotent_with_deterministic_public_keys(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings(database_url=database_url)
    assert await database_is_empty(settings)
    first = await seed_demo_data(settings, reset=False)
    second = await seed_demo_data(settings, reset=False)
    assert first == second
    assert [key.api_key for key in first if key.kind == "supplier"] == [f"sk_sup_demo_{n}" for n in range(1, 6)]
    assert [key.api_key for key in first if key.kind == "user"] == [f"sk_usr_demo_{n}" for n in range(1, 4)]
    assert not await database_is_empty(settings)
    counts = [await scalar(engine, f"SELECT count(*) FROM {t}") for t in ("suppliers", "products", "users")]
    assert counts == [5, 15, 3]
    if engine.dialect.name == "sqlite":  # the text index merged: FTS5's pages, not a segment per product
        assert await scalar(engine, "SELECT count(*) FROM products_fts_data") < counts[1]
    async with sessions() as session:
        uow = SqlUnitOfWork(session)
        john = await uow.users.get_by_api_key_hash(hash_api_key("sk_usr_demo_1"))
        assert john is not None and john.name == "John Doe" and john.ai_access_enabled
        shop = await uow.suppliers.get_by_api_key_hash(hash_api_key("sk_sup_demo_4"))
        assert shop is not None and shop.city == "Jakarta Selatan"
        jakarta = await uow.products.find(ProductFilter(cities=("Jakarta",)))
        assert jakarta.total == 6  # Jakarta and Jakarta Selatan, three products each
        macbook = (await uow.products.find(ProductFilter(text="macbook"))).items
        assert [p.supplier_name for p in macbook] == ["Gadget Center Jakarta Selatan"]


async def test_reset_wipes_everything_before_seeding(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings(database_url=database_url)
    await seed_demo_data(settings, reset=False)
    async with sessions() as session:
        uow = SqlUnitOfWork(session)
        user = await uow.users.add(NewUser("Extra", "extra@x.com", None, None, None, None), "extra")
        conversation = await uow.conversations.create(user.id, "s-1")
        await uow.conversations.add_message(conversation.id, "user", "halo")
        await uow.commit()
    await seed_demo_data(settings, reset=True)
    assert [await scalar(engine, f"SELECT count(*) FROM {t}") for t in ("users", "conversations", "messages")] == [
        3,
        0,
        0,
    ]
    async with sessions() as session:
        assert (await SqlUnitOfWork(session).products.find(ProductFilter(text="laptop"))).total == 5


async def test_synthetic_products_are_searchable_and_appendable(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings(database_url=database_url)
    await seed_demo_data(settings, reset=False)
    await seed_synthetic(settings, 1000, reset=False)
    assert await scalar(engine, "SELECT count(*) FROM products") == 1015
    assert await scalar(engine, "SELECT count(*) FROM suppliers") == 10  # 5 demo + 1000 / 200
    async with sessions() as session:
        uow = SqlUnitOfWork(session)
        laptops = await uow.products.find(ProductFilter(text="laptop", page=Page(0, 100)))
        assert laptops.total == 101  # capped at skip + limit + 1: there is at least one more page
        # The loader leaves the id sequence and the text index consistent for ordinary inserts.
        supplier = (await uow.suppliers.list(city=None, page=Page(0, 1))).items[0]
        added = await uow.products.add(supplier.id, new_product(sku="AFTER-BULK", name="Zyxwv Special"))
        await uow.commit()
    async with sessions() as session:
        found = await SqlUnitOfWork(session).products.find(ProductFilter(text="zyxwv"))
        assert [p.id for p in found.items] == [added.id]
    await seed_synthetic(settings, 400, reset=True)
    assert await scalar(engine, "SELECT count(*) FROM products") == 400
    async with sessions() as session:
        assert (await SqlUnitOfWork(session).products.find(ProductFilter(text="zyxwv"))).total == 0


async def test_seed_never_returns_a_demo_key_that_does_not_work(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        uow = SqlUnitOfWork(session)
        await uow.users.add(NewUser("Someone", "john.doe@email.com", None, None, None, None), hash_api_key("mine"))
        await uow.commit()
    keys = await seed_demo_data(Settings(database_url=database_url), reset=False)
    assert "sk_usr_demo_1" not in [key.api_key for key in keys]
    assert [key.api_key for key in keys if key.kind == "user"] == ["sk_usr_demo_2", "sk_usr_demo_3"]


async def _migrate_to(engine: AsyncEngine, revision: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    from adapters.db.migrations import migrations_dir

    def run(connection) -> None:  # type: ignore[no-untyped-def]
        config = Config()
        config.set_main_option("script_location", str(migrations_dir()))
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    async with engine.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()


async def test_0003_makes_sku_optional_and_keeps_search_and_existing_rows(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _migrate_to(engine, "0002", down=True)
    async with sessions() as session:
        uow = SqlUnitOfWork(session)
        supplier = (await seeding_supplier(uow)).id
        await uow.products.add(supplier, new_product(sku="OLD-1", name="Zyxwv Laptop"))
        await uow.commit()
    await upgrade_database(Settings(database_url=database_url))
    async with sessions() as session:
        uow = SqlUnitOfWork(session)
        for name in ("Qwerty Mouse", "Qwerty Keyboard"):
            await uow.products.add(supplier, new_product(sku=None, name=name))
        await uow.commit()
        old = await uow.products.find(ProductFilter(text="zyxwv"))
        assert [p.sku for p in old.items] == ["OLD-1"]
        new = await uow.products.find(ProductFilter(text="qwerty"))
        assert new.total == 2 and {p.sku for p in new.items} == {None}
        changed = await uow.products.update(new.items[0].id, ProductChanges(name="Asdfg Mouse"))
        await uow.commit()
        assert (await uow.products.find(ProductFilter(text="asdfg"))).items[0].id == changed.id
        near = await uow.products.find(ProductFilter(text="qwerty", near=GeoPoint(-6.2, 106.8)))
        assert near.total == 1
    if engine.dialect.name == "sqlite":
        assert await scalar(engine, "SELECT count(*) FROM sqlite_master WHERE name = 'ix_products_geo_cell'") == 1
        assert await scalar(engine, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'") == 3


async def seeding_supplier(uow: SqlUnitOfWork):  # type: ignore[no-untyped-def]
    from tests.integration.db.test_repositories import new_supplier

    return await uow.suppliers.add(new_supplier(), hash_api_key("k"))
