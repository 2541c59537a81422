"""The composition root: the only place that decides which adapter serves which port."""

from __future__ import annotations

from dishka import AsyncContainer, Provider, Scope, from_context, make_async_container
from dishka.integrations.litestar import LitestarProvider

from entrypoints.bootstrap.ai_search import AiSearchProvider
from entrypoints.bootstrap.database import DatabaseProvider
from entrypoints.bootstrap.inference import LanguageModelProvider, StreamingProvider
from entrypoints.bootstrap.marketplace import MarketplaceProvider
from entrypoints.bootstrap.observability import MetricsProvider, ReadinessProvider
from entrypoints.bootstrap.settings import Settings


class SettingsProvider(Provider):
    settings = from_context(provides=Settings, scope=Scope.APP)


def production_providers() -> list[Provider]:
    """Every provider of the running service, in one list that tests extend with overrides."""
    return [
        SettingsProvider(),
        MetricsProvider(),
        DatabaseProvider(),
        MarketplaceProvider(),
        LanguageModelProvider(),
        StreamingProvider(),
        AiSearchProvider(),
        ReadinessProvider(),
    ]


def build_container(settings: Settings, *overrides: Provider) -> AsyncContainer:
    """Production providers plus optional overrides (later providers win)."""
    return make_async_container(*production_providers(), LitestarProvider(), *overrides, context={Settings: settings})
