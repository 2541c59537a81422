"""Chat completion: validate, budget the context, run ``n`` generations, apply stop strings.

The same use case serves legacy text completions: a command with ``prompt`` (raw text, no chat
template) instead of ``messages``, and ``stream_all``/``complete_all`` for several prompts at once.

The wire format (OpenAI's) is not known here: the HTTP layer maps its request onto ``ChatCommand``
and renders ``CompletionResult`` / the ``CompletionEvent`` stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from core.domain.errors import InvalidInput, NotFound, Unavailable
from core.domain.generation import (
    ChatMessage,
    FinishReason,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    OutputConstraint,
    PromptAccepted,
    SamplingParams,
    TokenGenerated,
    TokenLogprobs,
    ToolCall,
    ToolSpec,
)
from core.inference.stop_text import StopTextFilter
from core.inference.tool_calls import ToolCallParser, ToolCallStarted
from core.ports.language_model import LanguageModel

MAX_CHOICES = 4
MAX_STOP_SEQUENCES = 4
MAX_TOP_LOGPROBS = 20
LOGIT_BIAS_LIMIT = 100.0


@dataclass(frozen=True, slots=True)
class CompletionDefaults:
    max_tokens: int
    temperature: float
    model_aliases: tuple[str, ...] = ()
    # Accepted as the served model but not listed (names other clients were written for, like the seed's).
    compatible_model_names: tuple[str, ...] = ()
    # Rows the engine decodes together (MAX_BATCH_SIZE): each of a request's ``n`` choices takes one.
    max_batch_size: int | None = None


@dataclass(frozen=True, slots=True)
class ChatCommand:
    messages: tuple[ChatMessage, ...]
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    n: int = 1
    request_id: str = ""
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    logit_bias: tuple[tuple[int, float], ...] = ()
    # Report log-probabilities with this many alternatives per token (0 to 20); None: off.
    logprobs: int | None = None
    # A raw prompt (legacy completions) instead of ``messages``: no chat template is applied.
    prompt: str | None = None

    # Structured output or tool calls, enforced by the engine; and the functions shown to the model.
    constraint: OutputConstraint | None = None
    tools: tuple[ToolSpec, ...] = ()

    @property
    def prompt_field(self) -> str:
        """The request field that holds the prompt, for error messages."""
        return "messages" if self.prompt is None else "prompt"

    @property
    def calls_tools(self) -> bool:
        return self.constraint is not None and self.constraint.kind == "tool_calls"


@dataclass(frozen=True, slots=True)
class PreparedCompletion:
    """A validated command with its prompt counted and its token budget fixed."""

    command: ChatCommand
    model_id: str
    prompt_tokens: int
    sampling: SamplingParams


@dataclass(frozen=True, slots=True)
class Choice:
    index: int
    text: str
    finish_reason: FinishReason
    completion_tokens: int
    logprobs: tuple[TokenLogprobs, ...] | None = None  # every token's, when the command asked for them
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class CompletionResult:
    model_id: str
    choices: tuple[Choice, ...]
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """New text of choice ``index``, with the log-probabilities of the tokens that produced it (when the
    command asked for them; a delta may then carry tokens and no text, mid UTF-8 character or at a stop)."""

    index: int
    text: str
    logprobs: tuple[TokenLogprobs, ...] = ()


@dataclass(frozen=True, slots=True)
class ChoiceFinished:
    index: int
    finish_reason: FinishReason
    completion_tokens: int
    prompt_tokens: int | None = None  # the engine's count, where it reports one


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of choice ``index``'s call number ``call_index``: the first carries ``id`` and ``name``,
    the next ones fragments of its JSON ``arguments``."""

    index: int
    call_index: int
    arguments: str = ""
    id: str = ""
    name: str = ""


CompletionEvent = TextDelta | ToolCallDelta | ChoiceFinished


class CompleteChat:
    def __init__(self, model: LanguageModel, defaults: CompletionDefaults) -> None:
        self._model = model
        self._defaults = defaults

    def served_model_ids(self) -> tuple[str, ...]:
        return (self._model.info().model_id, *self._defaults.model_aliases)

    def context_length(self) -> int:
        return self._model.info().context_length

    def accepts_model(self, name: str) -> bool:
        return name in self.served_model_ids() or name in self._defaults.compatible_model_names

    async def tokenize(self, messages: tuple[ChatMessage, ...], model: str | None = None) -> int:
        """The prompt's tokens after the chat template (for ``POST /tokenize``)."""
        await self.served_models()
        if model is not None and not self.accepts_model(model):
            raise NotFound(f"The model {model!r} does not exist", field="model", code="model_not_found")
        if not messages:
            raise InvalidInput("messages must contain at least one message", field="messages")
        await self._model.start()
        return await self._model.count_prompt_tokens(messages)

    async def served_models(self) -> tuple[str, ...]:
        """The served ids; a model that does not know its id yet (a remote engine) is asked first."""
        if not self._model.info().model_id:
            await self._model.start()
        info = self._model.info()
        if not info.model_id:
            raise Unavailable(info.error or "The model is not available")
        return self.served_model_ids()

    async def prepare(self, command: ChatCommand) -> PreparedCompletion:
        """Validate and fix the token budget. Raises ``InvalidInput``/``NotFound`` before any work.
        An omitted ``model`` is the served model."""
        served = await self.served_models()
        if command.model is not None and not self.accepts_model(command.model):
            raise NotFound(
                f"The model {command.model!r} does not exist; this server serves: {', '.join(served)}",
                field="model",
                code="model_not_found",
            )
        _validate(command)
        vocabulary = self._model.info().vocab_size
        if vocabulary is not None and any(token >= vocabulary for token, _ in command.logit_bias):
            raise InvalidInput(
                f"logit_bias names a token id beyond this model's vocabulary of {vocabulary} tokens",
                field="logit_bias",
            )
        rows = self._defaults.max_batch_size
        if rows is not None and command.n > rows:
            raise InvalidInput(
                f"n is {command.n} but this server decodes at most {rows} sequences together "
                "(MAX_BATCH_SIZE) and each choice takes one",
                field="n",
            )
        await self._model.start()
        context_length = self._model.info().context_length
        if command.prompt is None:
            prompt_tokens = await self._model.count_prompt_tokens(command.messages, command.tools)
        else:
            prompt_tokens = await self._model.count_text_tokens(command.prompt)
        room = context_length - prompt_tokens
        if command.max_tokens is None:
            if room < 1:
                raise InvalidInput(
                    f"The prompt has {prompt_tokens} tokens, which leaves no room in the model's context "
                    f"length of {context_length} tokens",
                    field=command.prompt_field,
                    code="context_length_exceeded",
                )
            max_tokens = min(self._defaults.max_tokens, room)
        else:
            max_tokens = command.max_tokens
            if prompt_tokens + max_tokens > context_length:
                raise InvalidInput(
                    f"The prompt has {prompt_tokens} tokens and max_tokens is {max_tokens}: together "
                    f"{prompt_tokens + max_tokens}, more than the model's context length of {context_length} "
                    f"tokens. Shorten the {command.prompt_field} or lower max_tokens.",
                    field="max_tokens",
                    code="context_length_exceeded",
                )
        sampling = SamplingParams(
            max_tokens=max_tokens,
            temperature=self._defaults.temperature if command.temperature is None else command.temperature,
            top_p=command.top_p,
            top_k=command.top_k,
            seed=command.seed,
            presence_penalty=command.presence_penalty,
            frequency_penalty=command.frequency_penalty,
            min_p=command.min_p,
            repetition_penalty=command.repetition_penalty,
            logit_bias=command.logit_bias,
            logprobs=command.logprobs,
        )
        return PreparedCompletion(command, served[0], prompt_tokens, sampling)

    async def complete(self, prepared: PreparedCompletion) -> CompletionResult:
        """Run every choice to the end and return the texts."""
        return await self.complete_all([prepared])

    async def complete_all(self, prepared: Sequence[PreparedCompletion]) -> CompletionResult:
        """``complete`` for several prompts at once (legacy completions): choice ``k * n + i`` is choice
        ``i`` of prompt ``k``; the prompt tokens add up."""
        count = sum(p.command.n for p in prepared)
        texts: dict[int, list[str]] = {i: [] for i in range(count)}
        logprobs: dict[int, list[TokenLogprobs]] = {i: [] for i in range(count)}
        calls: dict[int, dict[int, list[str]]] = {i: {} for i in texts}
        heads: dict[tuple[int, int], ToolCallDelta] = {}
        finished: dict[int, ChoiceFinished] = {}
        async with contextlib.aclosing(await self.stream_all(prepared)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    texts[event.index].append(event.text)
                    logprobs[event.index].extend(event.logprobs)
                elif isinstance(event, ToolCallDelta):
                    heads.setdefault((event.index, event.call_index), event)
                    calls[event.index].setdefault(event.call_index, []).append(event.arguments)
                else:
                    finished[event.index] = event
        reported = prepared[0].command.logprobs is not None
        choices = tuple(
            Choice(
                i,
                "".join(texts[i]),
                finished[i].finish_reason,
                finished[i].completion_tokens,
                tuple(logprobs[i]) if reported else None,
                tuple(
                    ToolCall(heads[i, c].id, heads[i, c].name, "".join(parts)) for c, parts in sorted(calls[i].items())
                ),
            )
            for i in sorted(texts)
        )
        return CompletionResult(prepared[0].model_id, choices, all_prompt_tokens(prepared, finished))

    async def stream(self, prepared: PreparedCompletion) -> AsyncIterator[CompletionEvent]:
        """Start every choice now (so admission errors such as ``Overloaded`` raise here) and return
        the merged stream of their events. Closing the stream cancels the generations."""
        return await self.stream_all([prepared])

    async def stream_all(self, prepared: Sequence[PreparedCompletion]) -> AsyncIterator[CompletionEvent]:
        """``stream`` for several prompts at once, indexed as in ``complete_all``."""
        requests = [
            self._request(one, i, k * one.command.n + i) for k, one in enumerate(prepared) for i in range(one.command.n)
        ]
        return await self._start(requests, prepared[0])

    async def continue_stream(
        self, prepared: PreparedCompletion, texts: Mapping[int, str], position: int
    ) -> AsyncIterator[CompletionEvent]:
        """``stream`` for the choices in ``texts`` of a generation whose process died after streaming
        those texts (a takeover at event ``position``): each choice goes on after its text, and its
        ``completion_tokens`` count both parts. A seeded choice samples from a seed derived from its
        seed and ``position``, so the same takeover gives the same text."""
        requests = []
        for index in sorted(texts):
            request = self._request(prepared, index)
            sampling = request.sampling
            if sampling.seed is not None:
                sampling = replace(sampling, seed=continued_seed(sampling.seed, position))
            requests.append(replace(request, sampling=sampling, continuation=texts[index]))
        return await self._start(requests, prepared)

    async def _start(
        self, requests: list[GenerationRequest], prepared: PreparedCompletion
    ) -> AsyncIterator[CompletionEvent]:
        generators = [self._model.generate(request) for request in requests]
        try:
            # Admitted together: a remote engine answers every choice's first step in parallel.
            firsts = await asyncio.gather(*(anext(g) for g in generators), return_exceptions=True)  # type: ignore[call-overload]
            for first in firsts:
                if isinstance(first, BaseException):
                    raise first
                if not isinstance(first, PromptAccepted):
                    raise RuntimeError("a language model must yield PromptAccepted first")
        except BaseException:
            for generator in generators:
                await generator.aclose()  # type: ignore[attr-defined]
            raise
        return _merge(
            [
                _choice_events(r.choice_index, g, prepared.command.stop, prepared.command.calls_tools)
                for r, g in zip(requests, generators, strict=True)
            ]
        )

    def _request(self, prepared: PreparedCompletion, index: int, choice_index: int | None = None) -> GenerationRequest:
        """Choice ``index`` of the prepared prompt, reported as ``choice_index`` (default: ``index``)."""
        choice_index = index if choice_index is None else choice_index
        sampling = prepared.sampling
        if sampling.seed is not None and index:
            # Each choice samples from its own generator: derive distinct, reproducible seeds.
            sampling = replace(sampling, seed=sampling.seed + index)
        command = prepared.command
        request_id = f"{command.request_id}/{choice_index}" if command.request_id else ""
        return GenerationRequest(
            command.messages,
            sampling,
            request_id,
            command.stop,
            choice_index,
            prompt_text=command.prompt,
            constraint=command.constraint,
            tools=command.tools,
        )


def continued_seed(seed: int, position: int) -> int:
    """The seed of a generation continued at ``position``: reproducible, and not the first part's."""
    return (seed * 1_000_003 + position + 1) % 2**63


def all_prompt_tokens(prepared: Sequence[PreparedCompletion], finished: Mapping[int, ChoiceFinished]) -> int:
    """The prompt tokens of several prompts (``stream_all``), each as ``reported_prompt_tokens`` counts it."""
    total = 0
    for k, one in enumerate(prepared):
        first = k * one.command.n
        mine = [finished[i] for i in range(first, first + one.command.n) if i in finished]
        total += reported_prompt_tokens(one, mine)
    return total


def reported_prompt_tokens(prepared: PreparedCompletion, finished: Iterable[ChoiceFinished]) -> int:
    """The engine's prompt count where it reported one (usage from a remote engine), else ours."""
    return next((f.prompt_tokens for f in finished if f.prompt_tokens is not None), prepared.prompt_tokens)


async def _choice_events(
    index: int, generator: AsyncIterator[GenerationEvent], stop: tuple[str, ...], calls_tools: bool = False
) -> AsyncIterator[CompletionEvent]:
    """One choice's deltas: stop strings applied, and with tools the calls split out of the text
    (a choice that ends normally after a complete call finishes with ``tool_calls``)."""
    stop_filter = StopTextFilter(stop)
    parser = ToolCallParser() if calls_tools else None
    pending: list[TokenLogprobs] = []  # tokens whose text is not out yet

    def deltas(text: str, last: bool = False) -> list[CompletionEvent]:
        """The text's deltas; the tokens' log-probabilities go with the next text (none with a call)."""
        if parser is None:
            if not (text or (pending and (last or stop_filter.stopped))):
                return []
            out: list[CompletionEvent] = [TextDelta(index, text, tuple(pending))]
            pending.clear()
            return out
        pieces = [*parser.feed(text), *(parser.finish() if last else ())]
        out = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(TextDelta(index, piece, tuple(pending)))
                pending.clear()
            elif isinstance(piece, ToolCallStarted):
                out.append(ToolCallDelta(index, piece.call_index, id=piece.id, name=piece.name))
            else:
                out.append(ToolCallDelta(index, piece.call_index, arguments=piece.fragment))
        return out

    def reason(finish: FinishReason) -> FinishReason:
        return "tool_calls" if finish == "stop" and parser is not None and parser.completed else finish

    produced = 0
    try:
        async for event in generator:
            if isinstance(event, TokenGenerated):
                produced += 1
                if event.logprobs is not None:
                    pending.append(event.logprobs)
                for delta in deltas(stop_filter.feed(event.text)):
                    yield delta
                if stop_filter.stopped:
                    for delta in deltas("", last=True):
                        yield delta
                    yield ChoiceFinished(index, reason("stop"), produced)
                    return
            elif isinstance(event, GenerationFinished):
                for delta in deltas(stop_filter.flush(), last=True):
                    yield delta
                yield ChoiceFinished(index, reason(event.reason), event.completion_tokens, event.prompt_tokens)
                return
    finally:
        await generator.aclose()  # type: ignore[attr-defined]


async def _merge(sources: list[AsyncIterator[CompletionEvent]]) -> AsyncIterator[CompletionEvent]:
    """Interleave several event streams in arrival order; closing the result closes them all."""
    if len(sources) == 1:
        async with contextlib.aclosing(sources[0]) as only:  # type: ignore[type-var]
            async for event in only:
                yield event
        return
    queue: asyncio.Queue[CompletionEvent | BaseException | None] = asyncio.Queue()

    async def pump(source: AsyncIterator[CompletionEvent]) -> None:
        try:
            async for event in source:
                await queue.put(event)
        except Exception as error:  # delivered to the reader, which re-raises it
            await queue.put(error)
        finally:
            await source.aclose()  # type: ignore[attr-defined]
            await queue.put(None)

    tasks = [asyncio.create_task(pump(s)) for s in sources]
    remaining = len(tasks)
    try:
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _validate(command: ChatCommand) -> None:
    if command.prompt is None and not command.messages:
        raise InvalidInput("messages must contain at least one message", field="messages")
    if not 1 <= command.n <= MAX_CHOICES:
        raise InvalidInput(f"n must be between 1 and {MAX_CHOICES}", field="n")
    if command.max_tokens is not None and command.max_tokens < 1:
        raise InvalidInput("max_tokens must be at least 1", field="max_tokens")
    if command.temperature is not None and not 0.0 <= command.temperature <= 2.0:
        raise InvalidInput("temperature must be between 0 and 2", field="temperature")
    if not 0.0 < command.top_p <= 1.0:
        raise InvalidInput("top_p must be greater than 0 and at most 1", field="top_p")
    if command.top_k < 0:
        raise InvalidInput("top_k must be >= 0 (0 disables it)", field="top_k")
    for name in ("presence_penalty", "frequency_penalty"):
        if not -2.0 <= getattr(command, name) <= 2.0:
            raise InvalidInput(f"{name} must be between -2 and 2", field=name)
    if len(command.stop) > MAX_STOP_SEQUENCES:
        raise InvalidInput(f"stop accepts at most {MAX_STOP_SEQUENCES} sequences", field="stop")
    if any(not s for s in command.stop):
        raise InvalidInput("stop sequences must not be empty", field="stop")
    if not 0.0 <= command.min_p <= 1.0:
        raise InvalidInput("min_p must be between 0 and 1", field="min_p")
    if not 0.0 < command.repetition_penalty <= 2.0:
        raise InvalidInput(
            "repetition_penalty must be greater than 0 and at most 2 (1 is off)", field="repetition_penalty"
        )
    if command.logprobs is not None and not 0 <= command.logprobs <= MAX_TOP_LOGPROBS:
        raise InvalidInput(f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}", field="top_logprobs")
    for token, bias in command.logit_bias:
        if token < 0:
            raise InvalidInput(f"logit_bias key {token} is not a token id", field="logit_bias")
        if not -LOGIT_BIAS_LIMIT <= bias <= LOGIT_BIAS_LIMIT:
            raise InvalidInput(
                f"logit_bias values must be between -100 and 100; token {token} has {bias:g}", field="logit_bias"
            )
