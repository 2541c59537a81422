"""The official ``openai`` client against the server running the real SmolLM2 model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from entrypoints.bootstrap.container import build_container
from entrypoints.http.app import create_app
from tests.integration.conftest import real_model_settings
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider, make_settings
from tests.integration.sse_client import sse_events

pytestmark = pytest.mark.model
QUESTION = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture
def server(real_model, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    with live_server(create_app(settings, build_container(settings, FakeModelProvider(real_model)))) as url:
        yield url


def test_sync_client_plain_completion_with_real_usage(server: str, real_model) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused")
    model_id = client.models.list().data[0].id
    completion = client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=16, temperature=0)
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    from core.domain.generation import ChatMessage

    prompt_tokens = asyncio.run(real_model.count_prompt_tokens((ChatMessage("user", "Name three colours."),)))
    assert completion.usage.prompt_tokens == prompt_tokens
    assert 1 <= completion.usage.completion_tokens <= 16
    if choice.finish_reason == "length":
        assert completion.usage.completion_tokens == 16


async def test_async_client_stream_with_usage(server: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{server}/v1", api_key="unused")
    stream = await client.chat.completions.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        messages=QUESTION,
        max_tokens=12,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish = [], None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(text).strip()
    assert usage is not None and usage.completion_tokens >= 1 and usage.prompt_tokens > 5
    assert finish in ("stop", "length")
    plain = await client.chat.completions.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct", messages=QUESTION, max_tokens=12, temperature=0
    )
    assert plain.choices[0].message.content == "".join(text), "greedy stream and plain answers agree"


def test_errors_surface_as_the_clients_bad_request_error(server: str) -> None:
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused")
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(
            model="HuggingFaceTB/SmolLM2-135M-Instruct", messages=QUESTION, max_tokens=100_000
        )
    assert "2048" in str(error.value) and "max_tokens" in str(error.value)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)


def test_same_seed_same_text_and_seeds_are_independent(server: str) -> None:
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused")

    def sample(seed: int) -> str:
        completion = client.chat.completions.create(
            model="HuggingFaceTB/SmolLM2-135M-Instruct",
            messages=[{"role": "user", "content": "Tell a story."}],
            max_tokens=24,
            temperature=1.0,
            seed=seed,
        )
        return completion.choices[0].message.content or ""

    first = sample(7)
    assert sample(7) == first
    assert len({first, sample(8), sample(9)}) > 1


async def test_stream_cut_and_resumed_equals_uninterrupted(server: str) -> None:
    body = {
        "messages": [{"role": "user", "content": "Count from one to twenty."}],
        "stream": True,
        "max_tokens": 40,
        "temperature": 0.9,
        "seed": 3,
        "session_id": "resume-real",
    }
    async with httpx.AsyncClient(base_url=server, timeout=120) as client:
        cut = []
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for event in sse_events(response):
                cut.append(event)
                if len(cut) == 6:
                    break
        async with client.stream(
            "POST", "/v1/chat/completions", json=body, headers={"Last-Event-ID": cut[-1][0]}
        ) as response:
            rest = [e async for e in sse_events(response)]
        uninterrupted_body = body | {"session_id": "resume-real-2"}
        async with client.stream("POST", "/v1/chat/completions", json=uninterrupted_body) as response:
            whole = [e async for e in sse_events(response)]

    def text(events: list) -> str:  # type: ignore[type-arg]
        return "".join(
            c["delta"].get("content") or "" for _, d in events if d != "[DONE]" for c in json.loads(d)["choices"]
        )

    assert rest[-1][1] == "[DONE]"
    assert text(cut + rest) == text(whole), "same seed, same input: the resumed stream equals a fresh one"


async def test_cancel_frees_the_only_batch_slot(tmp_path: Path) -> None:
    from adapters.llm import TransformersLanguageModel

    model = TransformersLanguageModel(real_model_settings(max_batch_size=1, max_queued_requests=1))
    await model.start()
    settings = make_settings(tmp_path)
    try:
        with live_server(create_app(settings, build_container(settings, FakeModelProvider(model)))) as url:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                essay = [{"role": "user", "content": "Write a very long essay about the history of Indonesia."}]
                long = {
                    "messages": essay,
                    "stream": True,
                    "max_tokens": 1000,
                    "session_id": "hog",
                    "temperature": 0,
                }
                async with client.stream("POST", "/v1/chat/completions", json=long) as response:
                    async for _ in sse_events(response):
                        break  # the generation goes on without us
                cancelled = await client.post("/v1/cancel/hog")
                assert cancelled.status_code == 200
                await asyncio.sleep(0.5)
                freed = await client.post("/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 4})
                assert freed.status_code == 200, "the cancelled request's slot was freed"
                async with client.stream(
                    "POST", "/v1/chat/completions", json=long, headers={"Last-Event-ID": "hog:-1"}
                ) as response:
                    events = [e async for e in sse_events(response)]
                assert json.loads(events[-2][1])["choices"][0]["finish_reason"] == "cancelled"
    finally:
        await model.close()
