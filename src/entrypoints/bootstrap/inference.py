"""Inference wiring: which language model, which stream store, and the services on top of them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide

from adapters.llm import TransformersLanguageModel, TransformersModelSettings
from adapters.llm.remote import RemoteLanguageModel, RemoteModelSettings
from adapters.streams import build_stream_store
from core.inference.metered import MeteredLanguageModel
from core.ports.language_model import LanguageModel
from core.ports.metrics import NO_METRICS, Metrics
from core.ports.stream_store import StreamStore
from core.use_cases.complete_chat import CompleteChat, CompletionDefaults
from core.use_cases.stream_sessions import SessionPolicy, StreamSessions
from entrypoints.bootstrap.settings import Settings

# The names the seed's README sends in its examples: clients written for it keep working.
SEED_MODEL_ALIASES = ("qwen-local",)


class LanguageModelProvider(Provider):
    scope = Scope.APP

    @provide
    async def language_model(self, settings: Settings, metrics: Metrics) -> AsyncIterator[LanguageModel]:
        # The container owns the model: it is closed when the container closes, never by a caller.
        model = build_language_model(settings, metrics)
        try:
            yield model
        finally:
            await model.close()


def build_language_model(settings: Settings, metrics: Metrics = NO_METRICS) -> LanguageModel:
    """A remote OpenAI-compatible engine when ``LLM_BASE_URL`` is set, else the local model."""
    if settings.llm_base_url is not None:
        return RemoteLanguageModel(
            RemoteModelSettings(
                base_url=settings.llm_base_url,
                api_key=settings.llm_api_key,
                model=settings.llm_model,
                timeout_seconds=settings.llm_timeout_seconds,
                max_connections=settings.llm_max_connections,
                max_queued_requests=settings.max_queued_requests,
                max_context_tokens=settings.max_context_tokens,
            )
        )
    return TransformersLanguageModel(
        TransformersModelSettings(
            model_repo_id=settings.model_repo_id,
            hf_token=settings.hf_token,
            torch_dtype=settings.torch_dtype,
            device_map=settings.device_map,
            cache_dir=settings.model_cache_dir,
            max_batch_size=settings.max_batch_size,
            max_queued_requests=settings.max_queued_requests,
            max_context_tokens=settings.max_context_tokens,
            weight_quant=settings.weight_quant,
            native_decode=settings.native_decode,
            max_prefill_tokens_per_step=settings.max_prefill_tokens_per_step,
            prefix_cache_tokens=settings.prefix_cache_tokens,
        ),
        metrics,
    )


class StreamingProvider(Provider):
    scope = Scope.APP

    @provide
    async def stream_store(self, settings: Settings) -> AsyncIterator[StreamStore]:
        store = build_stream_store(
            settings.session_store,
            buffer_events=settings.session_buffer_events,
            ttl_seconds=settings.sessions_ttl_seconds,
            sqlite_path=settings.sessions_db_path,
            redis_url=settings.redis_url,
            lease_seconds=settings.stream_lease_seconds,
            redis_max_connections=settings.redis_max_connections,
        )
        await store.start()
        try:
            yield store
        finally:
            await store.close()

    @provide
    async def stream_sessions(
        self, store: StreamStore, settings: Settings, metrics: Metrics
    ) -> AsyncIterator[StreamSessions]:
        lease = settings.stream_lease_seconds
        policy = SessionPolicy(
            cancel_after_disconnect_seconds=settings.cancel_after_disconnect_seconds,
            lease_renew_seconds=min(1.0, lease / 4),
            lease_check_seconds=min(1.0, lease / 4),
            takeover=settings.stream_takeover,
        )
        sessions = StreamSessions(store, policy, metrics)
        try:
            yield sessions
        finally:
            await sessions.close()

    @provide
    def complete_chat(self, model: LanguageModel, settings: Settings, metrics: Metrics) -> CompleteChat:
        aliases = (settings.served_model_name,) if settings.served_model_name else ()
        return CompleteChat(
            metered(model, metrics),
            CompletionDefaults(
                settings.max_tokens,
                settings.temperature,
                aliases,
                SEED_MODEL_ALIASES,
                max_batch_size=settings.max_batch_size,
            ),
        )


def metered(model: LanguageModel, metrics: Metrics) -> LanguageModel:
    """What the use cases see: the model (the configured one, or a test's override) reporting its generations."""
    return MeteredLanguageModel(model, metrics)
