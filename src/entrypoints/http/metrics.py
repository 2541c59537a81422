"""``GET /metrics``: the Prometheus scrape; open unless ``METRICS_API_KEY`` is set."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from core.domain.api_keys import same_secret
from core.domain.errors import Unauthorized
from core.ports.metrics import Metrics
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.bearer import bearer_token


async def require_metrics_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    settings = await connection.app.state.dishka_container.get(Settings)
    expected = settings.metrics_api_key
    if expected is not None and not same_secret(bearer_token(connection) or "", expected):
        raise Unauthorized("Send the metrics key as Authorization: Bearer <METRICS_API_KEY>", field="authorization")


class MetricsController(Controller):
    path = "/metrics"
    tags = ["operations"]
    guards = [require_metrics_key]

    @get(summary="Prometheus metrics (text exposition format)")
    async def scrape(self, request: Request[Any, Any, Any], metrics: FromDishka[Metrics]) -> Response[bytes]:
        body, content_type = metrics.render()
        # Litestar appends its own charset to text/* media types.
        return Response(body, media_type=content_type.replace("; charset=utf-8", ""))
