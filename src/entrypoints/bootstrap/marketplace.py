"""Marketplace and AI search use cases, built once (they hold no request state)."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from core.use_cases.access import Access
from core.use_cases.products import FindProducts, ManageProducts
from core.use_cases.suppliers import BrowseSuppliers, RegisterSupplier
from core.use_cases.users import ManageUsers
from entrypoints.bootstrap.settings import Settings


class MarketplaceProvider(Provider):
    scope = Scope.APP

    @provide
    def access(self, settings: Settings) -> Access:
        return Access(settings.admin_api_key)

    register_supplier = provide(RegisterSupplier)
    browse_suppliers = provide(BrowseSuppliers)
    find_products = provide(FindProducts)
    manage_products = provide(ManageProducts)
    manage_users = provide(ManageUsers)
