"""OpenAI Chat Completions wire types. Nothing outside ``entrypoints.http.openai`` sees them."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

UNSET: Any = msgspec.UNSET


class StreamOptions(msgspec.Struct, omit_defaults=True):
    include_usage: bool = False


class WireMessage(msgspec.Struct, omit_defaults=True):
    role: str
    # A string or OpenAI content parts ({"type": "text", "text": ...}); None only for assistant turns.
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # an assistant turn's calls
    tool_call_id: str | None = None  # the call a ``tool`` turn answers


class ChatCompletionRequest(msgspec.Struct, omit_defaults=True):
    """The request body of ``POST /v1/chat/completions``.

    ``session_id`` is this server's extension: name the stream so it can be resumed with
    ``Last-Event-ID: <session_id>:<index>`` and cancelled with ``POST /v1/cancel/{session_id}``.
    """

    messages: list[WireMessage]
    model: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    n: int | None = None
    user: str | None = None
    session_id: str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    # vLLM's extra sampling parameters.
    min_p: float | None = None
    repetition_penalty: float | None = None
    # Structured outputs and tool calls; validated in ``translate`` (the errors name the field).
    response_format: Any = UNSET
    tools: Any = UNSET
    tool_choice: Any = UNSET
    parallel_tool_calls: Any = UNSET
    # Accepted only at their no-op values: anything else changes behaviour we do not implement.
    functions: Any = UNSET
    function_call: Any = UNSET
    audio: Any = UNSET
    modalities: Any = UNSET
    prediction: Any = UNSET
    web_search_options: Any = UNSET


class FunctionCall(msgspec.Struct):
    name: str
    arguments: str  # JSON text


class ResponseToolCall(msgspec.Struct):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class ResponseMessage(msgspec.Struct, omit_defaults=True):
    role: Literal["assistant"]
    content: str | None  # None when the answer is tool calls only
    tool_calls: list[ResponseToolCall] | None = None


class Usage(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class TopLogprob(msgspec.Struct):
    token: str
    logprob: float
    bytes: list[int] | None


class LogprobEntry(msgspec.Struct):
    token: str
    logprob: float
    bytes: list[int] | None
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(msgspec.Struct):
    content: list[LogprobEntry] | None
    refusal: None = None


class CompletionChoice(msgspec.Struct):
    index: int
    message: ResponseMessage
    finish_reason: str
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(msgspec.Struct):
    id: str
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage
    object: Literal["chat.completion"] = "chat.completion"
    system_fingerprint: str | None = None


class ChunkFunction(msgspec.Struct, omit_defaults=True):
    name: str | None = None
    arguments: str | None = None


class ChunkToolCall(msgspec.Struct, omit_defaults=True):
    """A tool call's delta: the first has ``id``, ``type`` and the name, the next argument fragments."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: ChunkFunction | None = None


class ChunkDelta(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ChunkToolCall] | None = None


class ChunkChoice(msgspec.Struct):
    index: int
    delta: ChunkDelta
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(msgspec.Struct):
    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    system_fingerprint: str | None = None
    usage: Usage | None = None


class ModelCard(msgspec.Struct):
    id: str
    created: int
    owned_by: str
    object: Literal["model"] = "model"
    max_model_len: int | None = None  # the context length, as vLLM reports it


class ModelList(msgspec.Struct):
    data: list[ModelCard]
    object: Literal["list"] = "list"


class CancelResult(msgspec.Struct):
    session_id: str
    cancelled: bool


class ErrorDetail(msgspec.Struct):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


class TokenizeRequest(msgspec.Struct, omit_defaults=True):
    """``POST /tokenize`` in vLLM's chat form: the prompt's tokens after the chat template."""

    messages: list[WireMessage]
    model: str | None = None
    add_generation_prompt: bool = True


class TokenizeResponse(msgspec.Struct):
    count: int
    max_model_len: int
