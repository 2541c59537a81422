"""The demo catalogue (src/adapters/db/demo_data.json, what `marketplace seed` loads) in a FakeUnitOfWork,
with the demo keys ``sk_usr_demo_1`` (John, Jakarta), ``sk_usr_demo_2`` (Jane, Bandung), ``sk_usr_demo_3``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.domain.api_keys import hash_api_key
from core.domain.marketplace import GeoPoint, NewProduct, NewSupplier, NewUser
from tests.fakes.marketplace import FakeUnitOfWork

DEMO_DATA = Path(__file__).resolve().parents[2] / "src" / "adapters" / "db" / "demo_data.json"


def demo_data() -> dict[str, Any]:
    return json.loads(DEMO_DATA.read_text("utf-8"))


async def demo_unit_of_work(**product_changes: dict[str, Any]) -> FakeUnitOfWork:
    """Suppliers, products and users of the demo data; ``product_changes`` maps a product name to the fields
    to change before it is added (e.g. a hostile description)."""
    uow = FakeUnitOfWork()
    data = demo_data()
    suppliers = []
    for number, row in enumerate(data["suppliers"], 1):
        supplier = await uow.suppliers.add(
            NewSupplier(
                name=row["name"],
                business_name=row["business_name"],
                email=row["email"],
                phone=row["phone"],
                address=row["address"],
                location=GeoPoint(row["latitude"], row["longitude"]),
                city=row["city"],
                province=row["province"],
            ),
            hash_api_key(f"sk_sup_demo_{number}"),
        )
        suppliers.append(supplier)
    for row in data["products"]:
        fields = {k: row[k] for k in ("name", "description", "price", "stock_quantity", "category", "tags", "sku")}
        fields.update(product_changes.get(row["name"], {}))
        await uow.products.add(suppliers[row["supplier_index"]].id, NewProduct(**fields))
    for number, row in enumerate(data["users"], 1):
        await uow.users.add(
            NewUser(
                name=row["name"],
                email=row["email"],
                phone=row["phone"],
                location=GeoPoint(row["latitude"], row["longitude"]),
                city=row["city"],
                province=row["province"],
                ai_access_enabled=row["ai_access_enabled"],
            ),
            hash_api_key(f"sk_usr_demo_{number}"),
        )
    return uow
