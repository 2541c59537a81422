"""Translation between OpenAI wire types and the core completion use case."""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec

from core.domain.errors import DomainError, InvalidInput
from core.domain.generation import ChatMessage, TokenLogprob, TokenLogprobs
from core.use_cases.complete_chat import ChatCommand, ChoiceFinished, CompletionEvent, CompletionResult
from entrypoints.http.errors import OPENAI_ERROR_TYPES, status_for
from entrypoints.http.openai.wire import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChoiceLogprobs,
    ChunkChoice,
    ChunkDelta,
    CompletionChoice,
    LogprobEntry,
    ResponseMessage,
    TopLogprob,
    Usage,
)

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MEDIA_PART_TYPES = {
    "image_url",
    "input_image",
    "image",
    "video_url",
    "input_video",
    "video",
    "input_audio",
    "audio",
    "file",
}
MAX_SESSION_ID_LENGTH = 128
# OpenAI's stand-in for the log-probability of a token that cannot be chosen (JSON has no -Infinity).
IMPOSSIBLE_LOGPROB = -9999.0

# Fields that would change behaviour, with the values that mean "off".
_NO_OP_VALUES: dict[str, tuple[Any, ...]] = {
    "tools": (None, []),
    "tool_choice": (None, "none"),
    "functions": (None, []),
    "function_call": (None, "none"),
    "parallel_tool_calls": (None, True, False),
    "response_format": (None, {"type": "text"}),
    "audio": (None,),
    "modalities": (None, ["text"]),
    "prediction": (None,),
    "web_search_options": (None,),
}


def to_command(body: ChatCompletionRequest, request_id: str) -> ChatCommand:
    _refuse_unsupported(body)
    if (
        body.max_tokens is not None
        and body.max_completion_tokens is not None
        and body.max_tokens != body.max_completion_tokens
    ):
        raise InvalidInput(
            "max_tokens and max_completion_tokens disagree; send one of them", field="max_completion_tokens"
        )
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    return ChatCommand(
        messages=to_messages(body.messages),
        model=body.model,
        max_tokens=body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens,
        temperature=body.temperature,
        top_p=1.0 if body.top_p is None else body.top_p,
        top_k=0 if body.top_k in (None, -1) else body.top_k,  # vLLM uses -1 for "off"
        stop=stop,
        seed=body.seed,
        presence_penalty=body.presence_penalty or 0.0,
        frequency_penalty=body.frequency_penalty or 0.0,
        n=1 if body.n is None else body.n,
        request_id=request_id,
        min_p=body.min_p or 0.0,
        repetition_penalty=1.0 if body.repetition_penalty is None else body.repetition_penalty,
        logit_bias=logit_bias(body.logit_bias),
        logprobs=_chat_logprobs(body.logprobs, body.top_logprobs),
    )


def logit_bias(raw: dict[str, float] | None) -> tuple[tuple[int, float], ...]:
    """OpenAI's ``logit_bias``: token ids as strings of digits. The range of the values is the use case's."""
    pairs = []
    for key, value in (raw or {}).items():
        if not key.isdigit():
            raise InvalidInput(f"logit_bias keys must be token ids (digits); got {key!r}", field="logit_bias")
        pairs.append((int(key), float(value)))
    return tuple(pairs)


def _chat_logprobs(logprobs: bool | None, top_logprobs: int | None) -> int | None:
    if top_logprobs is not None and not logprobs:
        raise InvalidInput("top_logprobs requires logprobs: true", field="top_logprobs")
    return (top_logprobs or 0) if logprobs else None


def to_messages(messages: list[Any]) -> tuple[ChatMessage, ...]:
    return tuple(_message(i, m) for i, m in enumerate(messages))


def check_session_id(session_id: str | None) -> str | None:
    if session_id is None:
        return None
    if (
        not session_id
        or len(session_id) > MAX_SESSION_ID_LENGTH
        or not session_id.isprintable()
        or any(c.isspace() for c in session_id)
    ):
        raise InvalidInput(
            f"session_id must be 1 to {MAX_SESSION_ID_LENGTH} printable characters without spaces",
            field="session_id",
        )
    return session_id


def _refuse_unsupported(body: ChatCompletionRequest) -> None:
    for name, allowed in _NO_OP_VALUES.items():
        value = getattr(body, name)
        if value is msgspec.UNSET or any(value == ok for ok in allowed):
            continue
        raise InvalidInput(f"{name} is not supported by this server", field=name, code="unsupported_parameter")


def _message(index: int, message: Any) -> ChatMessage:
    role = ROLES.get(message.role)
    if role is None:
        raise InvalidInput(
            f"messages[{index}].role {message.role!r} is not supported; use system, developer, user or assistant",
            field=f"messages[{index}].role",
        )
    content = message.content
    if content is None:
        if role != "assistant":
            raise InvalidInput(f"messages[{index}].content is required", field=f"messages[{index}].content")
        return ChatMessage(role, "")  # type: ignore[arg-type]
    if isinstance(content, str):
        return ChatMessage(role, content)  # type: ignore[arg-type]
    texts: list[str] = []
    for part_index, part in enumerate(content):
        where = f"messages[{index}].content[{part_index}]"
        kind = part.get("type")
        if kind in MEDIA_PART_TYPES:
            raise InvalidInput(
                f"{where} is of type {kind!r}, but this model is text-only: send text parts only",
                field=where,
                code="unsupported_content",
            )
        if kind != "text" or not isinstance(part.get("text"), str):
            raise InvalidInput(f"{where} must be {{'type': 'text', 'text': '...'}}", field=where)
        texts.append(part["text"])
    return ChatMessage(role, "\n".join(texts))  # type: ignore[arg-type]


def clamped(logprob: float) -> float:
    return max(logprob, IMPOSSIBLE_LOGPROB)


def chat_logprobs(tokens: tuple[TokenLogprobs, ...]) -> ChoiceLogprobs:
    """OpenAI's ``choices[i].logprobs`` (or a chunk's, for the tokens of its delta)."""

    def top(entry: TokenLogprob) -> TopLogprob:
        return TopLogprob(token=entry.token, logprob=clamped(entry.logprob), bytes=list(entry.bytes))

    return ChoiceLogprobs(
        content=[
            LogprobEntry(
                token=t.chosen.token,
                logprob=clamped(t.chosen.logprob),
                bytes=list(t.chosen.bytes),
                top_logprobs=[top(e) for e in t.top],
            )
            for t in tokens
        ]
    )


def completion_body(completion_id: str, result: CompletionResult) -> ChatCompletion:
    return ChatCompletion(
        id=completion_id,
        created=int(time.time()),
        model=result.model_id,
        choices=[
            CompletionChoice(
                index=c.index,
                message=ResponseMessage(role="assistant", content=c.text),
                finish_reason=c.finish_reason,
                logprobs=None if c.logprobs is None else chat_logprobs(c.logprobs),
            )
            for c in result.choices
        ],
        usage=Usage(
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            total_tokens=result.prompt_tokens + result.completion_tokens,
        ),
    )


class ChunkWriter:
    """Renders one completion's events as OpenAI ``chat.completion.chunk`` payloads."""

    def __init__(self, completion_id: str, model_id: str, *, include_usage: bool, created: int | None = None) -> None:
        self._id = completion_id
        self._model = model_id
        self._created = int(time.time()) if created is None else created
        self._include_usage = include_usage

    @property
    def completion_id(self) -> str:
        return self._id

    @property
    def created(self) -> int:
        return self._created

    def _encode(self, choices: list[ChunkChoice], usage: Usage | None = None) -> str:
        chunk = ChatCompletionChunk(id=self._id, created=self._created, model=self._model, choices=choices, usage=usage)
        raw = msgspec.to_builtins(chunk)
        if not self._include_usage:
            raw.pop("usage", None)
        return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))

    def role(self, index: int) -> str:
        return self._encode([ChunkChoice(index=index, delta=ChunkDelta(role="assistant", content=""))])

    def event(self, event: CompletionEvent) -> str:
        if isinstance(event, ChoiceFinished):
            return self._encode([ChunkChoice(index=event.index, delta=ChunkDelta(), finish_reason=event.finish_reason)])
        logprobs = chat_logprobs(event.logprobs) if event.logprobs else None
        return self._encode([ChunkChoice(index=event.index, delta=ChunkDelta(content=event.text), logprobs=logprobs)])

    def finish(self, index: int, reason: str) -> str:
        return self._encode([ChunkChoice(index=index, delta=ChunkDelta(), finish_reason=reason)])

    def usage(self, prompt_tokens: int, completion_tokens: int) -> str:
        return self._encode([], Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens))


INTERRUPTED_MESSAGE = "The process generating this stream stopped before the generation finished"


def interrupted_payload() -> str:
    """The final event of a stream whose generating process died."""
    body = {"message": INTERRUPTED_MESSAGE, "type": "server_error", "param": None, "code": "generation_interrupted"}
    return json.dumps({"error": body}, ensure_ascii=False, separators=(",", ":"))


def error_payload(error: Exception) -> str:
    """The final event of a stream that failed after it started."""
    if isinstance(error, DomainError):
        body = {
            "message": error.message,
            "type": OPENAI_ERROR_TYPES.get(status_for(error), "invalid_request_error"),
            "param": error.field,
            "code": error.code,
        }
    else:
        body = {"message": "The generation failed", "type": "server_error", "param": None, "code": None}
    return json.dumps({"error": body}, ensure_ascii=False, separators=(",", ":"))
