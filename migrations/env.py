"""Alembic environment: one migration stream for SQLite and PostgreSQL.

The service runs migrations through ``entrypoints.bootstrap.database.upgrade_database``, which
hands an open connection in ``config.attributes["connection"]``. The alembic CLI path builds its
own engine from ``DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.db.tables import SupplierRow

target_metadata = SupplierRow.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
        await connection.commit()
    await engine.dispose()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    from entrypoints.bootstrap.settings import to_async_database_url

    url = to_async_database_url(os.environ.get("DATABASE_URL", "sqlite:///./marketplace.db"))
    asyncio.run(run_from_url(url))


main()
