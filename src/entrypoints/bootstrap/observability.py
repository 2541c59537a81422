"""Metrics and readiness wiring.

Metrics: prometheus-client when ``METRICS_ENABLED`` (the default), else nothing recorded.
Readiness: the database (when this role serves the marketplace), the stream store and the model.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dishka import AsyncContainer, Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.engine import ping as ping_database
from adapters.llm.remote import RemoteLanguageModel
from adapters.metrics import PrometheusMetrics
from adapters.metrics.prometheus import MULTIPROCESS_DIR_ENV
from core.domain.errors import Unavailable
from core.ports.language_model import LanguageModel
from core.ports.metrics import NO_METRICS, Metrics
from core.ports.stream_store import StreamStore
from core.use_cases.check_readiness import CheckReadiness, Probe
from entrypoints.bootstrap.roles import serves_marketplace
from entrypoints.bootstrap.settings import Settings

READINESS_PROBE_SESSION = "readiness-probe"


class MetricsProvider(Provider):
    scope = Scope.APP

    @provide
    def metrics(self, settings: Settings) -> Iterator[Metrics]:
        if not settings.metrics_enabled:
            yield NO_METRICS
            return
        metrics = PrometheusMetrics()
        try:
            yield metrics
        finally:
            metrics.close()


def prepare_worker_metrics(workers: int) -> str | None:
    """Before starting several worker processes: the empty folder where their metrics meet (the operator's
    ``PROMETHEUS_MULTIPROC_DIR``, else a new temporary one). Returns it, or ``None`` for one process."""
    if workers <= 1:
        return None
    directory = Path(os.environ.get(MULTIPROCESS_DIR_ENV) or tempfile.mkdtemp(prefix="marketplace-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # values of an earlier run would be added to this one's
        stale.unlink()
    os.environ[MULTIPROCESS_DIR_ENV] = str(directory)
    return str(directory)


class ReadinessProvider(Provider):
    scope = Scope.APP

    @provide
    def check_readiness(
        self, settings: Settings, engine: AsyncEngine, model: LanguageModel, container: AsyncContainer
    ) -> CheckReadiness:
        probes: dict[str, Probe] = {}
        if serves_marketplace(settings):
            probes["database"] = lambda: ping_database(engine)
        probes["stream_store"] = lambda: _ping_store(container)
        probes["model"] = _model_probe(model)
        return CheckReadiness(probes)


async def _ping_store(container: AsyncContainer) -> None:
    # Resolved here, not injected: a store that cannot start (Redis down) is a "not ready", not an error.
    store = await container.get(StreamStore)
    # A status read is one round trip to Redis (or the SQLite file); no port method is needed for it.
    await store.status(READINESS_PROBE_SESSION)


def _model_probe(model: LanguageModel) -> Probe:
    """Ready once loaded. A model not loaded yet (``EAGER_LOAD_MODEL=0``) starts loading at the first probe.
    A remote engine is asked now (one quick ``GET /models``), so an engine that went away is reported."""
    if isinstance(model, RemoteLanguageModel):
        remote = model

        async def ask_engine() -> None:
            info = await remote.probe()
            if not info.ready:
                raise Unavailable(info.error or "the engine is unreachable")

        return ask_engine
    loading: list[asyncio.Task[None]] = []

    async def probe() -> None:
        info = model.info()
        if info.ready:
            return
        if info.error:
            raise Unavailable(f"not loaded: {info.error}")
        if not loading or loading[0].done():
            loading[:] = [asyncio.create_task(model.start(), name="readiness:model-start")]
        raise Unavailable("loading")

    return probe
