"""Start-up and shutdown of the long-lived services held in the APP scope."""

from __future__ import annotations

import gc

import structlog
from dishka import AsyncContainer

from core.ports.language_model import LanguageModel
from core.use_cases.stream_sessions import StreamSessions
from entrypoints.bootstrap.settings import Settings

logger = structlog.get_logger(__name__)


async def startup_services(container: AsyncContainer, settings: Settings) -> None:
    if settings.admin_api_key is None:
        logger.warning(
            "security.admin_key_missing",
            detail="ADMIN_API_KEY is not set: ai_access_enabled is taken as given at user registration",
        )
    model = await container.get(LanguageModel)
    if settings.eager_load_model:
        await model.start()
        info = model.info()
        logger.info("llm.model.loaded", model_id=info.model_id, ready=info.ready, error=info.error)
    # Everything built so far (modules, the model if loaded now) lives as long as the process: the collector
    # stops walking it, so a full collection while serving takes microseconds, not tens of milliseconds.
    # A model loaded later (at its first request) freezes what its loading made (``release_memory``).
    gc.freeze()


async def shutdown_services(container: AsyncContainer) -> None:
    """Generations still streaming are cancelled so their followers end; the container then closes
    the model, the stream store and the database engine it owns."""
    sessions = await container.get(StreamSessions)
    await sessions.close()
