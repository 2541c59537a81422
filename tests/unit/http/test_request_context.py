"""The request id is bound to the log context for the request's whole life, and only for it."""

from __future__ import annotations

from typing import Any

import structlog

from entrypoints.http.request_context import Admission, RequestContext
from tests.fakes.metrics import FakeMetrics


async def test_the_request_id_is_in_the_log_context_while_the_request_runs_and_not_after() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(structlog.contextvars.get_contextvars())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def metrics() -> FakeMetrics:
        return FakeMetrics()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    structlog.contextvars.bind_contextvars(request_id="outer")
    try:
        scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-request-id", b"inner-1")]}
        await RequestContext(app, metrics, Admission())(scope, receive, send)
        assert seen == [{"request_id": "inner-1"}]
        assert structlog.contextvars.get_contextvars() == {"request_id": "outer"}
    finally:
        structlog.contextvars.clear_contextvars()
