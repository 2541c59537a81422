"""Liveness and readiness."""

from __future__ import annotations

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, get

from core.ports.language_model import LanguageModel


class HealthResponse(msgspec.Struct, rename="camel"):
    ok: bool
    model_ready: bool
    model_id: str
    error: str | None


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get(summary="Service health and model readiness")
    async def health(self, model: FromDishka[LanguageModel]) -> HealthResponse:
        info = model.info()
        return HealthResponse(ok=True, model_ready=info.ready, model_id=info.model_id, error=info.error)
