"""A ``LanguageModel`` that reports every generation to the ``Metrics`` port, whatever engine is behind it.

Times are taken as the consumer receives the events: time to first token from the ``generate`` call
(queueing and prefill included), the gap between consecutive tokens, and the whole generation. Token
counts are the ones the API reports in ``usage``: the prompt once per request (the other choices of an
``n > 1`` request share it), and the generated tokens of every choice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

from core.domain.errors import Overloaded, Unavailable
from core.domain.generation import (
    ChatMessage,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    ModelInfo,
    PromptAccepted,
    TokenGenerated,
    ToolSpec,
)
from core.ports.language_model import LanguageModel
from core.ports.metrics import Metrics

logger = logging.getLogger(__name__)


class MeteredLanguageModel:
    def __init__(self, model: LanguageModel, metrics: Metrics, clock: Callable[[], float] = time.perf_counter) -> None:
        self._model = model
        self._metrics = metrics
        self._clock = clock

    def info(self) -> ModelInfo:
        return self._model.info()

    async def start(self) -> None:
        await self._model.start()

    async def close(self) -> None:
        await self._model.close()

    async def count_prompt_tokens(self, messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...] = ()) -> int:
        return await self._model.count_prompt_tokens(messages, tools)

    async def count_text_tokens(self, text: str) -> int:
        return await self._model.count_text_tokens(text)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        metrics, clock = self._metrics, self._clock
        started = clock()
        last_token: float | None = None
        first_token: float | None = None
        accepted: PromptAccepted | None = None
        finished: GenerationFinished | None = None
        seen_tokens = 0
        texts: list[str] = []
        failed = False
        try:
            async with aclosing(self._model.generate(request)) as events:  # type: ignore[type-var]
                async for event in events:
                    if isinstance(event, TokenGenerated):
                        now = clock()
                        if last_token is None:
                            first_token = now
                            metrics.time_to_first_token(now - started)
                        else:
                            metrics.inter_token_latency(now - last_token)
                        last_token = now
                        seen_tokens += 1
                        if request.stop:
                            texts.append(event.text)
                    elif isinstance(event, GenerationFinished):
                        finished = event
                    elif isinstance(event, PromptAccepted):
                        accepted = event
                    yield event
        except Overloaded:
            failed = True
            metrics.request_rejected("overloaded")
            raise
        except Unavailable:
            failed = True
            if accepted is None:
                metrics.request_rejected("unavailable")
            raise
        except Exception:
            failed = True
            raise
        finally:
            if accepted is not None:
                self._record(request, accepted, finished, seen_tokens, texts, failed, started, first_token)

    def _record(
        self,
        request: GenerationRequest,
        accepted: PromptAccepted,
        finished: GenerationFinished | None,
        seen_tokens: int,
        texts: list[str],
        failed: bool,
        started: float,
        first_token: float | None,
    ) -> None:
        generated = finished.completion_tokens if finished is not None else seen_tokens
        reported = finished.prompt_tokens if finished is not None else None  # a remote engine's usage
        prompt_tokens = accepted.prompt_tokens if reported is None else reported
        prompt = prompt_tokens if request.choice_index == 0 else 0
        self._metrics.tokens(prompt, generated)
        if finished is not None:
            reason = finished.reason
        elif failed:
            reason = "error"
        elif request.stop and _ends_on_stop("".join(texts), request.stop):
            reason = "stop"  # the consumer closed it on a stop string: a normal end
        else:
            reason = "cancelled"
        elapsed = self._clock() - started
        if reason == "cancelled":
            self._metrics.request_cancelled()
        elif reason != "error":
            self._metrics.generation_finished(elapsed)
        logger.info(
            "llm.generation.finished",
            extra={
                "generation_id": request.request_id,
                "finish_reason": reason,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": generated,
                "ttft_ms": None if first_token is None else round((first_token - started) * 1000, 1),
                "duration_ms": round(elapsed * 1000, 1),
            },
        )


def _ends_on_stop(text: str, stop: tuple[str, ...]) -> bool:
    return any(s in text for s in stop)
