"""Every response carries ``X-Request-ID``: the caller's when acceptable, else a new one."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest


async def test_an_acceptable_incoming_id_is_echoed_on_every_kind_of_response(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(), timeout=30) as client:
        for method, path, expected in [
            ("GET", "/health", 200),
            ("GET", "/api/suppliers/999999", 404),
            ("GET", "/no/such/route", 404),
            ("POST", "/v1/chat/completions", 400),
            ("DELETE", "/health", 405),
        ]:
            response = await client.request(method, path, headers={"X-Request-ID": "trace-42 a"}, json={})
            assert response.status_code == expected, (path, response.text)
            assert response.headers["x-request-id"] == "trace-42 a"


async def test_a_bad_or_missing_id_is_replaced_by_a_fresh_one(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(), timeout=30) as client:
        made = set()
        for headers in [{}, {"X-Request-ID": "x" * 129}, {"X-Request-ID": "tab\there"}]:
            response = await client.get("/health", headers=headers)
            rid = response.headers["x-request-id"]
            assert len(rid) == 32 and rid.isalnum()
            made.add(rid)
        assert len(made) == 3
        kept = await client.get("/health", headers={"X-Request-ID": "y" * 128})
        assert kept.headers["x-request-id"] == "y" * 128


async def test_cors_exposes_the_request_id(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(), timeout=30) as client:
        response = await client.get("/health", headers={"Origin": "http://shop.example"})
        assert "access-control-allow-origin" not in response.headers  # no CORS_ALLOW_ORIGINS: no grant
    async with httpx.AsyncClient(base_url=serve(cors_allow_origins=("http://shop.example",)), timeout=30) as client:
        response = await client.get("/health", headers={"Origin": "http://shop.example"})
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_one_access_line_per_request_without_query_or_headers(
    serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import structlog
    from structlog.testing import capture_logs

    from entrypoints.http import request_context

    # Loggers cache their configuration on first use; a fresh one sees capture_logs whatever ran before.
    monkeypatch.setattr(request_context, "logger", structlog.get_logger("entrypoints.http.access"))
    url = serve()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        with capture_logs() as logs:
            response = await client.get(
                "/api/products",
                params={"q": "laptop", "api_key": "sk-query-secret"},
                headers={"X-Request-ID": "access-1", "Authorization": "Bearer sk-header-secret"},
            )
    assert response.status_code in (200, 401)
    access = [entry for entry in logs if entry["event"] == "http.access"]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "GET" and line["route"] == "/api/products" and line["path"] == "/api/products"
    assert line["status"] == response.status_code and line["request_id"] == "access-1"
    assert isinstance(line["duration_ms"], float) and line["caller"]
    assert "secret" not in repr(logs) and "laptop" not in repr(access)
