"""The ``LanguageModel`` port on a remote OpenAI-compatible engine (vLLM, llama.cpp's ``llama-server``,
TGI, SGLang, or another instance of this service in ``--role engine``).

Every generation is one streamed ``POST {base}/chat/completions`` (messages go as messages: the engine
applies its own chat template), usage comes from the engine (``stream_options.include_usage``). A raw
prompt (``prompt_text``, legacy completions) is one streamed ``POST {base}/completions``. ``logprobs``,
``logit_bias``, ``min_p`` and ``repetition_penalty`` are passed through (the last two as vLLM's extra
parameters, only when set), and the engine's log-probabilities come back with the tokens.

Failure rules: connection errors, 5xx and a stream that breaks before its first token are retried with
jittered exponential backoff until ``timeout_seconds`` is spent; nothing is retried once a token was
handed on. Upstream 429 becomes ``Overloaded`` with its ``Retry-After``; other 4xx become ``InvalidInput``
with the engine's message, except 401/403/404, which are this service's configuration (key, model, URL)
and become ``Unavailable``; an engine that stays unreachable becomes ``Unavailable``. Closing a generation
closes its upstream response at once (engines abort on disconnect); an engine that names its session in
``X-Session-ID`` (this service does) is also sent ``POST {base}/cancel/{id}``.

Prompt tokens are counted by the engine's ``POST /tokenize`` (vLLM and this service have it, with the
chat template applied); where it does not exist, by a deliberately high estimate (``estimate_prompt_tokens``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from httpx_sse import EventSource, ServerSentEvent, SSEError

from core.domain.errors import DomainError, InvalidInput, Overloaded, Unavailable
from core.domain.generation import (
    ChatMessage,
    FinishReason,
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
from core.inference.tool_calls import CALL_TAIL, TOOL_CALL_SEPARATOR, call_head

log = structlog.get_logger(__name__)

DEFAULT_CONTEXT_LENGTH = 8192
# Bytes per token of the fallback estimate. Byte-level BPE tokenizers average 3.5 to 4.5 bytes per token on
# Indonesian and English prose, so dividing by 3 errs high: a prompt is refused a little early rather than
# sent to an engine that would refuse it, and the default max_tokens never overshoots the context.
ESTIMATE_BYTES_PER_TOKEN = 3
ESTIMATE_TOKENS_PER_MESSAGE = 8  # role markers and separators of a typical chat template
_COUNT_CACHE_SIZE = 256
_CONTROL_CONNECTIONS = 8  # beyond the generation connections: models, tokenize, cancel
_PROBE_TIMEOUT_SECONDS = 2.5  # under the readiness check's 3 s


@dataclass(frozen=True, slots=True)
class RemoteModelSettings:
    base_url: str  # the engine's OpenAI base URL, such as http://vllm:8000/v1
    api_key: str | None = None
    model: str | None = None  # None: the first id of the engine's /models
    timeout_seconds: float = 60.0
    max_connections: int = 64  # generations streaming at once from this process
    max_queued_requests: int = 64  # generations waiting for one of those connections before Overloaded
    max_context_tokens: int | None = None  # used when the engine reports no max_model_len, and caps it
    backoff_base_seconds: float = 0.1
    backoff_max_seconds: float = 2.0


def estimate_prompt_tokens(messages: tuple[ChatMessage, ...]) -> int:
    """A high estimate of a chat prompt's tokens, for engines without a tokenize endpoint."""
    total = ESTIMATE_TOKENS_PER_MESSAGE  # the generation prompt
    for message in messages:
        total += ESTIMATE_TOKENS_PER_MESSAGE + math.ceil(len(message.content.encode()) / ESTIMATE_BYTES_PER_TOKEN)
    return total


@dataclass(slots=True)
class _Budget:
    """One call's time to get an answer, retries included."""

    deadline: float
    clock: Callable[[], float]
    failures: int = 0

    def left(self) -> float:
        return self.deadline - self.clock()


class _Retryable(Exception):
    """A failure before the first token that another attempt may not have."""


@dataclass(slots=True)
class _Chunk:
    text: str = ""
    logprobs: list[TokenLogprobs] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    done: bool = False
    # Tool-call deltas: (the function name where a call starts, else None; an arguments fragment).
    calls: list[tuple[str | None, str]] = field(default_factory=list)


class _Upstream:
    """One open upstream stream: its response, its SSE events and what was read ahead of the caller."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: AsyncIterator[ServerSentEvent] = EventSource(response).aiter_sse()
        self.read_ahead: list[_Chunk] = []

    @property
    def session_id(self) -> str | None:
        return self.response.headers.get("x-session-id")

    async def next_chunk(self) -> _Chunk | None:
        """The next parsed chunk (what was read ahead first), or None when the stream ended (without [DONE])."""
        if self.read_ahead:
            return self.read_ahead.pop(0)
        return await self.read()

    async def read(self) -> _Chunk | None:
        async for event in self.events:  # type: ignore[attr-defined]
            chunk = _parse(event.data)
            if chunk is not None:
                return chunk
        return None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.events.aclose()  # type: ignore[attr-defined]
        await self.response.aclose()


class RemoteLanguageModel:
    """``LanguageModel`` served by a remote OpenAI-compatible engine over HTTP."""

    def __init__(
        self,
        settings: RemoteModelSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._base_url = settings.base_url.rstrip("/")
        self._root_url = self._base_url.removesuffix("/v1")
        self._clock = clock
        self._jitter = jitter
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        connections = settings.max_connections + _CONTROL_CONNECTIONS
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            transport=transport,
        )
        self._slots = asyncio.Semaphore(settings.max_connections)
        self._waiting = 0
        self._model_id = settings.model or ""
        self._context_length = settings.max_context_tokens or DEFAULT_CONTEXT_LENGTH
        self._discovered = False  # /models answered once: the model id and context length are known
        self._ready = False  # discovered, and the last contact succeeded
        self._error: str | None = None
        self._discover_lock = asyncio.Lock()
        self._tokenize_supported: bool | None = None
        self._counts: OrderedDict[tuple[ChatMessage, ...], int] = OrderedDict()
        self._text_counts: dict[str, int] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # -- LanguageModel --------------------------------------------------------------------------------

    def info(self) -> ModelInfo:
        return ModelInfo(self._model_id, self._context_length, self._ready, self._error)

    async def start(self) -> None:
        """Ask the engine which model it serves and its context length (retried within the timeout).
        Called again after a failure, it tries again; the outcome is reported by ``info``."""
        if self._ready:
            return
        async with self._discover_lock:
            if self._ready:
                return
            try:
                await self._with_retries("GET /models", self._discover_once)
            except DomainError as error:
                self._mark_down(error.message)

    async def close(self) -> None:
        """Let the upstream cancels still in flight finish (briefly), then close the connections."""
        if self._background:
            _, late = await asyncio.wait(set(self._background), timeout=_PROBE_TIMEOUT_SECONDS)
            for task in late:
                task.cancel()
        await self._client.aclose()

    async def count_prompt_tokens(self, messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...] = ()) -> int:
        await self._require_ready()
        count = None
        if self._tokenize_supported is not False:
            count = await self._with_retries("POST /tokenize", lambda: self._tokenize_once(messages, tools))
        if count is None:
            count = estimate_prompt_tokens(messages)
        self._counts[messages] = count
        self._counts.move_to_end(messages)
        while len(self._counts) > _COUNT_CACHE_SIZE:
            self._counts.popitem(last=False)
        return count

    async def count_text_tokens(self, text: str) -> int:
        """A raw prompt's tokens by vLLM's ``POST /tokenize`` in its prompt form, else the high estimate."""
        await self._require_ready()
        count = None
        with contextlib.suppress(InvalidInput, Unavailable, _Retryable, TimeoutError):
            body = {"model": self._model_id, "prompt": text}
            response = await asyncio.wait_for(
                self._send("POST", f"{self._root_url}/tokenize", json=body), self._settings.timeout_seconds
            )
            count = _json(response).get("count")
        if not isinstance(count, int):
            count = ESTIMATE_TOKENS_PER_MESSAGE + math.ceil(len(text.encode()) / ESTIMATE_BYTES_PER_TOKEN)
        self._text_counts[text] = count
        while len(self._text_counts) > _COUNT_CACHE_SIZE:
            self._text_counts.pop(next(iter(self._text_counts)))
        return count

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        if request.continuation:  # OpenAI's API has no way to continue a half-written answer
            raise Unavailable("A remote engine cannot continue a generation another process started")
        await self._require_ready()
        await self._admit()
        try:
            what = "POST /chat/completions" if request.prompt_text is None else "POST /completions"
            budget = self._budget()
            upstream = await self._with_retries(what, lambda: self._open_stream(request), budget)
            finished = False
            try:
                # Accepted once the engine answered: a slow first token (an engine's queue) runs in the stream.
                if request.prompt_text is None:
                    prompt_tokens = self._counts.get(request.messages) or estimate_prompt_tokens(request.messages)
                else:
                    prompt_tokens = self._text_counts.get(request.prompt_text, 1)
                yield PromptAccepted(prompt_tokens=prompt_tokens)
                while True:  # until the first token, a failure sends the request again within the same timeout
                    try:
                        await asyncio.wait_for(self._read_to_first_token(upstream), max(budget.left(), 0.001))
                        break
                    except (_Retryable, TimeoutError) as error:
                        await self._abandon(upstream)
                        upstream = await self._with_retries(
                            what, lambda: self._open_stream(request), budget, failed=error
                        )
                async for event in self._events(upstream):
                    if isinstance(event, GenerationFinished):
                        finished = True
                    yield event
            finally:
                if finished:
                    await upstream.close()
                else:
                    await self._abandon(upstream)
        finally:
            self._slots.release()

    # -- for readiness checks -------------------------------------------------------------------------

    async def probe(self) -> ModelInfo:
        """One quick ``GET /models`` now, whatever the last state was; updates and returns ``info``."""
        try:
            await asyncio.wait_for(self._discover_once(), min(self._settings.timeout_seconds, _PROBE_TIMEOUT_SECONDS))
        except (_Retryable, TimeoutError) as error:
            self._mark_down(self._unreachable_message(error))
        except DomainError as error:
            self._mark_down(error.message)
        else:
            self._ready, self._error = True, None
        return self.info()

    # -- discovery and token counting -----------------------------------------------------------------

    async def _discover_once(self) -> None:
        response = await self._send("GET", f"{self._base_url}/models")
        cards = [c for c in _json(response).get("data", []) if isinstance(c, dict) and isinstance(c.get("id"), str)]
        if not cards:
            raise Unavailable(f"The engine at {self._base_url} serves no model (its /models list is empty)")
        wanted = self._settings.model
        card = next((c for c in cards if c["id"] == wanted), None) if wanted else cards[0]
        if card is None:
            served = ", ".join(c["id"] for c in cards)
            raise Unavailable(f"LLM_MODEL {wanted!r} is not served by {self._base_url}; it serves: {served}")
        self._model_id = card["id"]
        self._set_context_length(card.get("max_model_len"))
        if not self._ready:
            log.info("llm.remote.ready", base_url=self._base_url, model_id=self._model_id, context=self._context_length)
        self._discovered = True

    async def _tokenize_once(self, messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...] = ()) -> int | None:
        body = {"model": self._model_id, "messages": _wire_messages(messages), "add_generation_prompt": True}
        if tools:
            body.update(_tool_fields(tools))
        try:
            response = await self._send("POST", f"{self._root_url}/tokenize", json=body)
        except InvalidInput:
            response = None  # a tokenize route that does not take chat messages
        except Unavailable:
            if self._tokenize_supported:  # it answered before: the engine is the problem, not the route
                raise
            response = None  # 404/405: no such route
        count = _json(response).get("count") if response is not None else None
        if not isinstance(count, int):
            if self._tokenize_supported is None:
                log.info("llm.remote.tokenize_unavailable", base_url=self._root_url, fallback="estimate")
            self._tokenize_supported = False
            return None
        self._tokenize_supported = True
        self._set_context_length(_json(response).get("max_model_len"))
        return count

    def _set_context_length(self, reported: Any) -> None:
        cap = self._settings.max_context_tokens
        if isinstance(reported, int) and reported > 0:
            self._context_length = min(reported, cap) if cap else reported
        else:
            self._context_length = cap or DEFAULT_CONTEXT_LENGTH

    # -- generation -----------------------------------------------------------------------------------

    async def _admit(self) -> None:
        """Take one of ``max_connections`` slots, waiting in a queue of at most ``max_queued_requests``."""
        if self._slots.locked():
            if self._waiting >= self._settings.max_queued_requests:
                raise Overloaded(
                    f"All {self._settings.max_connections} connections to the engine are busy and "
                    f"{self._waiting} requests are waiting; retry shortly",
                )
            self._waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        sampling = request.sampling
        body: dict[str, Any] = {"model": self._model_id}
        if request.prompt_text is None:
            body["messages"] = _wire_messages(request.messages)
        else:
            body["prompt"] = request.prompt_text
        body |= {
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        # Extensions and non-defaults only, so engines that do not know a field are not sent it.
        if sampling.top_k > 0:
            body["top_k"] = sampling.top_k
        if sampling.presence_penalty:
            body["presence_penalty"] = sampling.presence_penalty
        if sampling.frequency_penalty:
            body["frequency_penalty"] = sampling.frequency_penalty
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if sampling.min_p:
            body["min_p"] = sampling.min_p
        if sampling.repetition_penalty != 1.0:
            body["repetition_penalty"] = sampling.repetition_penalty
        if sampling.logit_bias:
            body["logit_bias"] = {str(token): bias for token, bias in sampling.logit_bias}
        if sampling.logprobs is not None:
            if request.prompt_text is None:
                body["logprobs"] = True
                body["top_logprobs"] = sampling.logprobs
            else:  # the legacy form: how many alternatives
                body["logprobs"] = sampling.logprobs
        body.update(_constraint_fields(request))
        return body

    async def _open_stream(self, request: GenerationRequest) -> _Upstream:
        route = "chat/completions" if request.prompt_text is None else "completions"
        response = await self._send("POST", f"{self._base_url}/{route}", json=self._body(request), stream=True)
        if "text/event-stream" not in response.headers.get("content-type", ""):
            await response.aclose()
            kind = response.headers.get("content-type")
            raise Unavailable(f"The engine at {self._base_url} answered {kind!r} to a streamed request, not SSE")
        return _Upstream(response)

    async def _read_to_first_token(self, upstream: _Upstream) -> None:
        """Read ahead up to the first token (or the end), so that a failure before it can be retried."""
        try:
            while True:
                chunk = await upstream.read()
                if chunk is None:
                    raise _Retryable("the stream ended before the first token")
                if chunk.error is not None:
                    raise _Retryable(chunk.error)
                upstream.read_ahead.append(chunk)
                if chunk.text or chunk.calls or chunk.finish_reason or chunk.done:
                    return
        except (httpx.TransportError, SSEError) as error:
            raise _Retryable(f"{type(error).__name__}: {error}") from error

    async def _abandon(self, upstream: _Upstream) -> None:
        """Close an unfinished upstream request (engines abort on disconnect) and cancel its named session."""
        await upstream.close()
        if upstream.session_id:
            self._cancel_upstream_session(upstream.session_id)

    async def _events(self, upstream: _Upstream) -> AsyncIterator[GenerationEvent]:
        produced = 0
        reason: str | None = None
        usage: tuple[int | None, int | None] = (None, None)
        call_open = False  # the engine's tool calls are rewritten in this server's call form
        while True:
            try:
                chunk = await upstream.next_chunk()
            except (httpx.TransportError, SSEError) as error:
                if reason is not None:
                    break  # finished; only the usage or [DONE] was lost
                raise self._broken(f"{type(error).__name__}: {error}") from error
            if chunk is None or chunk.done:
                break
            if chunk.error is not None:
                raise self._broken(chunk.error)
            if chunk.logprobs:  # one event per token: the chunk's text comes with its first one
                for position, logprobs in enumerate(chunk.logprobs):
                    yield TokenGenerated(produced, chunk.text if position == 0 else "", logprobs)
                    produced += 1
            elif chunk.text:
                yield TokenGenerated(token_id=produced, text=chunk.text)
                produced += 1
            for name, arguments in chunk.calls:
                text = arguments
                if name is not None:
                    text = f"{CALL_TAIL + TOOL_CALL_SEPARATOR if call_open else ''}{call_head(name)}{arguments}"
                    call_open = True
                if text:
                    yield TokenGenerated(token_id=produced, text=text)
            if chunk.finish_reason:
                reason = chunk.finish_reason
                if call_open:
                    yield TokenGenerated(token_id=produced, text=CALL_TAIL)
                    call_open = False
            if chunk.completion_tokens is not None:
                usage = (chunk.prompt_tokens, chunk.completion_tokens)
        if reason is None:
            raise self._broken("the stream ended before the generation finished")
        prompt_tokens, completion_tokens = usage
        yield GenerationFinished(
            reason=_finish_reason(reason),
            completion_tokens=produced if completion_tokens is None else completion_tokens,
            prompt_tokens=prompt_tokens,
        )

    def _broken(self, detail: str) -> Unavailable:
        log.warning("llm.remote.stream_broken", base_url=self._base_url, detail=detail)
        return Unavailable(f"The engine at {self._base_url} stopped in the middle of the answer: {detail}")

    def _cancel_upstream_session(self, session_id: str) -> None:
        if self._client.is_closed:
            return

        async def cancel() -> None:
            with contextlib.suppress(Exception):
                await self._client.post(f"{self._base_url}/cancel/{session_id}", timeout=_PROBE_TIMEOUT_SECONDS)

        task = asyncio.get_running_loop().create_task(cancel())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- HTTP and retries -----------------------------------------------------------------------------

    async def _send(self, method: str, url: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        """One request; a non-2xx answer is turned into a domain error or ``_Retryable`` (5xx)."""
        try:
            request = self._client.build_request(method, url, **kwargs)
            response = await self._client.send(request, stream=stream)
        except httpx.TransportError as error:
            raise _Retryable(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__) from error
        if response.status_code < 400:
            return response
        try:
            await response.aread()
        except httpx.TransportError as error:
            raise _Retryable(f"{type(error).__name__}: {error}") from error
        finally:
            await response.aclose()
        raise self._http_error(response)

    def _http_error(self, response: httpx.Response) -> Exception:
        status, message = response.status_code, _error_message(response)
        if status == 429:
            return Overloaded(f"The engine is overloaded: {message}", retry_after_seconds=_retry_after(response))
        if status >= 500:
            return _Retryable(f"HTTP {status}: {message}")
        if status in (401, 403):
            return Unavailable(f"The engine at {self._base_url} refused the credentials (LLM_API_KEY): {message}")
        if status == 404:
            return Unavailable(f"The engine at {self._base_url} has no {response.request.url.path}: {message}")
        return InvalidInput(message, field=_error_param(response), code=_error_code(response))

    def _budget(self) -> _Budget:
        return _Budget(self._clock() + self._settings.timeout_seconds, self._clock)

    async def _with_retries(
        self, what: str, attempt: Callable[[], Any], budget: _Budget | None = None, *, failed: Exception | None = None
    ) -> Any:
        """Run ``attempt`` until it succeeds, raises a domain error, or the budget (the timeout) is spent.
        ``failed``: the previous attempt failed with it, so back off first."""
        budget = budget or self._budget()
        last = failed
        while True:
            if last is not None:
                budget.failures += 1
                delay = self._settings.backoff_base_seconds * 2 ** (budget.failures - 1)
                delay = min(self._settings.backoff_max_seconds, delay) * (0.5 + self._jitter() / 2)  # jittered
                if self._clock() + delay >= budget.deadline:
                    message = self._unreachable_message(last)
                    log.warning("llm.remote.unavailable", call=what, attempts=budget.failures, error=str(last))
                    self._mark_down(message)
                    raise Unavailable(message)
                await asyncio.sleep(delay)
            try:
                result = await asyncio.wait_for(attempt(), max(budget.left(), 0.001))
            except (_Retryable, TimeoutError) as error:
                last = error
                continue
            except Unavailable as error:  # the engine refuses this service's settings: no retry helps
                self._mark_down(error.message)
                raise
            if self._discovered:
                self._ready, self._error = True, None
            return result

    def _unreachable_message(self, error: Exception) -> str:
        detail = str(error) or f"no answer within {self._settings.timeout_seconds:g} s"
        return (
            f"The engine at {self._base_url} is unreachable or failing "
            f"(gave up after LLM_TIMEOUT_SECONDS={self._settings.timeout_seconds:g}): {detail}"
        )

    def _mark_down(self, message: str) -> None:
        self._ready, self._error = False, message

    async def _require_ready(self) -> None:
        await self.start()
        if not self._ready:
            raise Unavailable(self._error or f"The engine at {self._base_url} is not available")


def _wire_messages(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    wire: list[dict[str, Any]] = []
    for m in messages:
        message: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            message["content"] = m.content or None
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ]
        if m.role == "tool":
            message["tool_call_id"] = m.tool_call_id
        wire.append(message)
    return wire


def _tool_fields(tools: tuple[ToolSpec, ...]) -> dict[str, Any]:
    return {
        "tools": [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": json.loads(t.parameters)},
            }
            for t in tools
        ]
    }


def _constraint_fields(request: GenerationRequest) -> dict[str, Any]:
    """``response_format`` / ``tools`` for the engine, which enforces them itself."""
    constraint = request.constraint
    fields = _tool_fields(request.tools) if request.tools else {}
    if constraint is None:
        return fields
    if constraint.kind == "json":
        if constraint.json_schema:
            schema = json.loads(constraint.json_schema)
            fields["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": schema, "strict": True},
            }
        else:
            fields["response_format"] = {"type": "json_object"}
        return fields
    if constraint.required and len(constraint.tools) == 1 and len(request.tools) > 1:
        fields["tool_choice"] = {"type": "function", "function": {"name": constraint.tools[0].name}}
    else:
        fields["tool_choice"] = "required" if constraint.required else "auto"
    fields["parallel_tool_calls"] = constraint.parallel
    return fields


def _parse(data: str) -> _Chunk | None:
    if data.strip() == "[DONE]":
        return _Chunk(done=True)
    try:
        payload = json.loads(data)
    except ValueError:
        return _Chunk(error=f"the engine sent an event that is not JSON: {data[:200]!r}")
    if not isinstance(payload, dict):
        return None
    if "error" in payload or payload.get("object") == "error":
        error = payload.get("error", payload)
        message = error.get("message") if isinstance(error, dict) else error
        return _Chunk(error=str(message or "the engine reported an error"))
    chunk = _Chunk()
    for choice in payload.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or {}
        if "delta" in choice:
            content = delta.get("content") if isinstance(delta, dict) else None
        else:  # a legacy completion chunk
            content = choice.get("text")
        if isinstance(content, str):
            chunk.text += content
        chunk.logprobs.extend(_parse_logprobs(choice.get("logprobs")))
        for call in (delta.get("tool_calls") if isinstance(delta, dict) else None) or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                name, arguments = function.get("name"), function.get("arguments")
                chunk.calls.append(
                    (name if isinstance(name, str) else None, arguments if isinstance(arguments, str) else "")
                )
        if choice.get("finish_reason"):
            chunk.finish_reason = str(choice["finish_reason"])
    usage = payload.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        chunk.completion_tokens = usage["completion_tokens"]
        prompt = usage.get("prompt_tokens")
        chunk.prompt_tokens = prompt if isinstance(prompt, int) else None
    return chunk


def _parse_logprobs(raw: Any) -> list[TokenLogprobs]:
    """OpenAI's chat shape (``content: [{token, logprob, bytes, top_logprobs}]``) or the legacy one
    (``tokens``, ``token_logprobs``, ``top_logprobs: [{token: logprob}]``)."""
    if not isinstance(raw, dict):
        return []
    if isinstance(raw.get("content"), list):
        return [
            TokenLogprobs(_logprob(entry), tuple(_logprob(top) for top in entry.get("top_logprobs") or ()))
            for entry in raw["content"]
            if isinstance(entry, dict)
        ]
    tokens, values, tops = raw.get("tokens"), raw.get("token_logprobs"), raw.get("top_logprobs") or []
    if not isinstance(tokens, list) or not isinstance(values, list):
        return []
    parsed = []
    for i, (token, value) in enumerate(zip(tokens, values, strict=False)):
        top = tops[i] if i < len(tops) and isinstance(tops[i], dict) else {}
        parsed.append(
            TokenLogprobs(
                _logprob({"token": token, "logprob": value}),
                tuple(_logprob({"token": t, "logprob": v}) for t, v in top.items()),
            )
        )
    return parsed


def _logprob(entry: Any) -> TokenLogprob:
    token = str(entry.get("token", ""))
    raw = entry.get("bytes")
    value = entry.get("logprob")
    return TokenLogprob(
        token,
        tuple(raw) if isinstance(raw, list) else tuple(token.encode()),
        float(value) if isinstance(value, int | float) else float("-inf"),
    )


def _finish_reason(reason: str) -> FinishReason:
    if reason == "length":
        return "length"
    if reason in ("abort", "cancelled"):
        return "cancelled"
    return "stop"


def _json(response: httpx.Response | None) -> dict[str, Any]:
    if response is None:
        return {}
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _error_body(response: httpx.Response) -> dict[str, Any]:
    payload = _json(response)
    error = payload.get("error", payload)
    return error if isinstance(error, dict) else {"message": str(error)}


def _error_message(response: httpx.Response) -> str:
    body = _error_body(response)
    message = body.get("message") or body.get("detail")
    if isinstance(message, str) and message:
        return message
    text = response.text.strip()
    return text[:500] if text else f"HTTP {response.status_code}"


def _error_param(response: httpx.Response) -> str | None:
    param = _error_body(response).get("param")
    return param if isinstance(param, str) else None


def _error_code(response: httpx.Response) -> str | None:
    code = _error_body(response).get("code")
    return code if isinstance(code, str) else None


def _retry_after(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    try:
        return max(1, math.ceil(float(value)))
    except ValueError:
        return 1
