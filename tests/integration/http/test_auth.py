"""One way to authenticate, through real HTTP on SQLite and PostgreSQL: every route states what it
requires, key rotation, private resources answer 404 to strangers, and no id is a 500."""

from __future__ import annotations

import httpx
import pytest

from core.use_cases.authenticate import Access
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from entrypoints.http.auth import identify_caller, required_access
from tests.integration.http.conftest import ADMIN_KEY
from tests.integration.http.test_marketplace_api import bearer, register_supplier

HUGE_IDS = (0, 2**63, 10**30)


async def register_user(client: httpx.AsyncClient, email: str) -> dict:
    response = await client.post("/api/users/register", json={"name": "U", "email": email})
    assert response.status_code == 201, response.text
    return response.json()


def test_every_route_states_its_access_and_is_authenticated_one_way() -> None:
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    assert app.before_request is identify_caller
    declared: dict[str, Access] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            # No layer adds a guard or its own hook (Litestar runs only the nearest layer's before_request).
            guards = [g for layer in handler.ownership_layers for g in (layer.guards or [])]
            hooks = [layer.before_request for layer in handler.ownership_layers if layer.before_request]
            assert (guards, hooks) == ([], [identify_caller]), route.path
            for method in getattr(handler, "http_methods", ()):
                declared[f"{method} {route.path}"] = required_access(handler)
    assert declared["POST /api/suppliers/{supplier_id:int}/products"] is Access.SUPPLIER
    assert declared["PUT /api/suppliers/{supplier_id:int}"] is Access.SUPPLIER
    assert declared["DELETE /api/products/{product_id:int}"] is Access.SUPPLIER
    assert declared["GET /api/users/{user_id:int}"] is Access.USER_OR_ADMIN
    assert declared["GET /api/users/{user_id:int}/conversations"] is Access.USER_OR_ADMIN
    assert declared["PUT /api/users/{user_id:int}/ai-access"] is Access.ADMIN
    assert declared["POST /api/chat/search"] is Access.USER
    assert declared["POST /v1/chat/completions"] is Access.INFERENCE
    assert declared["POST /v1/cancel/{session_id:str}"] is Access.INFERENCE
    assert declared["GET /api/products/search"] is Access.PUBLIC


async def test_supplier_key_rotation(client: httpx.AsyncClient) -> None:
    owner = await register_supplier(client)
    other = await register_supplier(client, email="other@example.com")
    url = f"/api/suppliers/{owner['id']}/api-key"
    assert (await client.post(url)).status_code == 401
    assert (await client.post(url, headers=bearer(other["api_key"]))).status_code == 403
    rotated = await client.post(url, headers=bearer(owner["api_key"]))
    assert rotated.status_code == 200 and rotated.json()["id"] == owner["id"]
    new_key = rotated.json()["api_key"]
    assert new_key != owner["api_key"] and new_key.startswith("sk_sup_")
    product = {"name": "Mouse", "price": 1, "stock_quantity": 1, "category": "mouse"}
    add = f"/api/suppliers/{owner['id']}/products"
    assert (await client.post(add, json=product, headers=bearer(owner["api_key"]))).status_code == 401
    assert (await client.post(add, json=product, headers=bearer(new_key))).status_code == 201
    by_admin = await client.post(url, headers=bearer(ADMIN_KEY))
    assert by_admin.status_code == 200
    assert (await client.post(add, json=product, headers=bearer(new_key))).status_code == 401
    assert (await client.post(add, json=product, headers=bearer(by_admin.json()["api_key"]))).status_code == 201
    for supplier_id in HUGE_IDS:
        missing = await client.post(f"/api/suppliers/{supplier_id}/api-key", headers=bearer(ADMIN_KEY))
        assert missing.status_code == 404


async def test_user_key_rotation_is_private(client: httpx.AsyncClient) -> None:
    jane = await register_user(client, "jane@example.com")
    john = await register_user(client, "john@example.com")
    url = f"/api/users/{jane['id']}/api-key"
    assert (await client.post(url)).status_code == 401
    assert (await client.post(url, headers=bearer(john["api_key"]))).status_code == 404
    rotated = await client.post(url, headers=bearer(jane["api_key"]))
    assert rotated.status_code == 200 and rotated.json()["email"] == "jane@example.com"
    profile = f"/api/users/{jane['id']}"
    assert (await client.get(profile, headers=bearer(jane["api_key"]))).status_code == 401
    assert (await client.get(profile, headers=bearer(rotated.json()["api_key"]))).status_code == 200
    assert (await client.post(url, headers=bearer(ADMIN_KEY))).status_code == 200
    assert (await client.get(profile, headers=bearer(rotated.json()["api_key"]))).status_code == 401


async def test_private_resources_answer_404_to_strangers_and_out_of_range_ids(client: httpx.AsyncClient) -> None:
    jane = await register_user(client, "jane@example.com")
    john = await register_user(client, "john@example.com")
    shop = await register_supplier(client)
    for url in (f"/api/users/{jane['id']}", f"/api/users/{jane['id']}/conversations"):
        assert (await client.get(url, headers=bearer(jane["api_key"]))).status_code == 200
        assert (await client.get(url, headers=bearer(ADMIN_KEY))).status_code == 200
        assert (await client.get(url, headers=bearer(john["api_key"]))).status_code == 404
        assert (await client.get(url, headers=bearer(shop["api_key"]))).status_code == 403  # not a user's key
        assert (await client.get(url)).status_code == 401
    for huge in HUGE_IDS:
        for url in (f"/api/users/{huge}/conversations", f"/api/conversations/{huge}/messages", f"/api/users/{huge}"):
            for key in (jane["api_key"], ADMIN_KEY):
                response = await client.get(url, headers=bearer(key))
                assert response.status_code == 404, (url, response.text)
    conversations = f"/api/users/{jane['id']}/conversations"
    deep = await client.get(conversations, params={"skip": 10**19}, headers=bearer(ADMIN_KEY))
    assert deep.status_code == 400 and deep.json()["field"] == "skip"


@pytest.mark.parametrize("path", ["/api/products", "/api/suppliers", "/api/products/search"])
async def test_public_routes_ignore_unknown_keys(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path, headers=bearer("not-a-key"))).status_code == 200
