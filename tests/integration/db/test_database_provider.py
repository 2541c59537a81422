"""The dishka wiring: one session per request scope, nothing committed unless the use case commits."""

from __future__ import annotations

from dishka import Scope, make_async_container

from core.domain.marketplace import Page
from core.ports.marketplace import SupplierRepository, UnitOfWork
from core.ports.transactions import UnitOfWorkFactory
from entrypoints.bootstrap.container import SettingsProvider
from entrypoints.bootstrap.database import database_providers
from entrypoints.bootstrap.settings import Settings
from tests.integration.db.test_repositories import new_supplier


async def test_request_scope_commits_only_what_the_use_case_commits(database_url: str) -> None:
    container = make_async_container(
        SettingsProvider(), *database_providers(), context={Settings: Settings(database_url=database_url)}
    )
    try:
        async with container(scope=Scope.REQUEST) as request:
            uow = await request.get(UnitOfWork)
            assert await request.get(SupplierRepository) is uow.suppliers  # the same session
            await uow.suppliers.add(new_supplier(email="forgotten@x.com"), "hash-1")  # never committed
        async with container(scope=Scope.REQUEST) as request:
            uow = await request.get(UnitOfWork)
            assert (await uow.suppliers.list(city=None, page=Page())).total == 0
            await uow.suppliers.add(new_supplier(email="kept@x.com"), "hash-2")
            await uow.commit()
        factory = await container.get(UnitOfWorkFactory)
        async with factory() as uow:
            listed = await uow.suppliers.list(city=None, page=Page())
            assert [s.email for s in listed.items] == ["kept@x.com"]
    finally:
        await container.close()
