"""``/v1`` streams: the producer of the chunks, and what happens when its process died (the stream
ends with ``generation_interrupted``, or another process continues it).

The request is kept with the stream (``saved_request``); the process that takes the stream over reads
back the chunks already streamed, prepares the same request again and lets every open choice go on
after its text, under the same completion id, so the client sees one stream that paused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import msgspec
import structlog

from core.domain.errors import DomainError
from core.domain.generation import ChatMessage, OutputConstraint
from core.domain.streams import StreamClaim
from core.inference.racing import Cancelled, until_cancelled
from core.use_cases.complete_chat import (
    ChatCommand,
    ChoiceFinished,
    CompleteChat,
    PreparedCompletion,
    reported_prompt_tokens,
)
from core.use_cases.stream_sessions import Producer
from entrypoints.http.openai.translate import ChunkWriter, error_payload, interrupted_payload

logger = structlog.get_logger(__name__)


class ChoiceEvents:
    """How every streamed completion (chat and legacy) ends, written once: the generations' events as
    chunks; on cancel, a ``cancelled`` finish for each choice still open; on a failure, one error chunk
    (``failed`` is then set and nothing more is written); the generations closed however it ends."""

    def __init__(self, events: AsyncIterator[Any], open_choices: Iterable[int]) -> None:
        self._events = events
        self.open_choices = set(open_choices)
        self.finished: list[ChoiceFinished] = []
        self.failed = False

    async def chunks(
        self,
        cancel: asyncio.Event,
        first: Iterable[str],
        render: Callable[[Any], str],
        finish: Callable[[int, str], str],
    ) -> AsyncIterator[str]:
        try:
            for chunk in first:
                yield chunk
            async for event in until_cancelled(self._events, cancel):
                if isinstance(event, ChoiceFinished):
                    self.open_choices.discard(event.index)
                    self.finished.append(event)
                yield render(event)
        except Cancelled:
            for index in sorted(self.open_choices):
                yield finish(index, "cancelled")
        except DomainError as error:
            self.failed = True
            yield error_payload(error)
        except Exception as error:
            logger.exception("llm.stream.failed")
            self.failed = True
            yield error_payload(error)
        finally:
            # The generations are closed however the stream ends, even before its first event is stored.
            await self._events.aclose()  # type: ignore[attr-defined]


def completion_producer(
    events: AsyncIterator[Any],
    writer: ChunkWriter,
    prepared: PreparedCompletion,
    include_usage: bool,
    *,
    open_choices: Iterable[int] | None = None,
    announce: Iterable[int] | None = None,
    counted_tokens: int = 0,
) -> Producer:
    """The chunks of a streamed completion. A takeover passes the choices still open, the role chunks
    not sent yet and the completion tokens of the choices that finished before it."""
    choices = range(prepared.command.n)
    still_open = list(choices if open_choices is None else open_choices)
    roles = list(choices if announce is None else announce)

    async def produce(cancel: asyncio.Event) -> AsyncIterator[str]:
        stream = ChoiceEvents(events, still_open)
        first = (writer.role(index) for index in roles)
        async for chunk in stream.chunks(cancel, first, writer.event, writer.finish):
            yield chunk
        if include_usage and not stream.failed:
            completion_tokens = counted_tokens + sum(f.completion_tokens for f in stream.finished)
            yield writer.usage(reported_prompt_tokens(prepared, stream.finished), completion_tokens)

    return produce


class SavedCompletion(msgspec.Struct, frozen=True):
    """What a takeover needs: the request as prepared, and how its chunks were written."""

    messages: list[tuple[str, str]]
    model: str | None
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    stop: list[str]
    seed: int | None
    presence_penalty: float
    frequency_penalty: float
    n: int
    request_id: str
    include_usage: bool
    completion_id: str
    created: int
    model_id: str
    # Added later: defaults, so requests saved by an older process still decode.
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    logit_bias: list[tuple[int, float]] = []
    logprobs: int | None = None
    # The response_format grammar (JSON Schema text; "" for json_object), None when unconstrained.
    json_schema: str | None = None
    # Streams with tool calls are not continued by another process: they end with generation_interrupted.
    calls_tools: bool = False


def saved_request(prepared: PreparedCompletion, writer: ChunkWriter, include_usage: bool) -> str:
    command, sampling = prepared.command, prepared.sampling
    saved = SavedCompletion(
        messages=[(m.role, m.content) for m in command.messages],
        model=command.model,
        max_tokens=sampling.max_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        stop=list(command.stop),
        seed=sampling.seed,
        presence_penalty=sampling.presence_penalty,
        frequency_penalty=sampling.frequency_penalty,
        n=command.n,
        request_id=command.request_id,
        include_usage=include_usage,
        completion_id=writer.completion_id,
        created=writer.created,
        model_id=prepared.model_id,
        min_p=sampling.min_p,
        repetition_penalty=sampling.repetition_penalty,
        logit_bias=list(sampling.logit_bias),
        logprobs=sampling.logprobs,
        json_schema=command.constraint.json_schema if command.constraint and not command.calls_tools else None,
        calls_tools=command.calls_tools or any(m.tool_calls or m.role == "tool" for m in command.messages),
    )
    return msgspec.json.encode(saved).decode()


class _Streamed:
    """What the chunks so far say about each choice."""

    def __init__(self, events: Sequence[str]) -> None:
        self.texts: dict[int, list[str]] = {}
        self.finished: set[int] = set()
        self.announced: set[int] = set()
        self.ended = False  # a usage chunk or an error: nothing is left to continue
        for data in events:
            chunk = json.loads(data)
            if "error" in chunk or chunk.get("usage"):
                self.ended = True
            for choice in chunk.get("choices") or ():
                index = int(choice["index"])
                delta = choice.get("delta") or {}
                if delta.get("role"):
                    self.announced.add(index)
                if delta.get("content"):
                    self.texts.setdefault(index, []).append(delta["content"])
                if choice.get("finish_reason"):
                    self.finished.add(index)


class CompletionStreams:
    """The ``StreamKind`` of ``/v1`` chat completion streams."""

    def __init__(self, chat: CompleteChat) -> None:
        self._chat = chat

    def interrupted(self) -> Sequence[str]:
        return [interrupted_payload()]

    def failure(self, error: Exception) -> str:
        return error_payload(error)

    async def take_over(self, claim: StreamClaim, events: Sequence[str]) -> Producer | None:
        if claim.request is None:
            return None
        saved = msgspec.json.decode(claim.request, type=SavedCompletion)
        if saved.calls_tools:
            return None
        streamed = _Streamed(events)
        if streamed.ended:
            return _nothing
        command = ChatCommand(
            messages=tuple(ChatMessage(role, content) for role, content in saved.messages),  # type: ignore[arg-type]
            model=saved.model,
            max_tokens=saved.max_tokens,
            temperature=saved.temperature,
            top_p=saved.top_p,
            top_k=saved.top_k,
            stop=tuple(saved.stop),
            seed=saved.seed,
            presence_penalty=saved.presence_penalty,
            frequency_penalty=saved.frequency_penalty,
            n=saved.n,
            request_id=saved.request_id,
            min_p=saved.min_p,
            repetition_penalty=saved.repetition_penalty,
            logit_bias=tuple((token, bias) for token, bias in saved.logit_bias),
            logprobs=saved.logprobs,
            constraint=None if saved.json_schema is None else OutputConstraint("json", json_schema=saved.json_schema),
        )
        prepared = await self._chat.prepare(command)
        choices = range(saved.n)
        open_texts = {i: "".join(streamed.texts.get(i, [])) for i in choices if i not in streamed.finished}
        writer = ChunkWriter(
            saved.completion_id, saved.model_id, include_usage=saved.include_usage, created=saved.created
        )
        # Choices that finished before the takeover: one chunk per token, as this engine streams them.
        counted = sum(len(streamed.texts.get(i, [])) for i in streamed.finished)
        generation = (
            await self._chat.continue_stream(prepared, open_texts, claim.next_index) if open_texts else _empty()
        )
        return completion_producer(
            generation,
            writer,
            prepared,
            saved.include_usage,
            open_choices=open_texts,
            announce=[i for i in choices if i not in streamed.announced],
            counted_tokens=counted,
        )


async def _empty() -> AsyncIterator[object]:
    return
    yield


async def _nothing(_cancel: object) -> AsyncIterator[str]:
    return
    yield
