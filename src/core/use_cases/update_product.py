"""A supplier changes some fields of its own product."""

from __future__ import annotations

from core.domain.caller import Caller
from core.domain.errors import Forbidden, InvalidInput, NotFound
from core.domain.marketplace import Product, ProductChanges
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules


def clean_changes(changes: ProductChanges) -> ProductChanges:
    """Apply the same rules as creation to each field that is present."""
    if changes.is_empty():
        raise InvalidInput(
            "Nothing to update: send at least one of name, description, price, stock_quantity, "
            "category, tags, is_available"
        )
    return ProductChanges(
        name=None if changes.name is None else rules.required_text(changes.name, "name", rules.MAX_NAME),
        # An empty description or tags string clears it; None leaves it unchanged.
        description=None if changes.description is None else _description(changes.description),
        price=None if changes.price is None else rules.price(changes.price),
        stock_quantity=None if changes.stock_quantity is None else rules.stock(changes.stock_quantity),
        category=None if changes.category is None else rules.category(changes.category),
        tags=None if changes.tags is None else rules.tags(changes.tags) or "",
        is_available=changes.is_available,
    )


def _description(value: str) -> str:
    return rules.optional_text(value, "description", rules.MAX_DESCRIPTION, multiline=True) or ""


class UpdateProduct:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, caller: Caller, product_id: int, changes: ProductChanges) -> Product:
        cleaned = clean_changes(changes)
        rules.existing_id(product_id, "Product", "product_id")
        product = await self._uow.products.get(product_id)
        if product is None:
            raise NotFound(f"Product {product_id} does not exist", field="product_id")
        if not caller.is_supplier(product.supplier_id):
            raise Forbidden("Only the product's supplier, with its own API key, may change it")
        updated = await self._uow.products.update(product_id, cleaned)
        await self._uow.commit()
        return updated
