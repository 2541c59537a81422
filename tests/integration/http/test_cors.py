"""CORS: no cross-origin grant unless ``CORS_ALLOW_ORIGINS`` names the origin."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from entrypoints.bootstrap.settings import Settings

EVIL = "https://evil.example"
SHOP = "https://shop.example"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}


def test_cors_allow_origins_is_read_comma_separated() -> None:
    assert Settings.from_env({}).cors_allow_origins == ()
    parsed = Settings.from_env({"CORS_ALLOW_ORIGINS": f" {SHOP}, http://localhost:5173 ,"}).cors_allow_origins
    assert parsed == (SHOP, "http://localhost:5173")


async def test_unset_means_no_cross_origin_grant_at_all(start_app: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=start_app(), timeout=30) as client:
        for origin in (EVIL, SHOP, "null"):
            body = {"messages": [{"role": "user", "content": "hi"}]}
            plain = await client.post("/v1/chat/completions", json=body, headers={"Origin": origin})
            assert not any(h.startswith("access-control-") for h in plain.headers), plain.headers
            preflight = await client.options("/v1/chat/completions", headers={"Origin": origin} | PREFLIGHT)
            assert "access-control-allow-origin" not in preflight.headers


async def test_only_the_listed_origins_are_granted(start_app: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=start_app(cors_allow_origins=(SHOP,)), timeout=30) as client:
        granted = await client.get("/api/products", headers={"Origin": SHOP})
        assert granted.headers["access-control-allow-origin"] == SHOP
        assert "x-total-count" in granted.headers["access-control-expose-headers"].lower()
        preflight = await client.options("/v1/chat/completions", headers={"Origin": SHOP} | PREFLIGHT)
        assert preflight.status_code in (200, 204)
        assert preflight.headers["access-control-allow-origin"] == SHOP
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        refused = await client.get("/api/products", headers={"Origin": EVIL})
        assert refused.headers.get("access-control-allow-origin") not in (EVIL, "*")
        refused_preflight = await client.options("/v1/chat/completions", headers={"Origin": EVIL} | PREFLIGHT)
        assert refused_preflight.headers.get("access-control-allow-origin") not in (EVIL, "*")
