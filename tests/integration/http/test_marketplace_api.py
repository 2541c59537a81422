"""The marketplace REST API through real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from core.domain.marketplace import GeoPoint
from core.geo.distance import haversine_km
from tests.integration.http.conftest import ADMIN_KEY

JAKARTA = (-6.2088, 106.8456)
SUPPLIER = {
    "name": "Budi",
    "business_name": "Toko Budi",
    "email": "budi@example.com",
    "phone": "+62811",
    "address": "Jl. Sudirman 1",
    "latitude": -6.2,
    "longitude": 106.8,
    "city": "Jakarta",
    "province": "DKI Jakarta",
}
PRODUCT = {
    "name": "ASUS ROG Gaming Laptop",
    "description": "RTX 4060",
    "price": 15_000_000,
    "stock_quantity": 3,
    "category": "Laptop",
    "tags": "gaming,asus",
    "sku": "SKU-1",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def register_supplier(client: httpx.AsyncClient, **changes: object) -> dict:
    response = await client.post("/api/suppliers/register", json=SUPPLIER | changes)
    assert response.status_code == 201, response.text
    return response.json()


async def test_supplier_registration_returns_the_seed_fields_and_a_key_once(
    client: httpx.AsyncClient,
) -> None:
    body = await register_supplier(client)
    assert set(body) == {
        "id",
        "name",
        "business_name",
        "email",
        "phone",
        "address",
        "latitude",
        "longitude",
        "city",
        "province",
        "is_active",
        "registration_date",
        "api_key",
    }
    assert body["is_active"] is True and body["api_key"].startswith("sk_sup_")
    again = (await client.get(f"/api/suppliers/{body['id']}")).json()
    assert "api_key" not in again and again["email"] == "budi@example.com"


async def test_duplicate_email_is_a_409_and_writes_nothing(client: httpx.AsyncClient) -> None:
    await register_supplier(client)
    response = await client.post("/api/suppliers/register", json=SUPPLIER | {"email": "BUDI@example.com"})
    assert response.status_code == 409
    assert "already registered" in response.json()["detail"]
    listing = await client.get("/api/suppliers")
    assert listing.headers["x-total-count"] == "1"


async def test_supplier_list_filters_by_city_and_pages(client: httpx.AsyncClient) -> None:
    await register_supplier(client)
    await register_supplier(client, email="b@example.com", city="Jakarta Selatan")
    await register_supplier(client, email="c@example.com", city="Bandung")
    jakarta = await client.get("/api/suppliers", params={"city": "jakarta"})
    assert {s["city"] for s in jakarta.json()} == {"Jakarta", "Jakarta Selatan"}
    assert jakarta.headers["x-total-count"] == "2"
    paged = await client.get("/api/suppliers", params={"skip": 1, "limit": 1})
    assert len(paged.json()) == 1 and paged.headers["x-total-count"] == "3"
    assert (await client.get("/api/suppliers/999")).status_code == 404


async def test_product_auth_matrix(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    other = await register_supplier(client, email="other@example.com")
    url = f"/api/suppliers/{owner['id']}/products"
    assert (await client.post(url, json=PRODUCT)).status_code == 401
    assert (await client.post(url, json=PRODUCT, headers=bearer("nope"))).status_code == 401
    assert (await client.post(url, json=PRODUCT, headers=bearer(other["api_key"]))).status_code == 403
    assert (
        await client.post("/api/suppliers/999/products", json=PRODUCT, headers=bearer(owner["api_key"]))
    ).status_code == 404
    created = await client.post(url, json=PRODUCT, headers=bearer(owner["api_key"]))
    assert created.status_code == 201
    product = created.json()
    assert product["supplier_name"] == "Toko Budi" and product["category"] == "laptop"
    assert product["distance_km"] is None
    assert set(product) >= {
        "id",
        "supplier_id",
        "supplier_name",
        "name",
        "description",
        "price",
        "stock_quantity",
        "category",
        "tags",
        "sku",
        "is_available",
        "created_at",
        "distance_km",
    }
    duplicate = await client.post(url, json=PRODUCT, headers=bearer(owner["api_key"]))
    assert duplicate.status_code == 409 and "SKU" in duplicate.json()["detail"]


async def test_partial_update_by_owner_only(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    other = await register_supplier(client, email="other@example.com")
    product = (
        await client.post(f"/api/suppliers/{owner['id']}/products", json=PRODUCT, headers=bearer(owner["api_key"]))
    ).json()
    url = f"/api/products/{product['id']}"
    assert (await client.put(url, json={"price": 1})).status_code == 401
    assert (await client.put(url, json={"price": 1}, headers=bearer(other["api_key"]))).status_code == 403
    assert (
        await client.put("/api/products/999", json={"price": 1}, headers=bearer(owner["api_key"]))
    ).status_code == 404
    updated = await client.put(url, json={"price": 14_000_000, "stock_quantity": 0}, headers=bearer(owner["api_key"]))
    assert updated.status_code == 200
    assert (updated.json()["price"], updated.json()["stock_quantity"], updated.json()["name"]) == (
        14_000_000,
        0,
        PRODUCT["name"],
    )
    renamed = await client.put(url, json={"name": "Thinkpad X1"}, headers=bearer(owner["api_key"]))
    assert renamed.status_code == 200
    found = await client.get("/api/products/search", params={"q": "thinkpad"})
    assert [p["id"] for p in found.json()] == [product["id"]], "search must see the new name"


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"latitude": 91}, 422, "latitude"),
        ({"longitude": -181}, 422, "longitude"),
        ({"email": "not-an-email"}, 422, "email"),
        ({"name": ""}, 422, "name"),
        ({"name": "x" * 201}, 422, "name"),
        ({"latitude": "north"}, 422, "latitude"),
        ({"unexpected": 1}, 422, "unexpected"),
    ],
)
async def test_bad_supplier_input_names_the_field(
    client: httpx.AsyncClient, changes: dict, status: int, field: str
) -> None:
    response = await client.post("/api/suppliers/register", json=SUPPLIER | changes)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert field in response.json()["detail"]
    assert (await client.get("/api/suppliers")).headers["x-total-count"] == "0"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": 0}, "price"),
        ({"price": -5}, "price"),
        ({"stock_quantity": -1}, "stock_quantity"),
        ({"sku": "s" * 65}, "sku"),
        ({"price": "cheap"}, "price"),
    ],
)
async def test_bad_product_input_is_refused_without_a_write(
    client: httpx.AsyncClient, changes: dict, field: str
) -> None:
    owner = await register_supplier(client)
    response = await client.post(
        f"/api/suppliers/{owner['id']}/products", json=PRODUCT | changes, headers=bearer(owner["api_key"])
    )
    assert response.status_code == 422 and response.json()["field"] == field
    assert (await client.get("/api/products")).headers["x-total-count"] == "0"


async def test_malformed_json_and_oversized_body(client: httpx.AsyncClient) -> None:
    malformed = await client.post(
        "/api/suppliers/register", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and "detail" in malformed.json()
    huge = await client.post(
        "/api/suppliers/register",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413


async def test_listing_products_by_category_and_price(client: httpx.AsyncClient, demo: dict) -> None:
    response = await client.get(
        "/api/products", params={"category": "laptop", "min_price": 5_000_000, "max_price": 20_000_000}
    )
    names = {p["name"] for p in response.json()}
    assert names == {
        "Laptop ASUS ROG Strix G15",
        "Laptop HP Pavilion Gaming",
        "Laptop MacBook Air M3",
        "Laptop Acer Aspire 5",
    }
    assert response.headers["x-total-count"] == "4"
    capped = await client.get("/api/products", params={"limit": 1000})
    assert capped.status_code == 200 and len(capped.json()) == 15
    assert (await client.get("/api/products", params={"limit": 0})).json()["field"] == "limit"
    assert (await client.get("/api/products", params={"skip": -1})).status_code == 422


async def test_search_words_match_in_any_order(client: httpx.AsyncClient, demo: dict) -> None:
    found = await client.get("/api/products/search", params={"q": "gaming LAPTOP"})
    assert {p["name"] for p in found.json()} == {"Laptop ASUS ROG Strix G15", "Laptop HP Pavilion Gaming"}
    none = await client.get("/api/products/search", params={"q": "laptop refrigerator"})
    assert none.json() == [] and none.headers["x-total-count"] == "0"


async def test_search_nearest_first_with_haversine_distances(client: httpx.AsyncClient, demo: dict) -> None:
    response = await client.get(
        "/api/products/search", params={"q": "laptop", "user_lat": JAKARTA[0], "user_lon": JAKARTA[1]}
    )
    products = response.json()
    distances = [p["distance_km"] for p in products]
    assert distances == sorted(distances) and len(products) == 5
    assert products[0]["name"] == "Laptop ASUS ROG Strix G15" and distances[0] == 0.0
    origin = GeoPoint(*JAKARTA)
    surabaya = next(p for p in products if p["city"] == "Surabaya")
    assert surabaya["distance_km"] == pytest.approx(haversine_km(origin, GeoPoint(-7.2575, 112.7521)), abs=0.01)


async def test_radius_bounds_the_distance(client: httpx.AsyncClient, demo: dict) -> None:
    response = await client.get(
        "/api/products/search", params={"user_lat": JAKARTA[0], "user_lon": JAKARTA[1], "radius_km": 25}
    )
    assert {p["city"] for p in response.json()} == {"Jakarta", "Jakarta Selatan"}
    assert all(p["distance_km"] <= 25 for p in response.json())
    assert response.headers["x-total-count"] == "6"


async def test_city_jakarta_includes_jakarta_selatan_and_price_bounds(client: httpx.AsyncClient, demo: dict) -> None:
    response = await client.get("/api/products/search", params={"city": "Jakarta", "max_price": 5_000_000})
    assert {(p["city"], p["name"]) for p in response.json()} == {
        ("Jakarta", "Monitor LG 27' 4K UHD"),
        ("Jakarta", "Keyboard Mechanical Logitech G Pro"),
    }
    selatan = await client.get("/api/products/search", params={"city": "Jakarta", "category": "smartphone"})
    assert [p["city"] for p in selatan.json()] == ["Jakarta Selatan"]


async def test_search_coordinates_must_come_in_pairs(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/products/search", params={"user_lat": -6.2})
    assert response.status_code == 422 and response.json()["field"] == "user_lon"
    radius = await client.get("/api/products/search", params={"radius_km": 5})
    assert radius.status_code == 422 and radius.json()["field"] == "radius_km"
    bad = await client.get("/api/products/search", params={"user_lat": 95, "user_lon": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "user_lat"


async def test_user_registration_and_private_profile(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/users/register",
        json={
            "name": "Siti",
            "email": "siti@example.com",
            "latitude": -6.9,
            "longitude": 107.6,
            "city": "Bandung",
        },
    )
    assert response.status_code == 201
    user = response.json()
    assert user["ai_access_enabled"] is False and user["api_key"].startswith("sk_usr_")
    other = (await client.post("/api/users/register", json={"name": "Eko", "email": "eko@example.com"})).json()
    url = f"/api/users/{user['id']}"
    assert (await client.get(url)).status_code == 401
    stranger = await client.get(url, headers=bearer(other["api_key"]))
    unknown = await client.get("/api/users/999", headers=bearer(other["api_key"]))
    assert stranger.status_code == unknown.status_code == 404  # a private profile cannot be probed
    assert stranger.json()["detail"].replace(str(user["id"]), "N") == unknown.json()["detail"].replace("999", "N")
    mine = await client.get(url, headers=bearer(user["api_key"]))
    assert mine.status_code == 200 and mine.json()["email"] == "siti@example.com" and "api_key" not in mine.json()
    assert (await client.get(url, headers=bearer(ADMIN_KEY))).status_code == 200
    assert (await client.get("/api/users/999", headers=bearer(ADMIN_KEY))).status_code == 404


async def test_ai_access_is_granted_by_the_admin_only(client: httpx.AsyncClient) -> None:
    body = {"name": "Siti", "email": "siti@example.com", "ai_access_enabled": True}
    refused = await client.post("/api/users/register", json=body)
    assert refused.status_code == 403 and refused.json()["field"] == "ai_access_enabled"
    granted = await client.post("/api/users/register", json=body, headers=bearer(ADMIN_KEY))
    assert granted.status_code == 201 and granted.json()["ai_access_enabled"] is True
    user_id = granted.json()["id"]
    url = f"/api/users/{user_id}/ai-access"
    assert (await client.put(url, json={"ai_access_enabled": False})).status_code == 401
    assert (
        await client.put(url, json={"ai_access_enabled": False}, headers=bearer(granted.json()["api_key"]))
    ).status_code == 403
    toggled = await client.put(url, json={"ai_access_enabled": False}, headers=bearer(ADMIN_KEY))
    assert toggled.status_code == 200 and toggled.json()["ai_access_enabled"] is False
    assert (
        await client.put("/api/users/999/ai-access", json={"ai_access_enabled": True}, headers=bearer(ADMIN_KEY))
    ).status_code == 404


async def test_without_admin_key_the_flag_is_taken_as_given(start_app) -> None:  # type: ignore[no-untyped-def]
    url = start_app(admin_api_key=None)
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/api/users/register", json={"name": "A", "email": "a@example.com", "ai_access_enabled": True}
        )
        assert response.status_code == 201 and response.json()["ai_access_enabled"] is True
        toggle = await client.put(f"/api/users/{response.json()['id']}/ai-access", json={"ai_access_enabled": False})
        assert toggle.status_code == 403 and "ADMIN_API_KEY" in toggle.json()["detail"]


async def test_docs_and_openapi_describe_every_route(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    for path in [
        "/api/suppliers/register",
        "/api/suppliers",
        "/api/suppliers/{supplier_id}",
        "/api/suppliers/{supplier_id}/products",
        "/api/products/{product_id}",
        "/api/products",
        "/api/products/search",
        "/api/users/register",
        "/api/users/{user_id}",
        "/api/users/{user_id}/ai-access",
        "/v1/chat/completions",
        "/v1/models",
        "/health",
    ]:
        assert path in spec["paths"], path
    register = spec["paths"]["/api/suppliers/register"]["post"]
    assert "requestBody" in register and "201" in register["responses"]
    yaml = await client.get("/openapi.yaml")
    assert yaml.status_code == 200 and "openapi:" in yaml.text
