"""Inference wiring: which language model, which stream store, and the services on top of them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide

from adapters.llm import TransformersLanguageModel, TransformersModelSettings
from adapters.streams import build_stream_store
from core.ports.language_model import LanguageModel
from core.ports.stream_store import StreamStore
from core.use_cases.complete_chat import CompleteChat, CompletionDefaults
from core.use_cases.stream_sessions import SessionPolicy, StreamSessions
from entrypoints.bootstrap.settings import Settings


class LanguageModelProvider(Provider):
    scope = Scope.APP

    @provide
    async def language_model(self, settings: Settings) -> AsyncIterator[LanguageModel]:
        # The container owns the model: it is closed when the container closes, never by a caller.
        model = TransformersLanguageModel(
            TransformersModelSettings(
                model_repo_id=settings.model_repo_id,
                hf_token=settings.hf_token,
                torch_dtype=settings.torch_dtype,
                device_map=settings.device_map,
                cache_dir=settings.model_cache_dir,
                max_batch_size=settings.max_batch_size,
                max_queued_requests=settings.max_queued_requests,
            )
        )
        try:
            yield model
        finally:
            await model.close()


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
        )
        await store.start()
        try:
            yield store
        finally:
            await store.close()

    @provide
    async def stream_sessions(self, store: StreamStore, settings: Settings) -> AsyncIterator[StreamSessions]:
        sessions = StreamSessions(
            store, SessionPolicy(cancel_after_disconnect_seconds=settings.cancel_after_disconnect_seconds)
        )
        try:
            yield sessions
        finally:
            await sessions.close()

    @provide
    def complete_chat(self, model: LanguageModel, settings: Settings) -> CompleteChat:
        aliases = (settings.served_model_name,) if settings.served_model_name else ()
        return CompleteChat(model, CompletionDefaults(settings.max_tokens, settings.temperature, aliases))
