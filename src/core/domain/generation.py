"""Text generation values shared by the inference use cases and the language model port."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "cancelled", "tool_calls"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the assistant made: ``arguments`` is JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    # An assistant turn's calls, and which call a ``tool`` turn answers.
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is its JSON Schema as JSON text."""

    name: str
    parameters: str = '{"type": "object"}'
    description: str = ""


@dataclass(frozen=True, slots=True)
class OutputConstraint:
    """What the generated text must match, enforced token by token by the engine (a grammar).

    ``kind == "json"``: one JSON value valid against ``json_schema`` (JSON Schema text).
    ``kind == "tool_calls"``: calls written as ``core.inference.tool_calls`` defines them, each
    naming one of ``tools`` with arguments valid against its parameters; ``required``: the output is
    calls only (at least one), otherwise free text until a call starts; ``parallel``: more than one.
    """

    kind: Literal["json", "tool_calls"]
    json_schema: str = ""
    tools: tuple[ToolSpec, ...] = ()
    required: bool = False
    parallel: bool = True


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Per-request decoding settings. ``temperature == 0`` means greedy decoding."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 disables top-k
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    # vLLM's extensions: drop tokens below ``min_p`` times the top probability; divide positive logits
    # (multiply negative ones) of every token already in the prompt or the output (1.0 is off).
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    # OpenAI's ``logit_bias``: (token id, bias) added to the logits; -100 bans the token.
    logit_bias: tuple[tuple[int, float], ...] = ()
    # Report each sampled token's log-probability with this many alternatives (0 to 20); None: off.
    logprobs: int | None = None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    messages: tuple[ChatMessage, ...]
    sampling: SamplingParams
    request_id: str = ""
    # Text pieces that end generation; the model adapter may stop early on them, the use case
    # trims them from the output so they never leak.
    stop: tuple[str, ...] = field(default_factory=tuple)
    # Which of the request's ``n`` choices this is; the choices share one prompt.
    choice_index: int = 0
    # Text this generation already produced elsewhere (a takeover after its process died): prefilled
    # after the prompt; its tokens count against ``max_tokens`` and in ``completion_tokens``.
    continuation: str = ""
    # A raw prompt (legacy completions): tokenized as it is, without the chat template; ``messages``
    # is then empty.
    prompt_text: str | None = None
    # A grammar the output must follow (structured outputs, tool calls); None: free text.
    constraint: OutputConstraint | None = None
    # Functions offered to the model, rendered into the prompt (by the chat template or a fallback).
    tools: tuple[ToolSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class PromptAccepted:
    """First event of every generation: the prompt fits and was admitted."""

    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """A token as text (``bytes`` exactly; ``token`` is their UTF-8 text, or ``bytes:\\x..`` for a
    token that is only part of a character) and its log-probability."""

    token: str
    bytes: tuple[int, ...]
    logprob: float


@dataclass(frozen=True, slots=True)
class TokenLogprobs:
    """The sampled token's log-probability and the ``top`` most likely tokens of the same step."""

    chosen: TokenLogprob
    top: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class TokenGenerated:
    """One decoded token. ``text`` is the newly printable text (may be empty mid UTF-8 sequence).
    ``logprobs`` is set when the request asked for them (``SamplingParams.logprobs``)."""

    token_id: int
    text: str
    logprobs: TokenLogprobs | None = None


@dataclass(frozen=True, slots=True)
class GenerationFinished:
    reason: FinishReason
    completion_tokens: int
    # The engine's own count of the prompt where it reports one (a remote engine's usage).
    prompt_tokens: int | None = None


GenerationEvent = PromptAccepted | TokenGenerated | GenerationFinished


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str
    context_length: int
    ready: bool
    error: str | None = None
    vocab_size: int | None = None  # where known: token ids at or beyond it do not exist
