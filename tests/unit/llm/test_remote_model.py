"""The remote engine adapter against a fake OpenAI-compatible upstream (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from adapters.llm.remote import RemoteLanguageModel, RemoteModelSettings, estimate_prompt_tokens
from core.domain.errors import InvalidInput, Overloaded, Unavailable
from core.domain.generation import (
    ChatMessage,
    GenerationFinished,
    GenerationRequest,
    PromptAccepted,
    SamplingParams,
    TokenGenerated,
)

BASE = "http://engine.test/v1"
HELLO = (ChatMessage("user", "halo"),)


def chunk(content: str | None = None, finish: str | None = None, usage: dict | None = None) -> bytes:
    choices = [] if content is None and finish is None else [{"index": 0, "delta": {"content": content or ""}}]
    if finish:
        choices[0]["finish_reason"] = finish
    payload: dict[str, Any] = {"object": "chat.completion.chunk", "choices": choices}
    if usage is not None:
        payload["usage"] = usage
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def role_chunk() -> bytes:
    payload = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def answer(*words: str, prompt_tokens: int = 7) -> list[bytes]:
    frames = [role_chunk(), *(chunk(w) for w in words)]
    frames.append(chunk(finish="stop"))
    frames.append(chunk(usage={"prompt_tokens": prompt_tokens, "completion_tokens": len(words), "total_tokens": 0}))
    frames.append(b"data: [DONE]\n\n")
    return frames


class Body(httpx.AsyncByteStream):
    """An SSE body: frames, optionally a delay before each, optionally a failure after some of them."""

    def __init__(self, frames: list[bytes], *, break_after: int | None = None, hang: bool = False) -> None:
        self.frames = frames
        self.break_after = break_after
        self.hang = hang
        self.closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.hang:
            await asyncio.sleep(3600)
        for index, frame in enumerate(self.frames):
            if self.break_after is not None and index == self.break_after:
                raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
            yield frame
            await asyncio.sleep(0)

    async def aclose(self) -> None:
        self.closed.set()


class FakeEngine:
    """Routes of an OpenAI-compatible engine; ``completions`` is a list of responders, one per call."""

    def __init__(self) -> None:
        self.models: dict[str, Any] = {"data": [{"id": "org/model", "max_model_len": 4096}, {"id": "org/other"}]}
        self.completions: list[Callable[[], httpx.Response]] = []
        self.tokenize: Callable[[dict], httpx.Response] | None = lambda body: httpx.Response(
            200, json={"count": 11, "max_model_len": 4096}
        )
        self.calls: list[tuple[str, str, dict[str, Any] | None, httpx.Headers]] = []
        self.models_status = 200

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body, request.headers))
        if request.url.path == "/v1/models":
            if self.models_status != 200:
                return httpx.Response(self.models_status, json={"error": {"message": "down"}})
            return httpx.Response(200, json=self.models)
        if request.url.path == "/tokenize":
            if self.tokenize is None:
                return httpx.Response(404, json={"detail": "Not Found"})
            return self.tokenize(body or {})
        if request.url.path in ("/v1/chat/completions", "/v1/completions"):
            if not self.completions:
                raise AssertionError("unexpected completion request")
            return self.completions.pop(0)()
        if request.url.path.startswith("/v1/cancel/"):
            return httpx.Response(200, json={"cancelled": True})
        return httpx.Response(404, json={"error": {"message": "no route"}})

    def paths(self, path: str) -> list[dict[str, Any] | None]:
        return [body for _, p, body, _ in self.calls if p == path]


def sse(body: Body, headers: dict[str, str] | None = None) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(200, headers={"content-type": "text/event-stream", **(headers or {})}, stream=body)


def fail(status: int, message: str = "boom", headers: dict[str, str] | None = None, param: str | None = None):  # type: ignore[no-untyped-def]
    error = {"message": message, "type": "x", "param": param, "code": None}
    return lambda: httpx.Response(status, json={"error": error}, headers=headers)


def connection_refused() -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused")


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


def make(engine: FakeEngine, **changes: Any) -> RemoteLanguageModel:
    values: dict[str, Any] = {
        "base_url": BASE,
        "api_key": "sk-engine",
        "timeout_seconds": 2.0,
        "backoff_base_seconds": 0.005,
        "backoff_max_seconds": 0.02,
    }
    values.update(changes)
    return RemoteLanguageModel(RemoteModelSettings(**values), transport=httpx.MockTransport(engine.handler))


def request(**sampling: Any) -> GenerationRequest:
    stop = sampling.pop("stop", ())
    return GenerationRequest(HELLO, SamplingParams(**({"max_tokens": 16} | sampling)), stop=stop)


async def run(model: RemoteLanguageModel, req: GenerationRequest | None = None) -> list[Any]:
    async with contextlib.aclosing(model.generate(req or request())) as events:  # type: ignore[type-var]
        return [e async for e in events]


async def test_discovery_takes_the_first_model_and_its_context_length(engine: FakeEngine) -> None:
    model = make(engine)
    await model.start()
    info = model.info()
    assert (info.model_id, info.context_length, info.ready, info.error) == ("org/model", 4096, True, None)
    assert engine.calls[0][3]["authorization"] == "Bearer sk-engine"


async def test_llm_model_picks_a_served_model_and_max_context_tokens_applies(engine: FakeEngine) -> None:
    model = make(engine, model="org/other", max_context_tokens=1024)
    await model.start()
    assert (model.info().model_id, model.info().context_length) == ("org/other", 1024)
    capped = make(engine, max_context_tokens=1024)
    await capped.start()
    assert capped.info().context_length == 1024  # the card's 4096 is capped


async def test_an_llm_model_the_engine_does_not_serve_is_reported(engine: FakeEngine) -> None:
    model = make(engine, model="org/missing")
    await model.start()
    assert not model.info().ready
    assert "org/missing" in (model.info().error or "") and "org/model" in (model.info().error or "")
    with pytest.raises(Unavailable, match="org/missing"):
        await model.count_prompt_tokens(HELLO)


async def test_streams_text_with_the_engines_usage_and_sends_messages_and_sampling(engine: FakeEngine) -> None:
    engine.completions.append(sse(Body(answer("Halo", " juga", prompt_tokens=9))))
    model = make(engine)
    req = request(temperature=0.2, top_p=0.9, top_k=20, seed=5, frequency_penalty=0.4, stop=("END",))
    events = await run(model, req)
    assert isinstance(events[0], PromptAccepted)
    assert [e.text for e in events if isinstance(e, TokenGenerated)] == ["Halo", " juga"]
    assert events[-1] == GenerationFinished(reason="stop", completion_tokens=2, prompt_tokens=9)
    (body,) = engine.paths("/v1/chat/completions")
    assert body == {
        "model": "org/model",
        "messages": [{"role": "user", "content": "halo"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 16,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 20,
        "frequency_penalty": 0.4,
        "seed": 5,
        "stop": ["END"],
    }


async def test_defaults_are_not_sent_so_strict_engines_accept_the_request(engine: FakeEngine) -> None:
    engine.completions.append(sse(Body(answer("ok"))))
    await run(make(engine))
    (body,) = engine.paths("/v1/chat/completions")
    assert not {"top_k", "seed", "stop", "presence_penalty", "frequency_penalty"} & set(body or {})


async def test_length_finish_is_mapped(engine: FakeEngine) -> None:
    frames = [chunk("a"), chunk(finish="length"), b"data: [DONE]\n\n"]
    engine.completions.append(sse(Body(frames)))
    events = await run(make(engine))
    assert events[-1] == GenerationFinished(reason="length", completion_tokens=1, prompt_tokens=None)


async def test_upstream_429_becomes_overloaded_with_its_retry_after_and_is_not_retried(engine: FakeEngine) -> None:
    engine.completions.append(fail(429, "queue full", {"Retry-After": "7"}))
    with pytest.raises(Overloaded) as raised:
        await run(make(engine))
    assert raised.value.retry_after_seconds == 7 and "queue full" in raised.value.message
    assert len(engine.paths("/v1/chat/completions")) == 1


async def test_upstream_4xx_becomes_invalid_input_with_its_message(engine: FakeEngine) -> None:
    engine.completions.append(fail(400, "This model's maximum context length is 4096 tokens", param="messages"))
    with pytest.raises(InvalidInput) as raised:
        await run(make(engine))
    assert raised.value.message == "This model's maximum context length is 4096 tokens"
    assert raised.value.field == "messages"
    assert len(engine.paths("/v1/chat/completions")) == 1


async def test_refused_credentials_are_a_configuration_problem_not_the_callers(engine: FakeEngine) -> None:
    engine.completions.append(fail(401, "invalid key"))
    model = make(engine)
    with pytest.raises(Unavailable, match="LLM_API_KEY"):
        await run(model)
    assert not model.info().ready and "LLM_API_KEY" in (model.info().error or "")


async def test_5xx_and_connection_errors_before_the_first_token_are_retried(engine: FakeEngine) -> None:
    engine.completions += [fail(503, "loading"), connection_refused, sse(Body(answer("done")))]
    events = await run(make(engine))
    assert [e.text for e in events if isinstance(e, TokenGenerated)] == ["done"]
    assert len(engine.paths("/v1/chat/completions")) == 3


async def test_a_stream_that_breaks_before_its_first_token_is_retried(engine: FakeEngine) -> None:
    engine.completions += [sse(Body(answer("lost"), break_after=1)), sse(Body(answer("kept")))]
    events = await run(make(engine))
    assert [e.text for e in events if isinstance(e, TokenGenerated)] == ["kept"]


async def test_a_stream_that_breaks_after_a_token_is_never_retried(engine: FakeEngine) -> None:
    engine.completions += [sse(Body(answer("one", " two", " three"), break_after=3)), sse(Body(answer("again")))]
    model = make(engine)
    seen: list[str] = []
    with pytest.raises(Unavailable, match="stopped in the middle"):
        async with contextlib.aclosing(model.generate(request())) as events:  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, TokenGenerated):
                    seen.append(event.text)
    assert seen == ["one", " two"]
    assert len(engine.paths("/v1/chat/completions")) == 1


async def test_a_stream_that_ends_without_finishing_is_an_error(engine: FakeEngine) -> None:
    engine.completions.append(sse(Body([chunk("half")])))
    with pytest.raises(Unavailable, match="before the generation finished"):
        await run(make(engine))


async def test_an_unreachable_engine_is_unavailable_within_the_timeout(engine: FakeEngine) -> None:
    engine.completions += [connection_refused] * 1000
    model = make(engine, timeout_seconds=0.3)
    await model.start()
    with pytest.raises(Unavailable, match="unreachable or failing") as raised:
        await run(model)
    assert "LLM_TIMEOUT_SECONDS=0.3" in raised.value.message
    attempts = len(engine.paths("/v1/chat/completions"))
    assert 1 < attempts < 1000
    assert not model.info().ready and "unreachable" in (model.info().error or "")


async def test_an_engine_that_never_answers_is_unavailable_within_the_timeout(engine: FakeEngine) -> None:
    hanging = Body(answer("late"), hang=True)
    engine.completions += [sse(hanging)] * 100
    model = make(engine, timeout_seconds=0.3)
    with pytest.raises(Unavailable, match="unreachable or failing"):
        await run(model)
    assert hanging.closed.is_set(), "an abandoned attempt must close its upstream response"


async def test_discovery_failure_is_reported_and_retried_later(engine: FakeEngine) -> None:
    engine.models_status = 502
    model = make(engine, timeout_seconds=0.2)
    await model.start()
    assert not model.info().ready and "HTTP 502" in (model.info().error or "")
    engine.models_status = 200
    assert (await model.probe()).ready
    await model.start()
    assert model.info().ready and model.info().error is None


async def test_probe_reports_an_engine_that_went_away(engine: FakeEngine) -> None:
    model = make(engine)
    await model.start()
    engine.models_status = 503
    info = await model.probe()
    assert not info.ready and "unreachable or failing" in (info.error or "")


async def test_closing_early_closes_the_upstream_and_cancels_its_named_session(engine: FakeEngine) -> None:
    body = Body(answer(*[f" w{i}" for i in range(50)]))
    engine.completions.append(sse(body, {"X-Session-ID": "chatcmpl-up"}))
    model = make(engine)
    async with contextlib.aclosing(model.generate(request())) as events:  # type: ignore[type-var]
        async for event in events:
            if isinstance(event, TokenGenerated):
                break
    assert body.closed.is_set()
    await model.close()  # waits for the background cancel
    assert any(p == "/v1/cancel/chatcmpl-up" for _, p, _, _ in engine.calls)


async def test_a_finished_generation_sends_no_cancel(engine: FakeEngine) -> None:
    engine.completions.append(sse(Body(answer("ok")), {"X-Session-ID": "chatcmpl-up"}))
    model = make(engine)
    await run(model)
    await model.close()
    assert not any(p.startswith("/v1/cancel/") for _, p, _, _ in engine.calls)


async def test_prompt_tokens_come_from_the_engines_tokenize(engine: FakeEngine) -> None:
    model = make(engine)
    assert await model.count_prompt_tokens(HELLO) == 11
    (body,) = engine.paths("/tokenize")
    assert body == {
        "model": "org/model",
        "messages": [{"role": "user", "content": "halo"}],
        "add_generation_prompt": True,
    }


async def test_without_tokenize_the_count_is_a_high_estimate_and_not_asked_again(engine: FakeEngine) -> None:
    engine.tokenize = None
    model = make(engine)
    messages = (ChatMessage("system", "Kamu asisten belanja."), ChatMessage("user", "laptop gaming 12 juta"))
    first = await model.count_prompt_tokens(messages)
    assert first == estimate_prompt_tokens(messages) == await model.count_prompt_tokens(messages)
    assert len(engine.paths("/tokenize")) == 1
    # Higher than a real tokenizer's count for prose (about 4 bytes per token).
    assert first >= sum(len(m.content) for m in messages) / 4 + 2 * 4


async def test_connections_are_bounded_and_the_queue_past_them_is_refused(engine: FakeEngine) -> None:
    engine.completions += [sse(Body(answer(*["x"] * 5))), sse(Body(answer("y")))]
    model = make(engine, max_connections=1, max_queued_requests=0)
    first = model.generate(request())
    assert isinstance(await anext(first), PromptAccepted)  # type: ignore[call-overload]
    with pytest.raises(Overloaded, match="connections to the engine are busy"):
        await run(model)
    await first.aclose()  # type: ignore[attr-defined]
    assert [e.text for e in await run(model) if isinstance(e, TokenGenerated)] == ["y"]


async def test_a_mid_stream_error_event_is_reported(engine: FakeEngine) -> None:
    frames = [chunk("a"), b'data: {"error": {"message": "engine crashed"}}\n\n']
    engine.completions.append(sse(Body(frames)))
    with pytest.raises(Unavailable, match="engine crashed"):
        await run(make(engine))


async def test_an_engine_that_does_not_stream_is_a_configuration_problem(engine: FakeEngine) -> None:
    engine.completions.append(lambda: httpx.Response(200, json={"choices": []}))
    model = make(engine)
    with pytest.raises(Unavailable, match="not SSE"):
        await run(model)
    assert len(engine.paths("/v1/chat/completions")) == 1 and not model.info().ready


def frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


async def test_sampling_extensions_and_logprobs_pass_through_and_come_back(engine: FakeEngine) -> None:
    entry = {
        "token": " hi",
        "logprob": -0.5,
        "bytes": [32, 104, 105],
        "top_logprobs": [{"token": " hi", "logprob": -0.5, "bytes": [32, 104, 105]}],
    }
    two = {"index": 0, "delta": {"content": " hi!"}, "logprobs": {"content": [entry, entry | {"token": "!"}]}}
    frames = [role_chunk(), frame({"choices": [two]}), chunk(finish="stop"), b"data: [DONE]\n\n"]
    engine.completions.append(sse(Body(frames)))
    sampling = {"min_p": 0.1, "repetition_penalty": 1.3, "logit_bias": ((5, -100.0),), "logprobs": 1}
    events = await run(make(engine), request(**sampling))
    body = engine.paths("/v1/chat/completions")[0] or {}
    assert (body["min_p"], body["repetition_penalty"], body["logit_bias"]) == (0.1, 1.3, {"5": -100.0})
    assert (body["logprobs"], body["top_logprobs"]) == (True, 1)
    tokens = [e for e in events if isinstance(e, TokenGenerated)]
    assert [t.text for t in tokens] == [" hi!", ""], "the chunk's text comes once, with its first token"
    assert [t.logprobs.chosen.token for t in tokens if t.logprobs] == [" hi", "!"]
    assert tokens[0].logprobs is not None and tokens[0].logprobs.chosen.bytes == (32, 104, 105)
    assert tokens[0].logprobs.top[0].logprob == -0.5


async def test_defaults_send_no_extension_fields(engine: FakeEngine) -> None:
    engine.completions.append(sse(Body(answer("ok"))))
    await run(make(engine))
    body = engine.paths("/v1/chat/completions")[0] or {}
    assert not {"min_p", "repetition_penalty", "logit_bias", "logprobs", "top_logprobs"} & set(body)


async def test_a_raw_prompt_goes_to_the_engines_legacy_completions(engine: FakeEngine) -> None:
    legacy = {
        "index": 0,
        "text": " there",
        "logprobs": {"tokens": [" there"], "token_logprobs": [-1.5], "top_logprobs": [{" there": -1.5, " you": -2.0}]},
    }
    frames = [frame({"choices": [legacy]}), frame({"choices": [{"index": 0, "text": "", "finish_reason": "length"}]})]
    engine.completions.append(sse(Body([*frames, b"data: [DONE]\n\n"])))
    model = make(engine)
    assert await model.count_text_tokens("hello") == 11
    raw = GenerationRequest((), SamplingParams(max_tokens=1, logprobs=2), prompt_text="hello")
    events = await run(model, raw)
    body = engine.paths("/v1/completions")[0] or {}
    assert body["prompt"] == "hello" and "messages" not in body and body["logprobs"] == 2
    assert engine.paths("/tokenize")[-1] == {"model": "org/model", "prompt": "hello"}
    [token] = [e for e in events if isinstance(e, TokenGenerated)]
    assert token.text == " there" and token.logprobs is not None
    assert [(t.token, t.logprob) for t in token.logprobs.top] == [(" there", -1.5), (" you", -2.0)]
    assert isinstance(events[0], PromptAccepted) and events[0].prompt_tokens == 11
    assert isinstance(events[-1], GenerationFinished) and events[-1].reason == "length"


def tool_chunk(call: dict[str, Any], finish: str | None = None) -> bytes:
    choice: dict[str, Any] = {"index": 0, "delta": {"tool_calls": [call]}}
    if finish:
        choice["finish_reason"] = finish
    return b"data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice]}).encode() + b"\n\n"


async def test_response_format_and_tools_are_passed_through_and_calls_come_back_as_call_text(
    engine: FakeEngine,
) -> None:
    from core.domain.generation import OutputConstraint, ToolCall, ToolSpec
    from core.inference.tool_calls import format_call, parse_tool_output

    frames = [
        role_chunk(),
        tool_chunk({"index": 0, "id": "up_1", "type": "function", "function": {"name": "f", "arguments": ""}}),
        tool_chunk({"index": 0, "function": {"arguments": '{"a": '}}),
        tool_chunk({"index": 0, "function": {"arguments": "1}"}}),
        chunk(finish="tool_calls"),
        b"data: [DONE]\n\n",
    ]
    engine.completions.append(sse(Body(frames)))
    engine.completions.append(sse(Body(answer("{}"))))
    model = make(engine)
    tools = (ToolSpec("f", '{"type":"object"}', "does f"), ToolSpec("g"))
    history = (
        *HELLO,
        ChatMessage("assistant", "", (ToolCall("call_1", "g", "{}"),)),
        ChatMessage("tool", "done", tool_call_id="call_1"),
    )
    named = OutputConstraint("tool_calls", tools=tools[:1], required=True, parallel=False)
    events = await run(model, GenerationRequest(history, SamplingParams(max_tokens=16), constraint=named, tools=tools))
    text = "".join(e.text for e in events if isinstance(e, TokenGenerated))
    assert text == format_call("f", '{"a": 1}')
    assert [(c.name, c.arguments) for c in parse_tool_output(text)[1]] == [("f", '{"a": 1}')]
    assert events[-1].reason == "stop"  # the use case tells tool_calls from the text
    schema = OutputConstraint("json", json_schema='{"type":"object"}')
    await run(model, GenerationRequest(HELLO, SamplingParams(max_tokens=16), constraint=schema))
    tools_body, json_body = engine.paths("/v1/chat/completions")
    assert tools_body["tools"] == [
        {"type": "function", "function": {"name": "f", "description": "does f", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "g", "description": "", "parameters": {"type": "object"}}},
    ]
    assert tools_body["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert tools_body["parallel_tool_calls"] is False
    assert tools_body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "g", "arguments": "{}"}}],
        },
        {"role": "tool", "content": "done", "tool_call_id": "call_1"},
    ]
    assert json_body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}, "strict": True},
    }
