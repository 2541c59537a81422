"""Marketplace use cases, one set per request around the request's unit of work."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from core.ports.marketplace import UnitOfWork
from core.use_cases.add_product import AddProduct
from core.use_cases.authenticate import Authenticate
from core.use_cases.delete_product import DeleteProduct
from core.use_cases.get_product import GetProduct
from core.use_cases.get_user import GetUser
from core.use_cases.list_products import ListProducts
from core.use_cases.list_suppliers import GetSupplier, ListSuppliers
from core.use_cases.register_supplier import RegisterSupplier
from core.use_cases.register_user import RegisterUser
from core.use_cases.search_products import SearchProducts
from core.use_cases.set_ai_access import SetAiAccess
from core.use_cases.update_product import UpdateProduct
from core.use_cases.update_supplier import UpdateSupplier
from entrypoints.bootstrap.settings import Settings


class MarketplaceProvider(Provider):
    scope = Scope.REQUEST

    @provide
    def authenticate(self, uow: UnitOfWork, settings: Settings) -> Authenticate:
        return Authenticate(uow, settings.admin_api_key)

    register_supplier = provide(RegisterSupplier)
    list_suppliers = provide(ListSuppliers)
    get_supplier = provide(GetSupplier)
    add_product = provide(AddProduct)
    update_product = provide(UpdateProduct)
    delete_product = provide(DeleteProduct)
    get_product = provide(GetProduct)
    update_supplier = provide(UpdateSupplier)
    list_products = provide(ListProducts)
    search_products = provide(SearchProducts)
    register_user = provide(RegisterUser)
    get_user = provide(GetUser)
    set_ai_access = provide(SetAiAccess)
