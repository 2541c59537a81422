"""The language model port: anything that turns chat messages (or a raw prompt) into a stream of tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from core.domain.generation import ChatMessage, GenerationEvent, GenerationRequest, ModelInfo, ToolSpec


class LanguageModel(Protocol):
    """A chat model with a batching engine behind it.

    ``generate`` yields ``PromptAccepted`` first, then ``TokenGenerated`` events, then exactly one
    ``GenerationFinished``. Closing the iterator early (``aclose()`` or leaving an ``async for``)
    cancels the request and frees its batch slot within one decode step. A request with ``prompt_text``
    is generated from that text as it is (legacy completions), without the chat template.

    Raises (before the first event): ``InvalidInput(field="messages")`` with both numbers when
    prompt plus ``max_tokens`` exceed the context, ``Overloaded`` when the queue is full,
    ``Unavailable`` when the model cannot load.
    """

    def info(self) -> ModelInfo: ...

    async def start(self) -> None:
        """Load the model (off the event loop). Idempotent; failures are reported by ``info``."""

    async def close(self) -> None: ...

    async def count_prompt_tokens(self, messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...] = ()) -> int:
        """Tokens of the prompt after the chat template, generation prompt included (``tools``: the
        functions offered, rendered as ``generate`` renders ``GenerationRequest.tools``)."""

    async def count_text_tokens(self, text: str) -> int:
        """Tokens of a raw prompt (``GenerationRequest.prompt_text``: no chat template)."""

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]: ...
