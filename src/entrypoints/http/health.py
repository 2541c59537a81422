"""Liveness (``/health``) and readiness (``/health/ready``)."""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get

from core.ports.language_model import LanguageModel
from core.use_cases.check_readiness import CheckReadiness


class HealthResponse(msgspec.Struct, rename="camel"):
    ok: bool
    model_ready: bool
    model_id: str
    error: str | None


class ReadinessResponse(msgspec.Struct):
    ready: bool
    checks: dict[str, str]  # dependency -> "ok" or why not
    not_ready: list[str]


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get(summary="Liveness: the process answers (and how the model is doing)")
    async def health(self, model: FromDishka[LanguageModel]) -> HealthResponse:
        info = model.info()
        return HealthResponse(ok=True, model_ready=info.ready, model_id=info.model_id, error=info.error)

    @get(
        "/ready",
        summary="Readiness: 200 only when the database, the stream store and the model answer",
        description="503 names what is not ready in `not_ready` and says why in `checks`; also 503 while "
        "the server drains for shutdown.",
    )
    async def ready(
        self, request: Request[Any, Any, Any], check: FromDishka[CheckReadiness]
    ) -> Response[ReadinessResponse]:
        admission = getattr(request.app.state, "admission", None)
        extra = [("shutdown", "shutting down")] if admission is not None and admission.draining else []
        report = await check(*extra)
        body = ReadinessResponse(ready=report.ready, checks=report.checks, not_ready=report.not_ready)
        return Response(body, status_code=200 if report.ready else 503)
