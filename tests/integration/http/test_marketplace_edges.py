"""The marketplace API's edges through real HTTP on SQLite and PostgreSQL: hostile input never reaches
the database as a 500, failures write nothing, and the auth answers carry the right headers."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.http.conftest import ADMIN_KEY
from tests.integration.http.test_marketplace_api import PRODUCT, SUPPLIER, bearer, register_supplier

HUGE_ID = 2**63  # one past the largest 64-bit id: no database can hold it


async def add_product(client: httpx.AsyncClient, owner: dict, **changes: object) -> httpx.Response:
    return await client.post(
        f"/api/suppliers/{owner['id']}/products", json=PRODUCT | changes, headers=bearer(owner["api_key"])
    )


async def product_count(client: httpx.AsyncClient) -> str:
    return (await client.get("/api/products", params={"available_only": "false"})).headers["x-total-count"]


async def test_401_answers_carry_www_authenticate(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    for response in [
        await client.post(f"/api/suppliers/{owner['id']}/products", json=PRODUCT),
        await client.post(f"/api/suppliers/{owner['id']}/products", json=PRODUCT, headers=bearer("wrong")),
        await client.put("/api/products/1", json={"price": 1}, headers={"Authorization": "Basic abc"}),
        await client.get("/api/users/1"),
        await client.put("/api/users/1/ai-access", json={"ai_access_enabled": True}),
    ]:
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"]


async def test_a_request_without_a_key_is_401_even_with_a_bad_body(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    response = await client.post(f"/api/suppliers/{owner['id']}/products", json={"price": "free"})
    assert response.status_code == 401


async def test_a_user_key_cannot_add_products_and_a_supplier_key_cannot_read_users(
    client: httpx.AsyncClient,
) -> None:
    owner = await register_supplier(client)
    user = (await client.post("/api/users/register", json={"name": "Eko", "email": "eko@example.com"})).json()
    refused = await client.post(f"/api/suppliers/{owner['id']}/products", json=PRODUCT, headers=bearer(user["api_key"]))
    assert refused.status_code == 403
    assert (await client.get(f"/api/users/{user['id']}", headers=bearer(owner["api_key"]))).status_code == 403
    assert await product_count(client) == "0"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "Budi\u0000"}, "name"),
        ({"business_name": "Toko\u0007"}, "business_name"),
        ({"city": "\t"}, "city"),
        ({"address": "a" * 501}, "address"),
        ({"phone": "call me maybe"}, "phone"),
        ({"email": "a@b"}, "email"),
        ({"email": ""}, "email"),
        ({"province": "p" * 101}, "province"),
        ({"longitude": None}, "longitude"),
    ],
)
async def test_more_bad_supplier_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, changes: dict, field: str
) -> None:
    response = await client.post("/api/suppliers/register", json=SUPPLIER | changes)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert (await client.get("/api/suppliers")).headers["x-total-count"] == "0"


async def test_missing_required_field_and_wrong_body_shape(client: httpx.AsyncClient) -> None:
    body = {k: v for k, v in SUPPLIER.items() if k != "business_name"}
    missing = await client.post("/api/suppliers/register", json=body)
    assert missing.status_code == 422 and missing.json()["field"] == "business_name"
    array = await client.post("/api/suppliers/register", json=[SUPPLIER])
    assert array.status_code == 422 and array.json()["detail"]
    not_json = await client.post(
        "/api/suppliers/register", content=b"name=Budi", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400 and not_json.json()["detail"]
    assert (await client.get("/api/suppliers")).headers["x-total-count"] == "0"


async def test_emails_are_stored_lower_case_and_trimmed(client: httpx.AsyncClient) -> None:
    body = await register_supplier(client, email="  Budi@Example.COM ", name="  Budi  ")
    assert (body["email"], body["name"]) == ("budi@example.com", "Budi")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": " "}, "name"),
        ({"description": "d" * 5001}, "description"),
        ({"category": ""}, "category"),
        ({"tags": "t" * 501}, "tags"),
        ({"stock_quantity": 10**12}, "stock_quantity"),
        ({"price": 10**13}, "price"),
        ({"price": 2**70}, "price"),
        ({"sku": "bad\u0000sku"}, "sku"),
        ({"is_available": "yes"}, "is_available"),
        ({"supplier_id": 5}, "supplier_id"),
    ],
)
async def test_more_bad_product_input_writes_nothing(client: httpx.AsyncClient, changes: dict, field: str) -> None:
    owner = await register_supplier(client)
    response = await add_product(client, owner, **changes)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert await product_count(client) == "0"


async def test_duplicate_sku_writes_nothing_more(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    assert (await add_product(client, owner)).status_code == 201
    again = await add_product(client, owner, name="Another name")
    assert again.status_code == 409 and again.json()["field"] == "sku"
    assert await product_count(client) == "1"
    # The request after a refused write still works: the failed transaction was rolled back.
    assert (await add_product(client, owner, sku="SKU-2")).status_code == 201
    assert await product_count(client) == "2"


async def test_update_rules(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    product = (await add_product(client, owner)).json()
    url = f"/api/products/{product['id']}"
    key = bearer(owner["api_key"])
    empty = await client.put(url, json={}, headers=key)
    assert empty.status_code == 422 and "Nothing to update" in empty.json()["detail"]
    sku = await client.put(url, json={"sku": "NEW"}, headers=key)
    assert sku.status_code == 422 and sku.json()["field"] == "sku"
    blank = await client.put(url, json={"name": "  "}, headers=key)
    assert blank.status_code == 422 and blank.json()["field"] == "name"
    changed = await client.put(
        url, json={"category": "  GAMING Laptop ", "description": "", "price": None}, headers=key
    )
    assert changed.status_code == 200
    body = changed.json()
    assert (body["category"], body["description"], body["price"]) == ("gaming laptop", "", PRODUCT["price"])
    hidden = await client.put(url, json={"is_available": False}, headers=key)
    assert hidden.json()["is_available"] is False
    assert (await client.get("/api/products")).json() == []
    everything = await client.get("/api/products", params={"available_only": False})
    assert [p["id"] for p in everything.json()] == [product["id"]]
    assert (await client.get("/api/products/search", params={"q": "asus"})).json() == []


async def test_ids_beyond_64_bits_are_404_not_500(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    assert (await client.get(f"/api/suppliers/{HUGE_ID}")).status_code == 404
    assert (await client.get(f"/api/suppliers/{10**30}")).status_code == 404
    assert (await client.get("/api/suppliers/0")).status_code == 404
    assert (
        await client.post(f"/api/suppliers/{HUGE_ID}/products", json=PRODUCT, headers=bearer(owner["api_key"]))
    ).status_code == 404
    assert (
        await client.put(f"/api/products/{HUGE_ID}", json={"price": 1}, headers=bearer(owner["api_key"]))
    ).status_code == 404
    assert (await client.get(f"/api/users/{HUGE_ID}", headers=bearer(ADMIN_KEY))).status_code == 404
    assert (
        await client.put(f"/api/users/{HUGE_ID}/ai-access", json={"ai_access_enabled": True}, headers=bearer(ADMIN_KEY))
    ).status_code == 404
    assert (await client.get("/api/suppliers/abc")).status_code in (400, 404)


async def test_hostile_query_parameters(client: httpx.AsyncClient, demo: dict) -> None:
    huge_price = await client.get("/api/products", params={"min_price": 10**19})
    assert huge_price.status_code == 200 and huge_price.json() == []
    cheap = await client.get("/api/products/search", params={"max_price": 10**30, "q": "laptop"})
    assert cheap.status_code == 200 and len(cheap.json()) == 5
    skip = await client.get("/api/products", params={"skip": 10**19})
    assert skip.status_code == 400 and skip.json()["field"] == "skip"
    nul = await client.get("/api/products/search", params={"q": "laptop\x00"})
    assert nul.status_code == 422 and nul.json()["field"] == "q"
    city = await client.get("/api/suppliers", params={"city": "Jakarta\x00"})
    assert city.status_code == 422 and city.json()["field"] == "city"
    long_q = await client.get("/api/products/search", params={"q": "x" * 201})
    assert long_q.status_code == 422 and long_q.json()["field"] == "q"
    punctuation = await client.get("/api/products/search", params={"q": '"laptop" AND * OR -gaming\' %_'})
    assert punctuation.status_code == 200
    crossed = await client.get("/api/products", params={"min_price": 10, "max_price": 5})
    assert crossed.status_code == 422 and crossed.json()["field"] == "min_price"
    nan = await client.get("/api/products/search", params={"user_lat": "nan", "user_lon": 0})
    assert nan.status_code == 422 and nan.json()["field"] == "user_lat"
    zero = await client.get("/api/products/search", params={"user_lat": 0, "user_lon": 0, "radius_km": 0})
    assert zero.status_code == 422 and zero.json()["field"] == "radius_km"


async def test_an_unbounded_radius_covers_the_earth(client: httpx.AsyncClient, demo: dict) -> None:
    everywhere = await client.get(
        "/api/products/search",
        params={"user_lat": -6.2088, "user_lon": 106.8456, "radius_km": "1e9", "limit": 100},
    )
    assert everywhere.status_code == 200
    assert everywhere.headers["x-total-count"] == "15"
    assert len(everywhere.json()) == 15


async def test_list_paging_and_the_limit_cap(client: httpx.AsyncClient, demo: dict) -> None:
    first = await client.get("/api/products", params={"limit": 4})
    second = await client.get("/api/products", params={"limit": 4, "skip": 4})
    assert first.headers["x-total-count"] == second.headers["x-total-count"] == "15"
    ids = [p["id"] for p in first.json() + second.json()]
    assert len(ids) == len(set(ids)) == 8
    search = await client.get("/api/products/search", params={"q": "laptop", "limit": 2, "skip": 1})
    assert len(search.json()) == 2 and search.headers["x-total-count"] == "5"
    default = await client.get("/api/products/search")
    assert len(default.json()) == 15
    for params in ({"limit": 0}, {"limit": -1}, {"skip": -1}, {"limit": "ten"}):
        response = await client.get("/api/suppliers", params=params)
        assert response.status_code == 422 and response.json()["field"] == next(iter(params))


async def test_search_word_order_and_best_match_first(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    strong = (
        await add_product(
            client,
            owner,
            name="Gaming Mouse Gaming Edition",
            tags="gaming,mouse",
            description="For gaming",
            category="mouse",
            sku="M-1",
        )
    ).json()
    long_text = "A quiet wireless mouse for long office days, " * 10 + "not for gaming"
    weak = (
        await add_product(
            client,
            owner,
            name="Office mouse",
            tags="office",
            category="mouse",
            sku="M-2",
            description=long_text,
        )
    ).json()
    forwards = await client.get("/api/products/search", params={"q": "mouse gaming"})
    backwards = await client.get("/api/products/search", params={"q": "GAMING Mouse"})
    order = [p["id"] for p in forwards.json()]
    assert order == [p["id"] for p in backwards.json()] == [strong["id"], weak["id"]]
    assert all(p["distance_km"] is None for p in forwards.json())
    prefix = await client.get("/api/products/search", params={"q": "gam mou"})
    assert {p["id"] for p in prefix.json()} == {strong["id"], weak["id"]}


async def test_user_coordinates_come_in_pairs(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/users/register", json={"name": "A", "email": "a@example.com", "latitude": -6.2})
    assert response.status_code == 422 and response.json()["field"] == "longitude"
    out_of_range = await client.post(
        "/api/users/register", json={"name": "A", "email": "a@example.com", "latitude": 0, "longitude": 200}
    )
    assert out_of_range.status_code == 422 and out_of_range.json()["field"] == "longitude"
    ok = await client.post("/api/users/register", json={"name": "A", "email": "a@example.com"})
    assert ok.status_code == 201
    assert (ok.json()["latitude"], ok.json()["longitude"]) == (None, None)


async def test_user_registration_fields_and_duplicate(client: httpx.AsyncClient) -> None:
    body = {
        "name": "Jane Smith",
        "email": "jane@email.com",
        "phone": "+62856789012",
        "latitude": -6.2088,
        "longitude": 106.8456,
        "city": "Jakarta",
        "province": "DKI Jakarta",
    }
    created = await client.post("/api/users/register", json=body, headers=bearer("not the admin"))
    assert created.status_code == 201
    assert set(created.json()) == {
        "id",
        "name",
        "email",
        "phone",
        "latitude",
        "longitude",
        "city",
        "province",
        "ai_access_enabled",
        "created_at",
        "api_key",
    }
    again = await client.post("/api/users/register", json=body | {"email": "JANE@email.com"})
    assert again.status_code == 409 and "already registered" in again.json()["detail"]
    assert again.json()["field"] == "email"


async def test_ai_access_with_a_wrong_or_missing_key(client: httpx.AsyncClient) -> None:
    user = (await client.post("/api/users/register", json={"name": "A", "email": "a@example.com"})).json()
    url = f"/api/users/{user['id']}/ai-access"
    guess = await client.put(url, json={"ai_access_enabled": True}, headers=bearer("guess"))
    assert guess.status_code == 401
    bad = await client.put(url, json={"ai_access_enabled": "yes"}, headers=bearer(ADMIN_KEY))
    assert bad.status_code == 422 and bad.json()["field"] == "ai_access_enabled"
    profile = await client.get(f"/api/users/{user['id']}", headers=bearer(user["api_key"]))
    assert profile.json()["ai_access_enabled"] is False


async def test_openapi_documents_schemas_tags_summaries_and_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    marketplace = {
        path: item
        for path, item in spec["paths"].items()
        if path.startswith(("/api/suppliers", "/api/products", "/api/users/register"))
        or path in ("/api/users/{user_id}", "/api/users/{user_id}/ai-access")
    }
    assert len(marketplace) == 11
    for path, item in marketplace.items():
        for method, operation in item.items():
            assert operation.get("summary"), (path, method)
            assert operation.get("tags"), (path, method)
            if method == "delete":
                assert "204" in operation["responses"], path
                continue
            success = operation["responses"].get("200") or operation["responses"].get("201")
            assert success and success["content"]["application/json"]["schema"], (path, method)
            if method in ("post", "put") and not path.endswith("/api-key"):  # a rotation has no body
                assert operation["requestBody"]["content"]["application/json"]["schema"], (path, method)
    add = spec["paths"]["/api/suppliers/{supplier_id}/products"]["post"]
    assert {"400", "401", "403", "404", "409", "422"} <= set(add["responses"])
    error_schema = add["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][error_schema]["properties"]) == {"detail", "field"}
    search = spec["paths"]["/api/products/search"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {
        "q",
        "category",
        "city",
        "min_price",
        "max_price",
        "user_lat",
        "user_lon",
        "radius_km",
        "skip",
        "limit",
    }
    assert "X-Total-Count" in search["responses"]["200"].get("headers", {})
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
