"""Translation between OpenAI wire types and the core completion use case."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import msgspec

from core.domain.errors import DomainError, InvalidInput
from core.domain.generation import ChatMessage, OutputConstraint, TokenLogprob, TokenLogprobs, ToolCall, ToolSpec
from core.inference.json_schema import unsupported_features
from core.use_cases.complete_chat import (
    ChatCommand,
    ChoiceFinished,
    CompletionEvent,
    CompletionResult,
    ToolCallDelta,
)
from entrypoints.http.errors import OPENAI_ERROR_TYPES, status_for
from entrypoints.http.openai.wire import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChoiceLogprobs,
    ChunkChoice,
    ChunkDelta,
    ChunkFunction,
    ChunkToolCall,
    CompletionChoice,
    FunctionCall,
    LogprobEntry,
    ResponseMessage,
    ResponseToolCall,
    TopLogprob,
    Usage,
)

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOOLS = 128
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
    "functions": (None, []),
    "function_call": (None, "none"),
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
    constraint, tools = output_constraint(body)
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
        constraint=constraint,
        tools=tools,
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


def output_constraint(body: ChatCompletionRequest) -> tuple[OutputConstraint | None, tuple[ToolSpec, ...]]:
    """``response_format`` and ``tools``/``tool_choice``/``parallel_tool_calls`` as the grammar the
    engine enforces, and the functions shown to the model."""
    parallel = _given(body.parallel_tool_calls)
    if parallel is not None and not isinstance(parallel, bool):
        raise InvalidInput("parallel_tool_calls must be a boolean", field="parallel_tool_calls")
    tools = _tools(_given(body.tools))
    choice = _given(body.tool_choice)
    if choice is None:
        choice = "auto" if tools else "none"
    if choice not in ("none", "auto", "required"):
        if not (
            isinstance(choice, dict)
            and choice.get("type") == "function"
            and isinstance(choice.get("function"), dict)
            and isinstance(choice["function"].get("name"), str)
        ):
            raise InvalidInput(
                'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}',
                field="tool_choice",
            )
        named = [t for t in tools if t.name == choice["function"]["name"]]
        if not named:
            raise InvalidInput(
                f"tool_choice names the function {choice['function']['name']!r}, which is not among the tools",
                field="tool_choice",
            )
        return _with_format(
            body, OutputConstraint("tool_calls", tools=tuple(named), required=True, parallel=False)
        ), tools
    if choice != "none" and not tools:
        raise InvalidInput(f"tool_choice {choice!r} needs tools", field="tool_choice")
    if choice == "none":
        return _response_format(_given(body.response_format)), ()
    calls = OutputConstraint("tool_calls", tools=tools, required=choice == "required", parallel=parallel is not False)
    return _with_format(body, calls), tools


def _given(value: Any) -> Any:
    return None if value is msgspec.UNSET else value


def _with_format(body: ChatCompletionRequest, constraint: OutputConstraint) -> OutputConstraint:
    if _response_format(_given(body.response_format)) is not None:
        raise InvalidInput(
            "response_format cannot be combined with tools (unless tool_choice is none)", field="response_format"
        )
    return constraint


def _response_format(value: Any) -> OutputConstraint | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputConstraint("json")
    if kind != "json_schema":
        raise InvalidInput(
            'response_format must be {"type": "text"}, {"type": "json_object"} or '
            '{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}',
            field="response_format",
        )
    spec = value.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
        raise InvalidInput("response_format.json_schema.schema must be a JSON Schema object", field="response_format")
    if "name" in spec and not (isinstance(spec["name"], str) and FUNCTION_NAME.match(spec["name"])):
        raise InvalidInput(
            "response_format.json_schema.name must be 1 to 64 letters, digits, underscores or dashes",
            field="response_format",
        )
    return OutputConstraint("json", json_schema=_checked_schema(spec["schema"], "response_format"))


def _checked_schema(schema: Any, field: str, where: str = "") -> str:
    unsupported = unsupported_features(schema)
    if unsupported:
        raise InvalidInput(
            f"{field}{where}: this JSON Schema uses features the server cannot enforce: {', '.join(unsupported)}",
            field=field,
            code="unsupported_schema",
        )
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"))


def _tools(value: Any) -> tuple[ToolSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise InvalidInput(f"tools must be a list of at most {MAX_TOOLS} functions", field="tools")
    tools: list[ToolSpec] = []
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise InvalidInput(f'{where} must be {{"type": "function", "function": {{"name": ...}}}}', field="tools")
        name = function.get("name")
        if not isinstance(name, str) or not FUNCTION_NAME.match(name):
            raise InvalidInput(
                f"{where}.function.name must be 1 to 64 letters, digits, underscores or dashes", field="tools"
            )
        if any(t.name == name for t in tools):
            raise InvalidInput(f"{where}.function.name {name!r} is given twice", field="tools")
        description = function.get("description", "")
        if not isinstance(description, str):
            raise InvalidInput(f"{where}.function.description must be a string", field="tools")
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
            raise InvalidInput(f"{where}.function.parameters must be a JSON Schema of type object", field="tools")
        parameters = {"type": "object", **parameters}
        tools.append(
            ToolSpec(name, _checked_schema(parameters, "tools", f"[{index}].function.parameters"), description)
        )
    return tuple(tools)


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
    calls = _message_tool_calls(index, message) if role == "assistant" else ()
    call_id = ""
    if role == "tool":
        call_id = getattr(message, "tool_call_id", None) or ""
        if not isinstance(call_id, str) or not call_id:
            raise InvalidInput(
                f"messages[{index}].tool_call_id is required in a tool message", field=f"messages[{index}].tool_call_id"
            )
    content = message.content
    if content is None:
        if role != "assistant":
            raise InvalidInput(f"messages[{index}].content is required", field=f"messages[{index}].content")
        return ChatMessage(role, "", calls)  # type: ignore[arg-type]
    if isinstance(content, str):
        return ChatMessage(role, content, calls, call_id)  # type: ignore[arg-type]
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
    return ChatMessage(role, "\n".join(texts), calls, call_id)  # type: ignore[arg-type]


def _message_tool_calls(index: int, message: Any) -> tuple[ToolCall, ...]:
    raw = getattr(message, "tool_calls", None)
    if not raw:
        return ()
    calls: list[ToolCall] = []
    for call_index, call in enumerate(raw):
        where = f"messages[{index}].tool_calls[{call_index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(function, dict)
            or call.get("type", "function") != "function"
            or not isinstance(call.get("id"), str)
            or not isinstance(function.get("name"), str)
            or not isinstance(function.get("arguments", ""), str)
        ):
            raise InvalidInput(
                f'{where} must be {{"id": ..., "type": "function", "function": {{"name": ..., "arguments": "..."}}}}',
                field=where,
            )
        calls.append(ToolCall(call["id"], function["name"], function.get("arguments", "") or "{}"))
    return tuple(calls)


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
                message=ResponseMessage(
                    role="assistant",
                    content=c.text if c.text or not c.tool_calls else None,
                    tool_calls=[
                        ResponseToolCall(id=t.id, function=FunctionCall(name=t.name, arguments=t.arguments))
                        for t in c.tool_calls
                    ]
                    or None,
                ),
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
        if isinstance(event, ToolCallDelta):
            if event.id:
                call = ChunkToolCall(event.call_index, event.id, "function", ChunkFunction(event.name, event.arguments))
            else:
                call = ChunkToolCall(event.call_index, function=ChunkFunction(arguments=event.arguments))
            return self._encode([ChunkChoice(index=event.index, delta=ChunkDelta(tool_calls=[call]))])
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
