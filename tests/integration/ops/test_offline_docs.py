"""``/docs`` needs no network: its page references only same-origin assets, and the service serves them."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

ASSET_ATTRIBUTE = re.compile(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)


async def test_docs_page_uses_only_local_assets_and_they_are_served(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(), timeout=30) as client:
        page = await client.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assets = ASSET_ATTRIBUTE.findall(html)
        assert len(assets) >= 4, assets  # css, bundle, preset, favicon
        for url in assets:
            assert url.startswith("/") and not url.startswith("//"), f"{url} is not same-origin"
        assert "cdn" not in html.lower() and "validatorUrl: null" in html
        kinds = {}
        for url in assets:
            response = await client.get(url)
            assert response.status_code == 200, url
            assert len(response.content) > 100, url
            kinds[url.rsplit(".", 1)[-1]] = response.headers["content-type"]
        assert kinds["js"].startswith(("text/javascript", "application/javascript"))
        assert kinds["css"].startswith("text/css")
        bundle = (await client.get("/docs/assets/swagger-ui-bundle.js")).text
        assert "SwaggerUIBundle" in bundle
        spec = (await client.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.1") and "/health/ready" in spec["paths"]
