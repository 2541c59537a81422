"""Around every HTTP request: its id, one access line, the HTTP metrics, and refusal while draining.

``RequestContext`` wraps the whole Litestar ASGI handler (outside routing, CORS and the exception
handlers), so 404s, CORS preflights and errors get an ``X-Request-ID`` and an access line too.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.ports.metrics import Metrics

logger = structlog.get_logger("entrypoints.http.access")

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_LENGTH = 128
UNMATCHED_ROUTE = "unmatched"
_STATE_REQUEST_ID = "request_id"
_STATE_CALLER_KIND = "caller_kind"
# Still answered while draining: probes, scrapes, cancels and resumes of running streams.
_DRAIN_EXEMPT_PATHS = ("/health", "/health/ready", "/metrics")
_GENERATION_PATHS = ("/v1/chat/completions", "/api/chat/search")


def accepted_request_id(raw: bytes | None) -> str:
    """The caller's id when printable ASCII of at most 128 characters; otherwise a new one."""
    if raw and len(raw) <= MAX_REQUEST_ID_LENGTH and all(0x20 <= b <= 0x7E for b in raw):
        return raw.decode("ascii")
    return f"{random.getrandbits(128):032x}"  # unique enough for tracing; a tenth of uuid4's cost


def request_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The id of the request being served (the one in its ``X-Request-ID`` response header)."""
    return str(connection.scope.get("state", {}).get(_STATE_REQUEST_ID) or "")


def set_caller_kind(connection: ASGIConnection[Any, Any, Any, Any], kind: str) -> None:
    """Name who is calling (``admin``, ``supplier``, ``user``, ``api_client``...) for the access line."""
    connection.scope.setdefault("state", {})[_STATE_CALLER_KIND] = kind


class Admission:
    """Whether new work is admitted, and how many requests are in flight (for a graceful shutdown)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self._draining_until: float | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def draining(self) -> bool:
        return self._draining_until is not None

    def drain(self, grace_seconds: float) -> None:
        self._draining_until = time.monotonic() + grace_seconds

    def retry_after_seconds(self) -> int:
        left = (self._draining_until or 0.0) - time.monotonic()
        return max(1, math.ceil(left))

    async def wait_idle(self) -> None:
        await self._idle.wait()

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Callable[[], Awaitable[Metrics]], admission: Admission) -> None:
        self._app = app
        self._metrics_source = metrics
        self._metrics: Metrics | None = None
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        rid = accepted_request_id(headers.get(b"x-request-id"))
        state = scope.setdefault("state", {})  # type: ignore[typeddict-item]
        state[_STATE_REQUEST_ID] = rid
        status = 500
        recorded = False
        rid_header = (b"x-request-id", rid.encode("ascii"))
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, recorded
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), rid_header]
            elif message["type"] == "http.response.body" and not message.get("more_body", False) and not recorded:
                # Recorded before the last byte leaves, so a scrape right after the response sees it.
                recorded = True
                await self._record(scope, headers, status, time.perf_counter() - started, rid)
            await send(message)

        # bind + reset by token: what structlog's bound_contextvars() does, without its generator and copies
        tokens = structlog.contextvars.bind_contextvars(request_id=rid)
        try:
            if self.admission.draining and not _admitted_while_draining(scope, headers):
                await self._refuse(scope, send_with_id)
            else:
                self.admission.enter()
                try:
                    await self._app(scope, receive, send_with_id)
                finally:
                    self.admission.leave()
        finally:
            if not recorded:  # the client went away, or the app failed before answering
                await self._record(scope, headers, status, time.perf_counter() - started, rid)
            structlog.contextvars.reset_contextvars(**tokens)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        path = scope["path"]
        message = "The server is shutting down; retry on another instance"
        if path.startswith("/v1/"):
            body: dict[str, Any] = {
                "error": {"message": message, "type": "service_unavailable_error", "param": None, "code": None}
            }
        else:
            body = {"detail": message}
        if path in _GENERATION_PATHS:
            (await self._get_metrics()).request_rejected("shutting_down")
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"retry-after", str(self.admission.retry_after_seconds()).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _record(self, scope: Scope, headers: dict[bytes, bytes], status: int, seconds: float, rid: str) -> None:
        route = str(scope.get("path_template") or UNMATCHED_ROUTE)
        method = scope["method"]
        state = scope.get("state", {})
        caller = state.get(_STATE_CALLER_KIND) or ("anonymous" if b"authorization" not in headers else "unverified")
        try:
            (await self._get_metrics()).http_request(method, route, status, seconds)
        except Exception:  # metrics never break a request
            logger.exception("http.metrics_failed")
        # No query string and no header: either can carry a key.
        logger.info(
            "http.access",
            method=method,
            route=route,
            path=scope["path"],
            status=status,
            duration_ms=round(seconds * 1000, 1),
            request_id=rid,
            caller=caller,
        )

    async def _get_metrics(self) -> Metrics:
        if self._metrics is None:
            self._metrics = await self._metrics_source()
        return self._metrics


def _admitted_while_draining(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    path: str = scope["path"]
    if path in _DRAIN_EXEMPT_PATHS or path.endswith("/cancel") or path.startswith("/v1/cancel/"):
        return True
    if b"last-event-id" in headers:
        return True
    return b"last_event_id=" in (scope.get("query_string") or b"")
