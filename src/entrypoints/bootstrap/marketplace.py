"""Marketplace use cases, one set per request around the request's unit of work, and authentication."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from core.use_cases.add_product import AddProduct
from core.use_cases.authenticate import Authenticate, KeyConfig
from core.use_cases.conversation_history import ConversationHistory
from core.use_cases.delete_product import DeleteProduct
from core.use_cases.get_product import GetProduct
from core.use_cases.get_user import GetUser
from core.use_cases.list_products import ListProducts
from core.use_cases.list_suppliers import GetSupplier, ListSuppliers
from core.use_cases.register_supplier import RegisterSupplier
from core.use_cases.register_user import RegisterUser
from core.use_cases.rotate_api_key import RotateSupplierKey, RotateUserKey
from core.use_cases.search_products import SearchProducts
from core.use_cases.set_ai_access import SetAiAccess
from core.use_cases.update_product import UpdateProduct
from core.use_cases.update_supplier import UpdateSupplier
from entrypoints.bootstrap.settings import Settings


class MarketplaceProvider(Provider):
    scope = Scope.REQUEST

    @provide(scope=Scope.APP)
    def keys(self, settings: Settings) -> KeyConfig:
        return KeyConfig(
            admin_api_key=settings.admin_api_key,
            inference_api_keys=settings.api_keys,
            metrics_api_key=settings.metrics_api_key,
        )

    authenticate = provide(Authenticate)

    register_supplier = provide(RegisterSupplier)
    list_suppliers = provide(ListSuppliers)
    get_supplier = provide(GetSupplier)
    add_product = provide(AddProduct)
    update_product = provide(UpdateProduct)
    delete_product = provide(DeleteProduct)
    get_product = provide(GetProduct)
    update_supplier = provide(UpdateSupplier)
    # Read-only over the APP-scoped catalogue: built once, no session per request.
    list_products = provide(ListProducts, scope=Scope.APP)
    search_products = provide(SearchProducts, scope=Scope.APP)
    register_user = provide(RegisterUser)
    get_user = provide(GetUser)
    set_ai_access = provide(SetAiAccess)
    rotate_supplier_key = provide(RotateSupplierKey)
    rotate_user_key = provide(RotateUserKey)
    conversation_history = provide(ConversationHistory)
