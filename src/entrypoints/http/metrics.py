"""``GET /metrics``: the Prometheus scrape; open unless ``METRICS_API_KEY`` is set."""

from __future__ import annotations

from typing import Any, ClassVar

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get

from core.ports.metrics import Metrics
from core.use_cases.authenticate import Access
from entrypoints.http.auth import ACCESS


class MetricsController(Controller):
    path = "/metrics"
    tags = ["operations"]
    opt: ClassVar[dict[str, Any]] = {ACCESS: Access.METRICS}

    @get(summary="Prometheus metrics (text exposition format)")
    async def scrape(self, request: Request[Any, Any, Any], metrics: FromDishka[Metrics]) -> Response[bytes]:
        body, content_type = metrics.render()
        # Litestar appends its own charset to text/* media types.
        return Response(body, media_type=content_type.replace("; charset=utf-8", ""))
