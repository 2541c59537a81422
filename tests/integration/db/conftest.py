"""Sessions and units of work on the migrated, empty databases of ``tests/integration/conftest.py``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.db.engine import create_engine, create_session_factory
from adapters.db.repositories import SqlUnitOfWork
from entrypoints.bootstrap.settings import to_async_database_url

UnitOfWorkOpener = Callable[[], contextlib.AbstractAsyncContextManager[SqlUnitOfWork]]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(to_async_database_url(database_url))
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
def open_uow(sessions: async_sessionmaker[AsyncSession]) -> UnitOfWorkOpener:
    """``async with open_uow() as uow``: a fresh session per block, rolled back unless committed."""

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator[SqlUnitOfWork]:
        async with sessions() as session:
            yield SqlUnitOfWork(session)

    return opener
