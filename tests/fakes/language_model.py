"""A hand-written fake of the LanguageModel port: scripted replies, no torch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from core.domain.errors import InvalidInput, Overloaded
from core.domain.generation import (
    ChatMessage,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    ModelInfo,
    PromptAccepted,
    TokenGenerated,
    TokenLogprob,
    TokenLogprobs,
    ToolSpec,
)


def _words(text: str) -> list[str]:
    """Split into word tokens that keep their leading space, so joining them restores the text."""
    pieces: list[str] = []
    for index, word in enumerate(text.split(" ")):
        pieces.append(word if index == 0 else " " + word)
    return [p for p in pieces if p]


def _logprobs(request: GenerationRequest, text: str) -> TokenLogprobs | None:
    """Scripted log-probabilities: the word itself is the likeliest token, then ``alt0``, ``alt1``..."""
    wanted = request.sampling.logprobs
    if wanted is None:
        return None
    chosen = TokenLogprob(text, tuple(text.encode()), -0.25)
    others = [TokenLogprob(f"alt{i}", tuple(f"alt{i}".encode()), -2.0 - i) for i in range(max(wanted - 1, 0))]
    return TokenLogprobs(chosen, tuple([chosen, *others][:wanted]))


class FakeLanguageModel:
    """Answers every request with ``reply(request)`` split into word tokens.

    ``step_delay`` simulates decode time so tests can cut streams mid-way; ``fail_with`` makes every
    generation raise; ``requests`` records what was asked; ``cancelled`` counts closed generations.
    ``active`` counts the batch rows held now (admitted, not yet finished or closed); with ``capacity``
    set, a generation beyond it is refused with ``Overloaded``, like a full engine.
    """

    def __init__(
        self,
        reply: Callable[[GenerationRequest], str] | str = "Hello from the fake model.",
        *,
        model_id: str = "fake/model",
        context_length: int = 2048,
        step_delay: float = 0.0,
        fail_with: Exception | None = None,
        capacity: int | None = None,
        reported_prompt_tokens: int | None = None,
        vocab_size: int | None = None,
    ) -> None:
        self._reply = reply if callable(reply) else (lambda _request, text=reply: text)
        self.model_id = model_id
        self.context_length = context_length
        self.step_delay = step_delay
        self.fail_with = fail_with
        self.reported_prompt_tokens = reported_prompt_tokens  # as a remote engine's usage reports it
        self.requests: list[GenerationRequest] = []
        self.cancelled = 0
        self.active = 0
        self.capacity = capacity
        self.started = False
        self.vocab_size = vocab_size

    def info(self) -> ModelInfo:
        return ModelInfo(
            model_id=self.model_id, context_length=self.context_length, ready=True, vocab_size=self.vocab_size
        )

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        return None

    async def count_prompt_tokens(self, messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...] = ()) -> int:
        return sum(len(_words(m.content)) + 3 for m in messages) + 1 + sum(10 for _ in tools)

    async def count_text_tokens(self, text: str) -> int:
        return len(_words(text)) or 1

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        if self.fail_with is not None:
            raise self.fail_with
        if request.prompt_text is None:
            prompt_tokens = await self.count_prompt_tokens(request.messages, request.tools)
        else:
            prompt_tokens = await self.count_text_tokens(request.prompt_text)
        if prompt_tokens + request.sampling.max_tokens > self.context_length:
            raise InvalidInput(
                f"prompt has {prompt_tokens} tokens and max_tokens is {request.sampling.max_tokens}, "
                f"more than the context length {self.context_length}",
                field="messages",
            )
        if self.capacity is not None and self.active >= self.capacity:
            raise Overloaded("the fake engine is full")
        self.requests.append(request)
        tokens = _words(self._reply(request))
        produced = 0
        if request.continuation:  # a takeover: the reply goes on after the words already streamed
            produced = len(_words(request.continuation))
            tokens = tokens[produced:]
        reason = "stop"
        self.active += 1
        try:
            yield PromptAccepted(prompt_tokens=prompt_tokens)
            for token_id, text in enumerate(tokens):
                if produced >= request.sampling.max_tokens:
                    reason = "length"
                    break
                if self.step_delay:
                    await asyncio.sleep(self.step_delay)
                produced += 1
                yield TokenGenerated(token_id=token_id, text=text, logprobs=_logprobs(request, text))
        except (GeneratorExit, asyncio.CancelledError):
            self.cancelled += 1  # closed before it finished: the engine would free the slot
            raise
        finally:
            self.active -= 1
        yield GenerationFinished(reason=reason, completion_tokens=produced, prompt_tokens=self.reported_prompt_tokens)  # type: ignore[arg-type]
