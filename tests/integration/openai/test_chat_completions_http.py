"""/v1 over real HTTP with the fake model: wire format, resume, cancel, errors, auth."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from core.domain.errors import Overloaded
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.sse_client import sse_events

HELLO = [{"role": "user", "content": "hello there"}]


async def stream_all(client: httpx.AsyncClient, body: dict, **kwargs) -> list[tuple[str | None, str]]:  # type: ignore[no-untyped-def]
    async with client.stream("POST", "/v1/chat/completions", json=body, **kwargs) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        return [e async for e in sse_events(response)]


def text_of(events: list[tuple[str | None, str]]) -> str:
    parts = []
    for _, data in events:
        if data == "[DONE]":
            continue
        for choice in json.loads(data).get("choices", []):
            parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


async def test_non_streaming_completion_has_openai_shape(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/chat/completions", json={"model": "test/fake-model", "messages": HELLO, "max_tokens": 5}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"] == "You said: hello there. w0"
    assert body["choices"][0]["finish_reason"] == "length"
    usage = body["usage"]
    assert usage["completion_tokens"] == 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + 5


async def test_stream_events_carry_resumable_ids_and_end_with_done(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        events = await stream_all(client, {"messages": HELLO, "stream": True, "session_id": "abc", "max_tokens": 4})
    ids = [event_id for event_id, _ in events]
    assert ids == [f"abc:{i}" for i in range(len(events))]
    assert events[-1][1] == "[DONE]"
    first = json.loads(events[0][1])
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"]["role"] == "assistant"
    last = json.loads(events[-2][1])
    assert last["choices"][0]["finish_reason"] == "length"
    assert text_of(events) == "You said: hello there."


async def test_include_usage_adds_a_final_usage_chunk(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        events = await stream_all(
            client,
            {"messages": HELLO, "stream": True, "max_tokens": 3, "stream_options": {"include_usage": True}},
        )
    usage_chunk = json.loads(events[-2][1])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 3
    assert all(json.loads(d)["usage"] is None for _, d in events[:-2])


async def test_stream_cut_after_k_events_and_resumed_equals_the_whole(base_url: str) -> None:
    body = {"messages": HELLO, "stream": True, "session_id": "cut-me", "max_tokens": 30}
    async with httpx.AsyncClient(base_url=base_url) as client:
        cut: list[tuple[str | None, str]] = []
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for event in sse_events(response):
                cut.append(event)
                if len(cut) == 5:
                    break  # drop the connection mid-stream
        last_id = cut[-1][0]
        assert last_id == "cut-me:4"
        rest = await stream_all(client, body, headers={"Last-Event-ID": last_id})
        whole = await stream_all(client, body | {}, params={"last_event_id": "cut-me:-1"})
    assert rest[0][0] == "cut-me:5"
    assert text_of(cut + rest) == text_of(whole)
    assert cut + rest == whole
    assert len(text_of(whole).split()) == 30


async def test_resume_of_unknown_session_is_a_clear_404(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"messages": HELLO, "stream": True},
            headers={"Last-Event-ID": "never-seen:3"},
        )
    assert response.status_code == 404
    assert "never-seen" in response.json()["error"]["message"]


async def test_cancel_ends_followers_with_a_final_chunk(base_url: str, fake_model: FakeLanguageModel) -> None:
    fake_model.step_delay = 0.05
    body = {"messages": HELLO, "stream": True, "session_id": "to-cancel", "max_tokens": 40}
    async with httpx.AsyncClient(base_url=base_url) as client:

        async def follow() -> list[tuple[str | None, str]]:
            return await stream_all(client, body)

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.3)
        response = await client.post("/v1/cancel/to-cancel")
        assert response.status_code == 200 and response.json() == {
            "session_id": "to-cancel",
            "cancelled": True,
        }
        events = await asyncio.wait_for(follower, timeout=5)
    assert events[-1][1] == "[DONE]"
    assert json.loads(events[-2][1])["choices"][0]["finish_reason"] == "cancelled"
    assert len(text_of(events).split()) < 40
    assert fake_model.cancelled == 1


async def test_cancel_unknown_session_is_404(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/cancel/nobody")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


async def test_a_client_that_disconnects_does_not_stop_the_generation(
    base_url: str, fake_model: FakeLanguageModel
) -> None:
    body = {"messages": HELLO, "stream": True, "session_id": "keep-going", "max_tokens": 20}
    async with httpx.AsyncClient(base_url=base_url) as client:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for _ in sse_events(response):
                break
        await asyncio.sleep(0.3)
        whole = await stream_all(client, body, headers={"Last-Event-ID": "keep-going:-1"})
    assert json.loads(whole[-2][1])["choices"][0]["finish_reason"] == "length"
    assert fake_model.cancelled == 0


@pytest.mark.parametrize(
    ("body", "status", "param", "words"),
    [
        ({"messages": []}, 400, "messages", "at least one"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 400, "messages[0].role", "robot"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}]},
            400,
            "messages[0].content[0]",
            "text-only",
        ),
        ({"messages": HELLO, "tools": [{"type": "function"}]}, 400, "tools", "tools[0]"),
        ({"messages": HELLO, "response_format": {"type": "yaml"}}, 400, "response_format", "json_schema"),
        ({"messages": HELLO, "functions": [{"name": "f"}]}, 400, "functions", "not supported"),
        ({"messages": HELLO, "logit_bias": {"one": 5}}, 400, "logit_bias", "token ids"),
        ({"messages": HELLO, "logit_bias": {"1": 500}}, 400, "logit_bias", "between -100 and 100"),
        ({"messages": HELLO, "logit_bias": {"1": "high"}}, 400, "logit_bias[...]", "logit_bias"),
        ({"messages": HELLO, "top_logprobs": 2}, 400, "top_logprobs", "requires logprobs"),
        ({"messages": HELLO, "logprobs": False, "top_logprobs": 2}, 400, "top_logprobs", "requires logprobs"),
        ({"messages": HELLO, "logprobs": True, "top_logprobs": 21}, 400, "top_logprobs", "between 0 and 20"),
        ({"messages": HELLO, "logprobs": True, "top_logprobs": -1}, 400, "top_logprobs", "between 0 and 20"),
        ({"messages": HELLO, "logprobs": "yes"}, 400, "logprobs", "logprobs"),
        ({"messages": HELLO, "min_p": 1.5}, 400, "min_p", "between 0 and 1"),
        ({"messages": HELLO, "repetition_penalty": 0}, 400, "repetition_penalty", "greater than 0"),
        ({"messages": HELLO, "temperature": 9}, 400, "temperature", "between"),
        ({"messages": HELLO, "n": 9}, 400, "n", "between"),
        ({"messages": HELLO, "max_tokens": 100000}, 400, "max_tokens", "512"),
        ({"messages": HELLO, "model": "gpt-4o"}, 404, "model", "test/fake-model"),
        ({"messages": HELLO, "max_tokens": "many"}, 400, "max_tokens", "max_tokens"),
    ],
)
async def test_bad_requests_get_openai_errors_naming_the_parameter(
    base_url: str, body: dict, status: int, param: str, words: str
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert words in error["message"]
    assert set(error) == {"message", "type", "param", "code"}


async def test_malformed_json_is_a_400_in_openai_shape(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_text_content_parts_are_joined(base_url: str) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "two"}]}]
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/chat/completions", json={"messages": messages, "max_tokens": 4})
    assert response.json()["choices"][0]["message"]["content"].startswith("You said: part one\ntwo.")


async def test_stop_text_is_not_returned(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/chat/completions", json={"messages": HELLO, "stop": ["w3"], "max_tokens": 30})
        events = await stream_all(client, {"messages": HELLO, "stop": "w3", "stream": True, "max_tokens": 30})
    content = response.json()["choices"][0]["message"]["content"]
    assert content == "You said: hello there. w0 w1 w2 "
    assert response.json()["choices"][0]["finish_reason"] == "stop"
    assert text_of(events) == content


async def test_overload_is_a_429_with_retry_after(server_factory) -> None:  # type: ignore[no-untyped-def]
    url = server_factory(FakeLanguageModel("x", fail_with=Overloaded("queue full", retry_after_seconds=2)))
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/v1/chat/completions", json={"messages": HELLO, "stream": True})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["type"] == "rate_limit_error"


async def test_api_key_protects_v1_but_not_health(server_factory) -> None:  # type: ignore[no-untyped-def]
    url = server_factory(api_keys=("k1", "k2"))
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/v1/models")).status_code == 401
        assert (await client.get("/v1/models", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await client.get("/v1/models", headers={"Authorization": "Bearer k2"})).status_code == 200
        assert (await client.get("/health")).status_code == 200


async def test_models_and_health(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        models = (await client.get("/v1/models")).json()
        health = (await client.get("/health")).json()
    assert [m["id"] for m in models["data"]] == ["test/fake-model"]
    assert health == {"ok": True, "modelReady": True, "modelId": "test/fake-model", "error": None}


async def test_a_plain_request_whose_client_leaves_is_cancelled_at_once(
    base_url: str, fake_model: FakeLanguageModel
) -> None:
    fake_model.step_delay = 0.05
    async with httpx.AsyncClient(base_url=base_url) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/chat/completions", json={"messages": HELLO, "max_tokens": 40}, timeout=0.3)
    for _ in range(40):
        if fake_model.cancelled:
            break
        await asyncio.sleep(0.05)
    assert fake_model.cancelled == 1, "the generation must stop when its only reader disconnects"


async def test_n_choices_plain_and_streamed(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        plain = await client.post("/v1/chat/completions", json={"messages": HELLO, "n": 2, "max_tokens": 3})
        events = await stream_all(client, {"messages": HELLO, "n": 2, "max_tokens": 3, "stream": True})
    choices = plain.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1]
    assert plain.json()["usage"]["completion_tokens"] == 6
    finishes = [c["index"] for _, d in events if d != "[DONE]" for c in json.loads(d)["choices"] if c["finish_reason"]]
    assert sorted(finishes) == [0, 1]


async def test_model_may_be_omitted_and_the_seed_name_is_an_alias(server_factory) -> None:  # type: ignore[no-untyped-def]
    url = server_factory(served_model_name="shop-assistant")
    async with httpx.AsyncClient(base_url=url) as client:
        for model in (None, "test/fake-model", "shop-assistant", "qwen-local"):
            body = {"messages": HELLO, "max_tokens": 3} | ({} if model is None else {"model": model})
            response = await client.post("/v1/chat/completions", json=body)
            assert response.status_code == 200, (model, response.text)
            assert response.json()["model"] == "test/fake-model"
        streamed = await stream_all(client, {"model": "qwen-local", "messages": HELLO, "stream": True, "max_tokens": 3})
        assert text_of(streamed)
        listed = [m["id"] for m in (await client.get("/v1/models")).json()["data"]]
        assert listed == ["test/fake-model", "shop-assistant"]  # the seed's name is accepted, not advertised
        assert (await client.get("/v1/models/qwen-local")).status_code == 200
        unknown = await client.post("/v1/chat/completions", json={"model": "qwen-remote", "messages": HELLO})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
