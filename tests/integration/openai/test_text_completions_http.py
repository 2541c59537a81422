"""``POST /v1/completions`` (legacy) over real HTTP with the fake model: shape, prompt lists and indexing,
echo, stop, logprobs, streaming, resume, cancel, ownership and the 400s."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes.language_model import FakeLanguageModel
from tests.integration.sse_client import sse_events

K1 = {"Authorization": "Bearer k1"}
K2 = {"Authorization": "Bearer k2"}


async def stream_all(client: httpx.AsyncClient, body: dict, **kwargs) -> list[tuple[str | None, str]]:  # type: ignore[no-untyped-def]
    async with client.stream("POST", "/v1/completions", json=body, **kwargs) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        return [e async for e in sse_events(response)]


def texts_of(events: list[tuple[str | None, str]]) -> dict[int, str]:
    texts: dict[int, str] = {}
    for _, data in events:
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        assert chunk["object"] == "text_completion"
        for choice in chunk["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + choice["text"]
    return texts


async def test_a_plain_completion_has_openai_shape_and_the_default_of_16_tokens(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/completions", json={"model": "test/fake-model", "prompt": "once upon"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    choice = body["choices"][0]
    assert set(choice) == {"text", "index", "logprobs", "finish_reason"}
    assert choice["text"].startswith("You said: once upon. w0") and choice["logprobs"] is None
    assert choice["finish_reason"] == "length"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 16, "total_tokens": 18}


async def test_a_list_of_prompts_gives_n_choices_each_in_openai_order(base_url: str) -> None:
    body = {"prompt": ["alpha", "beta gamma"], "n": 2, "max_tokens": 3, "seed": 1}
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/completions", json=body)
    choices = response.json()["choices"]
    assert [(c["index"], c["text"]) for c in choices] == [
        (0, "You said: alpha."),
        (1, "You said: alpha."),
        (2, "You said: beta"),
        (3, "You said: beta"),
    ]
    assert response.json()["usage"]["prompt_tokens"] == 1 + 2


async def test_echo_and_stop(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        echoed = await client.post("/v1/completions", json={"prompt": "hi", "max_tokens": 2, "echo": True})
        stopped = await client.post("/v1/completions", json={"prompt": "hi", "max_tokens": 9, "stop": " w1"})
    assert echoed.json()["choices"][0]["text"] == "hiYou said:"
    assert stopped.json()["choices"][0]["text"] == "You said: hi. w0"
    assert stopped.json()["choices"][0]["finish_reason"] == "stop"


async def test_legacy_logprobs_list_tokens_offsets_and_the_top_alternatives(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/completions", json={"prompt": "hi", "max_tokens": 3, "logprobs": 2})
    choice = response.json()["choices"][0]
    logprobs = choice["logprobs"]
    assert set(logprobs) == {"tokens", "token_logprobs", "top_logprobs", "text_offset"}
    assert logprobs["tokens"] == ["You", " said:", " hi."]
    assert logprobs["token_logprobs"] == [-0.25, -0.25, -0.25]
    assert logprobs["top_logprobs"][1] == {" said:": -0.25, "alt0": -2.0}
    assert logprobs["text_offset"] == [0, 3, 9]
    for token, offset in zip(logprobs["tokens"], logprobs["text_offset"], strict=True):
        assert choice["text"][offset : offset + len(token)] == token


async def test_a_stream_equals_the_plain_answer_and_resumes_with_last_event_id(base_url: str) -> None:
    body = {"prompt": ["one", "two"], "max_tokens": 4, "logprobs": 1, "stream": True}
    async with httpx.AsyncClient(base_url=base_url) as client:
        events = await stream_all(client, body | {"session_id": "legacy-1", "stream_options": {"include_usage": True}})
        resumed = await stream_all(client, body, headers={"Last-Event-ID": "legacy-1:2"})
        plain = await client.post("/v1/completions", json=body | {"stream": False})
    assert [event_id for event_id, _ in events] == [f"legacy-1:{i}" for i in range(len(events))]
    assert events[-1][1] == "[DONE]"
    assert texts_of(events) == {c["index"]: c["text"] for c in plain.json()["choices"]}
    usage = json.loads(events[-2][1])["usage"]
    assert usage == plain.json()["usage"]
    finishes = [c for _, d in events[:-1] for c in json.loads(d)["choices"] if c["finish_reason"]]
    assert sorted(c["index"] for c in finishes) == [0, 1]
    streamed_tokens = [
        t for _, d in events[:-1] for c in json.loads(d)["choices"] if c["logprobs"] for t in c["logprobs"]["tokens"]
    ]
    assert len(streamed_tokens) == 8
    assert [data for _, data in resumed] == [data for _, data in events[3:]]


async def test_a_streamed_echo_sends_the_prompt_first(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        events = await stream_all(client, {"prompt": "hey", "max_tokens": 2, "echo": True, "stream": True})
    assert json.loads(events[0][1])["choices"][0]["text"] == "hey"
    assert texts_of(events) == {0: "heyYou said:"}


async def test_the_cancel_route_stops_a_legacy_stream_and_only_its_owner_sees_it(server_factory) -> None:  # type: ignore[no-untyped-def]
    model = FakeLanguageModel(lambda _r: " ".join(f"t{i}" for i in range(2000)), model_id="m", step_delay=0.01)
    url = server_factory(model, api_keys=("k1", "k2"))
    body = {"prompt": "go", "max_tokens": 2000, "stream": True, "session_id": "legacy-owned"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async with client.stream("POST", "/v1/completions", json=body, headers=K1) as response:
            assert response.status_code == 200
            async for _ in sse_events(response):
                break
        other = await client.post("/v1/completions", json=body, headers=K2 | {"Last-Event-ID": "legacy-owned:-1"})
        assert other.status_code == 404
        assert (await client.post("/v1/cancel/legacy-owned", headers=K2)).status_code == 404
        assert (await client.post("/v1/completions", json=body, headers=K2)).status_code == 409
        assert (await client.post("/v1/cancel/legacy-owned", headers=K1)).status_code == 200
        events = await stream_all(client, body, headers=K1 | {"Last-Event-ID": "legacy-owned:-1"})
        assert (await client.post("/v1/completions", json={"prompt": "x"})).status_code == 401
    assert json.loads(events[-2][1])["choices"][0]["finish_reason"] == "cancelled"
    assert len(texts_of(events)[0].split()) < 2000
    assert model.cancelled == 1


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"prompt": "x", "suffix": "end"}, "suffix", "not supported"),
        ({"prompt": "x", "logprobs": 6}, "logprobs", "between 0 and 5"),
        ({"prompt": "x", "logprobs": 1, "echo": True}, "echo", "logprobs"),
        ({"prompt": []}, "prompt", "list of 1 to"),
        ({"prompt": ""}, "prompt", "empty"),
        ({"prompt": [1, 2]}, "prompt", "token-id prompts"),
        ({"prompt": [[1, 2]]}, "prompt", "token-id prompts"),
        ({"prompt": "x", "best_of": 3}, "best_of", "best_of"),
        ({"prompt": "x", "n": 9}, "n", "between"),
        ({"prompt": "x", "max_tokens": 100000}, "max_tokens", "prompt"),
        ({"prompt": "x", "logit_bias": {"a": 1}}, "logit_bias", "token ids"),
        ({"prompt": "x", "min_p": -1}, "min_p", "between"),
        ({"prompt": "x", "stream_options": {"include_usage": True}}, "stream_options", "stream"),
        ({"max_tokens": 3}, "prompt", "prompt"),
    ],
)
async def test_bad_requests_name_the_parameter(base_url: str, body: dict, param: str, words: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/completions", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and words in error["message"]
