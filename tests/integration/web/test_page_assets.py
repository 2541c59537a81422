"""The page and its assets over plain HTTP (no browser needed): served by the app, nothing from another host."""

from __future__ import annotations

import re

import httpx

from tests.integration.web.conftest import WebServer

TEST_IDS = ("api-key", "ai-query", "ai-submit", "ai-answer", "ai-stop", "product-card", "search-query", "search-submit")


def _assets(client: httpx.Client) -> dict[str, str]:
    """The page and every module and stylesheet it loads, found by following its references."""
    found: dict[str, str] = {}
    pending = ["/"]
    while pending:
        path = pending.pop()
        if path in found:
            continue
        response = client.get(path)
        assert response.status_code == 200, path
        found[path] = response.text
        base = path.rsplit("/", 1)[0]
        for ref in re.findall(r'(?:src|href)="(/web/[^"]+)"', response.text):
            pending.append(ref)
        for ref in re.findall(r'from "\./([^"]+)"', response.text):
            pending.append(f"{base}/{ref}")
    return found


def test_the_page_is_served_at_the_root_with_its_test_hooks(web_server: WebServer) -> None:
    with httpx.Client(base_url=web_server.url) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assets = _assets(client)
        docs = client.get("/docs")
        schema = client.get("/openapi.json").json()
    html_and_scripts = "".join(assets.values())
    for test_id in TEST_IDS:
        assert f'data-testid="{test_id}"' in html_and_scripts or f'"{test_id}"' in html_and_scripts, test_id
    assert '<script type="module" src="/web/app.js">' in page.text
    assert "Content-Security-Policy" in page.text and "connect-src 'self'" in page.text
    assert {"/web/app.js", "/web/style.css", "/web/ai.js", "/web/api.js", "/web/i18n.js"} <= set(assets)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "/" not in schema["paths"] and not any(p.startswith("/web") for p in schema["paths"])


def test_no_asset_names_another_host(web_server: WebServer) -> None:
    with httpx.Client(base_url=web_server.url) as client:
        assets = _assets(client)
    for path, text in assets.items():
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE), path
        assert "@import" not in text and "@font-face" not in text, path
