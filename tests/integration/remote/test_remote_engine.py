"""`--role api` in front of a real `marketplace serve --role engine` child process (the embedded model)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import openai
import pytest

from tests.integration.live_server import free_port
from tests.integration.processes import ServedProcess, engine_env, metric, model_ready, serve_process, wait_until
from tests.integration.sse_client import sse_events

pytestmark = pytest.mark.model

EMBEDDED = "HuggingFaceTB/SmolLM2-135M-Instruct"
FRUITS = [{"role": "user", "content": "Name three fruits."}]
STORY = [{"role": "user", "content": "Write a very long story about a cat who travels around the world."}]


def text_of(events: list[tuple[str | None, str]]) -> str:
    chunks = [json.loads(d) for _, d in events if d != "[DONE]"]
    return "".join(c["delta"].get("content") or "" for chunk in chunks for c in chunk.get("choices", []))


def finish_reasons(events: list[tuple[str | None, str]]) -> list[str]:
    chunks = [json.loads(d) for _, d in events if d != "[DONE]"]
    return [c["finish_reason"] for chunk in chunks for c in chunk.get("choices", []) if c.get("finish_reason")]


async def stream(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> list[tuple[str | None, str]]:
    async with httpx.AsyncClient(timeout=300) as client:
        async with client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers or {}) as response:
            assert response.status_code == 200, await response.aread()
            return [event async for event in sse_events(response)]


def running_on(engine: ServedProcess) -> float:
    return metric(engine.url, "llm_requests_running")


async def test_plain_and_streamed_completions_carry_the_engines_text_and_usage(
    front: str, engine: ServedProcess
) -> None:
    body = {"messages": FRUITS, "max_tokens": 6, "temperature": 0}
    async with httpx.AsyncClient(timeout=300) as client:
        direct = (await client.post(f"{engine.url}/v1/chat/completions", json=body)).json()
        plain = await client.post(f"{front}/v1/chat/completions", json=body)
        tokenized = (await client.post(f"{engine.url}/tokenize", json={"messages": FRUITS})).json()
    assert tokenized == {"count": direct["usage"]["prompt_tokens"], "max_model_len": 2048}
    assert plain.status_code == 200, plain.text
    answer = plain.json()
    assert answer["model"] == direct["model"] == EMBEDDED
    assert answer["choices"][0]["message"]["content"] == direct["choices"][0]["message"]["content"]
    assert answer["choices"][0]["finish_reason"] == direct["choices"][0]["finish_reason"]
    assert answer["usage"] == direct["usage"], "usage comes from the engine"

    events = await stream(front, {**body, "stream": True, "stream_options": {"include_usage": True}})
    assert events[-1][1] == "[DONE]"
    assert text_of(events) == direct["choices"][0]["message"]["content"]
    usage = json.loads(events[-2][1])["usage"]
    assert usage == direct["usage"]


async def test_models_and_the_context_check_come_from_the_engine(front: str, engine: ServedProcess) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        assert (await client.get(f"{engine.url}/api/products")).status_code == 404, "an engine serves only /v1"
        models = (await client.get(f"{front}/v1/models")).json()
        assert [(m["id"], m["max_model_len"]) for m in models["data"]] == [(EMBEDDED, 2048)]
        health = (await client.get(f"{front}/health")).json()
        assert health["modelReady"] is True and health["modelId"] == EMBEDDED
        ready = await client.get(f"{front}/health/ready")
        assert ready.status_code == 200 and ready.json()["checks"]["model"] == "ok", ready.text
        too_long = await client.post(f"{front}/v1/chat/completions", json={"messages": FRUITS, "max_tokens": 4000})
    assert too_long.status_code == 400
    error = too_long.json()["error"]
    assert error["code"] == "context_length_exceeded" and "2048" in error["message"]


async def test_the_openai_client_works_through_the_front(front: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{front}/v1", api_key="unused", max_retries=0, timeout=300)
    assert [m.id async for m in client.models.list()] == [EMBEDDED]
    completion = await client.chat.completions.create(model=EMBEDDED, messages=FRUITS, max_tokens=4, temperature=0)  # type: ignore[arg-type]
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens == 4
    chunks = await client.chat.completions.create(
        model=EMBEDDED,
        messages=FRUITS,  # type: ignore[arg-type]
        max_tokens=4,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    parts, usage = [], None
    async for chunk in chunks:
        parts += [c.delta.content or "" for c in chunk.choices]
        usage = chunk.usage or usage
    assert "".join(parts) == completion.choices[0].message.content
    assert usage is not None and usage.total_tokens == completion.usage.total_tokens


async def test_resume_and_cancel_through_the_front_close_the_upstream_request(
    front: str, engine: ServedProcess
) -> None:
    session_id = f"remote-{uuid.uuid4().hex[:8]}"
    body = {"messages": STORY, "stream": True, "session_id": session_id, "max_tokens": 1500, "temperature": 0}
    async with httpx.AsyncClient(timeout=300) as client:
        async with client.stream("POST", f"{front}/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            async for event_id, _ in sse_events(response):
                if event_id == f"{session_id}:3":
                    break  # the client drops; the generation goes on
        assert running_on(engine) == 1
        resumed: list[tuple[str | None, str]] = []
        headers = {"Last-Event-ID": f"{session_id}:3"}
        async with client.stream("POST", f"{front}/v1/chat/completions", json=body, headers=headers) as response:
            assert response.status_code == 200
            async for event in sse_events(response):
                resumed.append(event)
                if len(resumed) == 3:
                    cancel = await client.post(f"{front}/v1/cancel/{session_id}")
                    assert cancel.status_code == 200, cancel.text
    assert resumed[0][0] == f"{session_id}:4", "the resume continues where the client left"
    assert resumed[-1][1] == "[DONE]" and finish_reasons(resumed) == ["cancelled"]
    wait_until(lambda: running_on(engine) == 0, what="the engine's generation to stop")


async def test_an_engine_killed_mid_stream_ends_the_stream_with_an_error_then_done(front_factory) -> None:  # type: ignore[no-untyped-def]
    with serve_process("engine", engine_env(), ready=model_ready) as doomed:
        front = front_factory(doomed.url)
        body = {"messages": STORY, "stream": True, "max_tokens": 1500, "temperature": 0}
        events: list[tuple[str | None, str]] = []
        async with httpx.AsyncClient(timeout=300) as client:
            async with client.stream("POST", f"{front}/v1/chat/completions", json=body) as response:
                assert response.status_code == 200
                async for event in sse_events(response):
                    events.append(event)
                    if len(events) == 3:
                        doomed.kill()
    assert events[-1][1] == "[DONE]"
    error = json.loads(events[-2][1])["error"]
    assert "stopped in the middle of the answer" in error["message"]
    assert error["type"] == "service_unavailable_error"
    assert text_of(events[:-2]), "the tokens sent before the crash stay sent"


async def test_an_engine_that_is_down_gives_503_within_the_timeout(front_factory) -> None:  # type: ignore[no-untyped-def]
    front = front_factory(f"http://127.0.0.1:{free_port()}", llm_timeout_seconds=1.0)
    # The client gives up long before a hang would end: an answer at all proves the timeout held.
    async with httpx.AsyncClient(timeout=20) as client:
        plain = await client.post(f"{front}/v1/chat/completions", json={"messages": FRUITS})
        streamed = await client.post(f"{front}/v1/chat/completions", json={"messages": FRUITS, "stream": True})
        models = await client.get(f"{front}/v1/models")
        health = (await client.get(f"{front}/health")).json()
        ready = await client.get(f"{front}/health/ready")
    for response in (plain, streamed, models):
        assert response.status_code == 503, response.text
        assert "is unreachable or failing" in response.json()["error"]["message"]
    assert health["modelReady"] is False and "unreachable" in health["error"]
    assert ready.status_code == 503 and ready.json()["not_ready"] == ["model"]
    assert "unreachable" in ready.json()["checks"]["model"]
