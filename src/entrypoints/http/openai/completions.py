"""``POST /v1/completions``: OpenAI's legacy text completions, on the same engine, use case and stream
machinery as chat (resumable with ``Last-Event-ID``, cancellable with ``POST /v1/cancel/{session_id}``,
under the same ``/v1`` auth and stream ownership).

The prompt is raw text (no chat template). A list of prompts gives ``n`` choices per prompt, choice
``k * n + i`` being choice ``i`` of prompt ``k`` (OpenAI's indexing).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, ClassVar, Literal

import msgspec
import structlog
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, post
from litestar.params import Parameter
from litestar.response import Stream

from core.domain.caller import Caller
from core.domain.errors import InvalidInput
from core.domain.generation import TokenLogprobs
from core.domain.streams import StreamClaim, new_session_id
from core.use_cases.authenticate import Access
from core.use_cases.complete_chat import (
    ChatCommand,
    ChoiceFinished,
    CompleteChat,
    CompletionResult,
    PreparedCompletion,
    all_prompt_tokens,
)
from core.use_cases.stream_sessions import Producer, StreamSessions
from entrypoints.http.auth import ACCESS
from entrypoints.http.disconnect import unless_disconnected
from entrypoints.http.openai.controller import completion_stream, resume_response
from entrypoints.http.openai.streaming import ChoiceEvents
from entrypoints.http.openai.translate import (
    check_session_id,
    clamped,
    error_payload,
    interrupted_payload,
    logit_bias,
)
from entrypoints.http.openai.wire import StreamOptions, Usage
from entrypoints.http.request_context import request_id
from entrypoints.http.sse import prime, sse_response

logger = structlog.get_logger(__name__)

TEXT_COMPLETION_KIND = "text_completion"
DEFAULT_MAX_TOKENS = 16  # OpenAI's default for this endpoint
MAX_LOGPROBS = 5  # OpenAI's limit for the legacy ``logprobs``
MAX_PROMPTS = 16


class TextCompletionRequest(msgspec.Struct, omit_defaults=True):
    """The request body of ``POST /v1/completions`` (``session_id``: as on chat completions)."""

    prompt: str | list[Any]  # strings; token-id prompts are refused by name
    model: str | None = None
    suffix: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    n: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: int | None = None
    echo: bool = False
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    best_of: int | None = None
    logit_bias: dict[str, float] | None = None
    seed: int | None = None
    user: str | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    session_id: str | None = None


class TextLogprobs(msgspec.Struct):
    """The legacy shape: parallel lists, ``text_offset`` in characters of the choice's text."""

    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]


class TextChoice(msgspec.Struct):
    text: str
    index: int
    logprobs: TextLogprobs | None
    finish_reason: str | None


class TextCompletion(msgspec.Struct):
    id: str
    created: int
    model: str
    choices: list[TextChoice]
    usage: Usage | None
    object: Literal["text_completion"] = "text_completion"
    system_fingerprint: str | None = None


def to_commands(body: TextCompletionRequest, request_id: str) -> list[ChatCommand]:
    """One command per prompt; the checks that the chat use case does not know."""
    if body.suffix is not None:
        raise InvalidInput("suffix is not supported by this server", field="suffix", code="unsupported_parameter")
    n = 1 if body.n is None else body.n
    if body.best_of is not None and body.best_of != n:
        raise InvalidInput("best_of is not supported by this server (only best_of == n)", field="best_of")
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if not prompts or len(prompts) > MAX_PROMPTS:
        raise InvalidInput(f"prompt must be a string or a list of 1 to {MAX_PROMPTS} strings", field="prompt")
    if not all(isinstance(p, str) for p in prompts):
        raise InvalidInput("prompt must be text: token-id prompts are not supported", field="prompt")
    if any(not p for p in prompts):
        raise InvalidInput("prompt must not be empty", field="prompt")
    if body.logprobs is not None and not 0 <= body.logprobs <= MAX_LOGPROBS:
        raise InvalidInput(f"logprobs must be between 0 and {MAX_LOGPROBS}", field="logprobs")
    if body.echo and body.logprobs is not None:
        raise InvalidInput(
            "echo with logprobs is not supported: this server does not compute the prompt's log-probabilities",
            field="echo",
        )
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    return [
        ChatCommand(
            messages=(),
            prompt=prompt,
            model=body.model,
            max_tokens=DEFAULT_MAX_TOKENS if body.max_tokens is None else body.max_tokens,
            temperature=body.temperature,
            top_p=1.0 if body.top_p is None else body.top_p,
            top_k=0 if body.top_k in (None, -1) else body.top_k,
            stop=stop,
            seed=body.seed,
            presence_penalty=body.presence_penalty or 0.0,
            frequency_penalty=body.frequency_penalty or 0.0,
            n=n,
            request_id=request_id,
            min_p=body.min_p or 0.0,
            repetition_penalty=1.0 if body.repetition_penalty is None else body.repetition_penalty,
            logit_bias=logit_bias(body.logit_bias),
            logprobs=body.logprobs,
        )
        for prompt in prompts
    ]


def text_logprobs(tokens: Sequence[TokenLogprobs], text: str, offset: int) -> TextLogprobs:
    """The legacy logprobs of ``tokens``, which produced ``text`` starting at character ``offset``. Each
    ``top_logprobs`` dict holds the top tokens and the sampled one (OpenAI: up to ``logprobs + 1``)."""
    offsets, consumed = [], 0
    for token in tokens:
        offsets.append(offset + min(consumed, len(text)))
        consumed += len(token.chosen.token)
    tops = []
    for token in tokens:
        top = {entry.token: clamped(entry.logprob) for entry in token.top}
        top.setdefault(token.chosen.token, clamped(token.chosen.logprob))
        tops.append(top)
    return TextLogprobs(
        tokens=[t.chosen.token for t in tokens],
        token_logprobs=[clamped(t.chosen.logprob) for t in tokens],
        top_logprobs=tops,
        text_offset=offsets,
    )


def completion_body(completion_id: str, result: CompletionResult, prompts: Sequence[str], echo: bool) -> TextCompletion:
    n = len(result.choices) // len(prompts)
    choices = []
    for c in result.choices:
        prefix = prompts[c.index // n] if echo else ""
        logprobs = None if c.logprobs is None else text_logprobs(c.logprobs, c.text, len(prefix))
        choices.append(
            TextChoice(text=prefix + c.text, index=c.index, logprobs=logprobs, finish_reason=c.finish_reason)
        )
    usage = Usage(result.prompt_tokens, result.completion_tokens, result.prompt_tokens + result.completion_tokens)
    return TextCompletion(
        id=completion_id, created=int(time.time()), model=result.model_id, choices=choices, usage=usage
    )


class TextChunkWriter:
    """Renders one legacy completion's events as ``text_completion`` chunks (OpenAI streams the same object)."""

    def __init__(self, completion_id: str, model_id: str, *, include_usage: bool) -> None:
        self._id = completion_id
        self._model = model_id
        self._created = int(time.time())
        self._include_usage = include_usage
        self._offsets: dict[int, int] = {}  # characters of each choice's text so far

    def _encode(self, choices: list[TextChoice], usage: Usage | None = None) -> str:
        chunk = TextCompletion(id=self._id, created=self._created, model=self._model, choices=choices, usage=usage)
        raw = msgspec.to_builtins(chunk)
        if not self._include_usage:
            raw.pop("usage", None)
        return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))

    def text(self, index: int, text: str, logprobs: Sequence[TokenLogprobs] | None = None) -> str:
        offset = self._offsets.get(index, 0)
        self._offsets[index] = offset + len(text)
        rendered = None if logprobs is None else text_logprobs(logprobs, text, offset)
        return self._encode([TextChoice(text=text, index=index, logprobs=rendered, finish_reason=None)])

    def finish(self, index: int, reason: str) -> str:
        return self._encode([TextChoice(text="", index=index, logprobs=None, finish_reason=reason)])

    def usage(self, prompt_tokens: int, completion_tokens: int) -> str:
        return self._encode([], Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens))


def text_completion_producer(
    events: AsyncIterator[Any],
    writer: TextChunkWriter,
    prepared: Sequence[PreparedCompletion],
    *,
    echo: bool,
    include_usage: bool,
) -> Producer:
    """The chunks of a streamed legacy completion (the echoed prompt first, when asked)."""
    n = prepared[0].command.n
    reported = prepared[0].command.logprobs is not None

    def render(event: Any) -> str:
        if isinstance(event, ChoiceFinished):
            return writer.finish(event.index, event.finish_reason)
        return writer.text(event.index, event.text, event.logprobs if reported else None)

    async def produce(cancel: asyncio.Event) -> AsyncIterator[str]:
        choices = range(len(prepared) * n)
        stream = ChoiceEvents(events, choices)
        first = (writer.text(index, prepared[index // n].command.prompt or "") for index in choices if echo)
        async for chunk in stream.chunks(cancel, first, render, writer.finish):
            yield chunk
        if include_usage and not stream.failed:
            finished = {f.index: f for f in stream.finished}
            completion_tokens = sum(f.completion_tokens for f in finished.values())
            yield writer.usage(all_prompt_tokens(prepared, finished), completion_tokens)

    return produce


class TextCompletionStreams:
    """The ``StreamKind`` of legacy completion streams: one whose process died ends with
    ``generation_interrupted`` (they are not taken over)."""

    def interrupted(self) -> Sequence[str]:
        return [interrupted_payload()]

    def failure(self, error: Exception) -> str:
        return error_payload(error)

    async def take_over(self, claim: StreamClaim, events: Sequence[str]) -> Producer | None:
        return None


class TextCompletionController(Controller):
    path = "/v1/completions"
    tags = ["openai"]
    opt: ClassVar[dict[str, Any]] = {ACCESS: Access.INFERENCE}

    @post(
        status_code=200,
        summary="Create a text completion (OpenAI's legacy completions; SSE when stream is true)",
        description=(
            "The prompt is raw text (no chat template). `suffix` is refused; `echo` cannot be combined with "
            "`logprobs`. `session_id`, `Last-Event-ID` and `POST /v1/cancel/{session_id}` work as on chat "
            "completions. `top_k`, `min_p` and `repetition_penalty` are accepted."
        ),
        response_description="A text_completion object, or an SSE stream of text_completion chunks",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        caller: Caller,
        data: TextCompletionRequest,
        chat: FromDishka[CompleteChat],
        sessions: FromDishka[StreamSessions],
        last_event_id_header: Annotated[str | None, Parameter(header="Last-Event-ID", required=False)] = None,
        last_event_id: Annotated[str | None, Parameter(query="last_event_id", required=False)] = None,
    ) -> TextCompletion | Stream:
        session_id = check_session_id(data.session_id)
        owner = caller.stream_owner
        resume_from = last_event_id_header or last_event_id
        if resume_from:
            return await resume_response(sessions, owner, session_id, resume_from)
        commands = to_commands(data, request_id=request_id(request) or uuid.uuid4().hex)
        prompts = [c.prompt or "" for c in commands]
        if not data.stream:
            if data.stream_options is not None:
                raise InvalidInput("stream_options is only allowed when stream is true", field="stream_options")
            prepared = [await chat.prepare(c) for c in commands]
            result = await unless_disconnected(request, chat.complete_all(prepared))
            return completion_body(f"cmpl-{uuid.uuid4().hex}", result, prompts, data.echo)
        include_usage = bool(data.stream_options and data.stream_options.include_usage)
        stream = completion_stream(session_id or new_session_id("cmpl-"))
        metadata = {"kind": TEXT_COMPLETION_KIND, "model": chat.served_model_ids()[0]}
        async with sessions.reserve(stream, owner, metadata) as reservation:
            prepared = [await chat.prepare(c) for c in commands]
            writer = TextChunkWriter(f"cmpl-{uuid.uuid4().hex}", prepared[0].model_id, include_usage=include_usage)
            events = await chat.stream_all(prepared)
            sessions.start(
                reservation,
                text_completion_producer(events, writer, prepared, echo=data.echo, include_usage=include_usage),
                on_failure=error_payload,
            )
        return sse_response(stream.session_id, await prime(sessions.follow(stream, owner)))
