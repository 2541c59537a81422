"""Metrics wiring: prometheus-client when ``METRICS_ENABLED`` (the default), else nothing recorded."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from adapters.metrics import PrometheusMetrics
from core.ports.metrics import NO_METRICS, Metrics
from entrypoints.bootstrap.settings import Settings


class MetricsProvider(Provider):
    scope = Scope.APP

    @provide
    def metrics(self, settings: Settings) -> Metrics:
        return PrometheusMetrics() if settings.metrics_enabled else NO_METRICS
