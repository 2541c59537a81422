"""The original API's contract through real HTTP on SQLite and PostgreSQL: optional product fields,
the routes a marketplace front end needs, and the paging cap."""

from __future__ import annotations

import httpx
import pytest

from core.domain.marketplace import MAX_SKIP
from tests.integration.http.test_marketplace_api import PRODUCT, bearer, register_supplier

MINIMAL_PRODUCT = {"name": "Mouse Logitech G102", "price": 250_000, "stock_quantity": 9, "category": "mouse"}
BANDUNG = {"latitude": -6.9175, "longitude": 107.6191, "city": "Bandung"}


async def add(client: httpx.AsyncClient, owner: dict, body: dict) -> httpx.Response:
    return await client.post(f"/api/suppliers/{owner['id']}/products", json=body, headers=bearer(owner["api_key"]))


async def test_sku_description_and_tags_are_optional_and_a_given_sku_stays_unique(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    first = await add(client, owner, MINIMAL_PRODUCT)
    second = await add(client, owner, MINIMAL_PRODUCT | {"name": "Mouse Razer"})
    assert first.status_code == second.status_code == 201, first.text
    body = first.json()
    assert body["sku"] is None and body["description"] is None and body["tags"] is None
    assert (await add(client, owner, MINIMAL_PRODUCT | {"sku": "  "})).json()["sku"] is None  # blank = none
    assert (await add(client, owner, MINIMAL_PRODUCT | {"sku": "M-1"})).status_code == 201
    duplicate = await add(client, owner, MINIMAL_PRODUCT | {"sku": "M-1"})
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "sku"
    no_category = {k: v for k, v in MINIMAL_PRODUCT.items() if k != "category"}
    missing = await add(client, owner, no_category)
    assert missing.status_code == 422 and missing.json()["field"] == "category"
    found = await client.get("/api/products/search", params={"q": "mouse"})
    assert found.headers["x-total-count"] == "4"


async def test_get_one_product_and_unknown_ids(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    created = (await add(client, owner, PRODUCT)).json()
    got = await client.get(f"/api/products/{created['id']}")
    assert got.status_code == 200 and got.json() == created
    for product_id in (created["id"] + 1, 0, 2**63, 10**30):
        missing = await client.get(f"/api/products/{product_id}")
        assert missing.status_code == 404 and missing.json()["field"] == "product_id"


async def test_a_suppliers_products_with_filters_and_total(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    other = await register_supplier(client, email="other@example.com")
    for price in (100_000, 200_000, 300_000):
        assert (await add(client, owner, MINIMAL_PRODUCT | {"price": price})).status_code == 201
    await add(client, owner, MINIMAL_PRODUCT | {"category": "keyboard", "is_available": False})
    await add(client, other, MINIMAL_PRODUCT)
    listed = await client.get(f"/api/suppliers/{owner['id']}/products", params={"limit": 2})
    assert listed.status_code == 200 and listed.headers["x-total-count"] == "3"
    assert len(listed.json()) == 2 and {p["supplier_id"] for p in listed.json()} == {owner["id"]}
    assert [p["price"] for p in listed.json()] == [300_000, 200_000]  # newest first
    cheap = await client.get(f"/api/suppliers/{owner['id']}/products", params={"max_price": 150_000})
    assert [p["price"] for p in cheap.json()] == [100_000]
    everything = await client.get(f"/api/suppliers/{owner['id']}/products", params={"available_only": "false"})
    assert everything.headers["x-total-count"] == "4"
    keyboards = await client.get(
        f"/api/suppliers/{owner['id']}/products", params={"category": "Keyboard", "available_only": "false"}
    )
    assert keyboards.headers["x-total-count"] == "1"
    for supplier_id in (other["id"] + 1, 2**63):
        missing = await client.get(f"/api/suppliers/{supplier_id}/products")
        assert missing.status_code == 404 and missing.json()["field"] == "supplier_id"


async def test_only_the_products_supplier_deletes_it(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    other = await register_supplier(client, email="other@example.com")
    product = (await add(client, owner, PRODUCT)).json()
    url = f"/api/products/{product['id']}"
    assert (await client.delete(url)).status_code == 401
    assert (await client.delete(url, headers=bearer(other["api_key"]))).status_code == 403
    assert (await client.get(url)).status_code == 200
    deleted = await client.delete(url, headers=bearer(owner["api_key"]))
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await client.get(url)).status_code == 404
    assert (await client.get("/api/products/search", params={"q": "asus"})).json() == []  # gone from search too
    assert (await client.delete(url, headers=bearer(owner["api_key"]))).status_code == 404
    assert (await add(client, owner, PRODUCT)).status_code == 201  # its SKU is free again


async def test_a_supplier_moving_moves_its_products_in_distance_search(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    other = await register_supplier(client, email="other@example.com")
    product = (await add(client, owner, PRODUCT)).json()
    url = f"/api/suppliers/{owner['id']}"
    assert (await client.put(url, json={"city": "Bandung"})).status_code == 401
    assert (await client.put(url, json={"city": "Bandung"}, headers=bearer(other["api_key"]))).status_code == 403
    moved = await client.put(url, json=BANDUNG | {"phone": ""}, headers=bearer(owner["api_key"]))
    assert moved.status_code == 200, moved.text
    assert moved.json()["city"] == "Bandung" and moved.json()["latitude"] == BANDUNG["latitude"]
    assert moved.json()["phone"] is None and moved.json()["email"] == owner["email"]
    assert (await client.get(url)).json()["city"] == "Bandung"
    copy = (await client.get(f"/api/products/{product['id']}")).json()
    assert copy["city"] == "Bandung"
    near_bandung = await client.get(
        "/api/products/search", params={"q": "asus", "user_lat": -6.9175, "user_lon": 107.6191, "radius_km": 5}
    )
    assert [p["id"] for p in near_bandung.json()] == [product["id"]]
    assert near_bandung.json()[0]["distance_km"] < 0.01
    in_jakarta = await client.get("/api/products/search", params={"q": "asus", "city": "Jakarta"})
    assert in_jakarta.json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, None),
        ({"latitude": -6.9}, "longitude"),
        ({"longitude": 200}, "longitude"),
        ({"name": ""}, "name"),
        ({"email": "new@example.com"}, "email"),
        ({"phone": "call me"}, "phone"),
    ],
)
async def test_supplier_update_input_is_validated(client: httpx.AsyncClient, body: dict, field: str | None) -> None:
    owner = await register_supplier(client)
    response = await client.put(f"/api/suppliers/{owner['id']}", json=body, headers=bearer(owner["api_key"]))
    assert response.status_code == 422, response.text
    assert response.json().get("field") == field


async def test_skip_has_a_documented_cap(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    at_cap = await client.get("/api/products/search", params={"q": "laptop", "skip": MAX_SKIP})
    assert at_cap.status_code == 200 and at_cap.json() == []
    for url in ("/api/products", "/api/products/search", "/api/suppliers", f"/api/suppliers/{owner['id']}/products"):
        beyond = await client.get(url, params={"skip": MAX_SKIP + 1})
        assert beyond.status_code == 400, url
        assert beyond.json()["field"] == "skip" and str(MAX_SKIP) in beyond.json()["detail"]
    documented = (await client.get("/openapi.json")).json()["paths"]["/api/products/search"]["get"]["parameters"]
    assert str(MAX_SKIP) in next(p for p in documented if p["name"] == "skip")["description"]
