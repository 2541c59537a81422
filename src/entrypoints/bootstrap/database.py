"""Database wiring: engine and sessions (APP), one session and unit of work per request (REQUEST),
plus the maintenance entry points the CLI calls (upgrade, seed)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.db import migrations, seeding
from adapters.db.catalog import open_catalog
from adapters.db.engine import create_engine, create_session_factory
from adapters.db.repositories import SqlUnitOfWork
from adapters.db.seeding import SeededKey
from adapters.db.synthetic import load_synthetic
from core.ports.marketplace import (
    ConversationRepository,
    ProductCatalog,
    ProductRepository,
    SupplierRepository,
    UnitOfWork,
    UserRepository,
)
from core.ports.transactions import UnitOfWorkFactory
from entrypoints.bootstrap.settings import Settings

__all__ = [
    "DatabaseProvider",
    "SeededKey",
    "database_is_empty",
    "database_providers",
    "seed_demo_data",
    "seed_synthetic",
    "upgrade_database",
]


class DatabaseProvider(Provider):
    @provide(scope=Scope.APP)
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.async_database_url)
        try:
            yield engine
        finally:
            await engine.dispose()

    @provide(scope=Scope.APP)
    def session_factory(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return create_session_factory(engine)

    @provide(scope=Scope.APP)
    def unit_of_work_factory(self, sessions: async_sessionmaker[AsyncSession]) -> UnitOfWorkFactory:
        @contextlib.asynccontextmanager
        async def open_unit() -> AsyncIterator[UnitOfWork]:
            async with sessions() as session:
                yield SqlUnitOfWork(session)

        return open_unit

    @provide(scope=Scope.APP)
    async def catalog(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[ProductCatalog]:
        # Public listing and search read outside any session (adapters.db.catalog).
        catalog = open_catalog(settings.async_database_url, sessions)
        try:
            yield catalog
        finally:
            await catalog.close()

    @provide(scope=Scope.REQUEST)
    async def session(self, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
        # The one owner of the request's session: whatever the use case did not commit is rolled back.
        async with sessions() as session:
            yield session

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self, session: AsyncSession) -> UnitOfWork:
        return SqlUnitOfWork(session)

    # The repositories of the request's one unit of work, for code that needs only one of them.
    @provide(scope=Scope.REQUEST)
    def suppliers(self, uow: UnitOfWork) -> SupplierRepository:
        return uow.suppliers

    @provide(scope=Scope.REQUEST)
    def products(self, uow: UnitOfWork) -> ProductRepository:
        return uow.products

    @provide(scope=Scope.REQUEST)
    def users(self, uow: UnitOfWork) -> UserRepository:
        return uow.users

    @provide(scope=Scope.REQUEST)
    def conversations(self, uow: UnitOfWork) -> ConversationRepository:
        return uow.conversations


def database_providers() -> list[Provider]:
    """What the container needs for the marketplace's persistence."""
    return [DatabaseProvider()]


@contextlib.asynccontextmanager
async def _engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.async_database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def upgrade_database(settings: Settings) -> None:
    """Apply pending migrations; a fresh database gets the whole schema."""
    async with _engine(settings) as engine:
        await migrations.upgrade(engine)


async def database_is_empty(settings: Settings) -> bool:
    async with _engine(settings) as engine:
        return await seeding.is_empty(create_session_factory(engine))


async def seed_demo_data(settings: Settings, *, reset: bool) -> list[SeededKey]:
    async with _engine(settings) as engine:
        return await seeding.seed_demo(create_session_factory(engine), reset=reset)


async def seed_synthetic(settings: Settings, count: int, *, reset: bool = False, seed: int = 42) -> None:
    async with _engine(settings) as engine:
        await load_synthetic(engine, count, reset=reset, seed=seed)
