"""A supplier lists a product, with its own API key (the route requires ``Access.SUPPLIER``)."""

from __future__ import annotations

from core.domain.caller import Caller
from core.domain.errors import Conflict, Forbidden, NotFound
from core.domain.marketplace import NewProduct, Product
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules


def clean_product(product: NewProduct) -> NewProduct:
    return NewProduct(
        name=rules.required_text(product.name, "name", rules.MAX_NAME),
        description=rules.optional_text(product.description, "description", rules.MAX_DESCRIPTION, multiline=True),
        price=rules.price(product.price),
        stock_quantity=rules.stock(product.stock_quantity),
        category=rules.category(product.category),
        tags=rules.tags(product.tags),
        sku=rules.optional_text(product.sku, "sku", rules.MAX_SKU),
        is_available=bool(product.is_available),
    )


class AddProduct:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, caller: Caller, supplier_id: int, product: NewProduct) -> Product:
        cleaned = clean_product(product)
        rules.existing_id(supplier_id, "Supplier", "supplier_id")
        if await self._uow.suppliers.get(supplier_id) is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        if not caller.is_supplier(supplier_id):
            raise Forbidden("Only this supplier, with its own API key, may add products to it")
        try:
            created = await self._uow.products.add(supplier_id, cleaned)
        except Conflict as error:
            if error.field == "sku":
                raise Conflict(f"SKU {cleaned.sku} already exists", field="sku") from error
            raise
        await self._uow.commit()
        return created
