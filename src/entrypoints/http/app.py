"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from dishka import AsyncContainer
from dishka.integrations.litestar import DishkaRouter, setup_dishka
from litestar import Litestar
from litestar.config.cors import CORSConfig

from core.ports.metrics import Metrics
from core.ports.transactions import UnitOfWorkFactory
from core.use_cases.complete_chat import CompleteChat
from core.use_cases.recommend_products import RecommendProducts
from core.use_cases.stream_sessions import StreamSessions
from entrypoints.bootstrap.container import build_container
from entrypoints.bootstrap.lifecycle import shutdown_services, startup_services
from entrypoints.bootstrap.logging import configure_logging
from entrypoints.bootstrap.roles import serves_marketplace
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.auth import CALLER_DEPENDENCY, identify_caller
from entrypoints.http.chat_search.controller import SEARCH_KIND, ChatSearchController, SearchStreams
from entrypoints.http.docs import docs_assets_router, openapi_config
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.health import HealthController
from entrypoints.http.marketplace import MARKETPLACE_ROUTES
from entrypoints.http.metrics import MetricsController
from entrypoints.http.openai import OPENAI_ROUTES
from entrypoints.http.openai.completions import TEXT_COMPLETION_KIND, TextCompletionStreams
from entrypoints.http.openai.controller import COMPLETION_KIND
from entrypoints.http.openai.streaming import CompletionStreams
from entrypoints.http.request_context import REQUEST_ID_HEADER, Admission, RequestContext
from entrypoints.http.shutdown import GracefulShutdown
from entrypoints.http.web import MarketplacePage, web_assets_router

logger = structlog.get_logger(__name__)


def cors_config(settings: Settings) -> CORSConfig | None:
    """Cross-origin access only for the origins in ``CORS_ALLOW_ORIGINS``; none when it is unset."""
    if not settings.cors_allow_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_allow_origins),
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID", REQUEST_ID_HEADER],
        expose_headers=["X-Total-Count", "Retry-After", REQUEST_ID_HEADER],
        allow_credentials=False,
    )


async def _supervise_streams(container: AsyncContainer, settings: Settings) -> None:
    """Each endpoint says how its streams end (or continue) when their process died; then the
    sessions start keeping leases and looking for streams of dead processes."""
    sessions = await container.get(StreamSessions)
    sessions.register_kind(COMPLETION_KIND, CompletionStreams(await container.get(CompleteChat)))
    sessions.register_kind(TEXT_COMPLETION_KIND, TextCompletionStreams())
    if serves_marketplace(settings):
        recommend = await container.get(RecommendProducts)
        units = await container.get(UnitOfWorkFactory)
        sessions.register_kind(SEARCH_KIND, SearchStreams(recommend, units, await container.get(Metrics)))
    await sessions.supervise()


def create_app(settings: Settings, container: AsyncContainer | None = None) -> Litestar:
    container = container or build_container(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await startup_services(container, settings)
        await _supervise_streams(container, settings)
        shutdown = GracefulShutdown(app.state.admission, container, settings.shutdown_grace_seconds)
        shutdown.install()
        try:
            yield
        finally:
            shutdown.uninstall()
            await shutdown_services(container)
            await container.close()

    handlers: list[Any] = [HealthController, *OPENAI_ROUTES]
    if settings.metrics_enabled:
        handlers.append(MetricsController)
    marketplace = serves_marketplace(settings)
    if marketplace:
        handlers += [*MARKETPLACE_ROUTES, ChatSearchController]
    router = DishkaRouter("", route_handlers=handlers)
    # The web page at `/` needs the marketplace API; its plugin comes first, so Litestar serves it at the root.
    page_plugins = [MarketplacePage()] if marketplace else []
    app = Litestar(
        route_handlers=[router, docs_assets_router(), *([web_assets_router()] if marketplace else [])],
        lifespan=[lifespan],
        before_request=identify_caller,  # the one authentication: every route states its `access`
        dependencies=CALLER_DEPENDENCY,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=settings.max_body_bytes,
        cors_config=cors_config(settings),
        openapi_config=openapi_config(*page_plugins),
        debug=False,
        logging_config=None,  # structlog is configured by the CLI (entrypoints.bootstrap.logging)
    )
    setup_dishka(container, app)
    # Outermost, so that every response (404s and CORS preflights included) carries a request id.
    app.state.admission = Admission()
    app.asgi_handler = RequestContext(app.asgi_handler, lambda: container.get(Metrics), app.state.admission)
    return app


def create_app_from_env() -> Litestar:
    """The factory each ``WEB_CONCURRENCY`` worker process calls (``marketplace serve`` checked the settings)."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format, secrets=settings.secrets)
    return create_app(settings)
