"""``logprobs``/``top_logprobs`` on /v1/chat/completions over real HTTP with the fake model: the shape,
streamed and not, and the same payload replayed on resume."""

from __future__ import annotations

import json

import httpx

from tests.integration.openai.test_chat_completions_http import HELLO, stream_all


def content_logprobs(events: list[tuple[str | None, str]]) -> list[dict]:
    entries = []
    for _, data in events:
        if data == "[DONE]":
            continue
        for choice in json.loads(data)["choices"]:
            if choice.get("logprobs"):
                entries.extend(choice["logprobs"]["content"])
    return entries


async def test_plain_completion_reports_every_token_in_openai_shape(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/chat/completions", json={"messages": HELLO, "max_tokens": 3, "logprobs": True, "top_logprobs": 2}
        )
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["message"]["content"] == "You said: hello"
    assert choice["logprobs"]["refusal"] is None
    content = choice["logprobs"]["content"]
    assert [entry["token"] for entry in content] == ["You", " said:", " hello"]
    first = content[0]
    assert set(first) == {"token", "logprob", "bytes", "top_logprobs"}
    assert first["bytes"] == list(b"You") and first["logprob"] == -0.25
    assert [top["token"] for top in first["top_logprobs"]] == ["You", "alt0"]
    assert set(first["top_logprobs"][0]) == {"token", "logprob", "bytes"}


async def test_logprobs_true_alone_gives_no_alternatives_and_off_gives_null(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        alone = await client.post("/v1/chat/completions", json={"messages": HELLO, "max_tokens": 2, "logprobs": True})
        off = await client.post("/v1/chat/completions", json={"messages": HELLO, "max_tokens": 2})
    assert [e["top_logprobs"] for e in alone.json()["choices"][0]["logprobs"]["content"]] == [[], []]
    assert off.json()["choices"][0]["logprobs"] is None


async def test_streamed_chunks_carry_the_logprobs_of_their_delta_and_resume_replays_them(base_url: str) -> None:
    body = {"messages": HELLO, "max_tokens": 4, "logprobs": True, "top_logprobs": 1, "stream": True}
    async with httpx.AsyncClient(base_url=base_url) as client:
        events = await stream_all(client, body | {"session_id": "lp"})
        replay = await stream_all(client, body, headers={"Last-Event-ID": "lp:0"})
    chunks = [json.loads(data) for _, data in events if data != "[DONE]"]
    for chunk in chunks:
        for choice in chunk["choices"]:
            content = choice["delta"].get("content")
            if content:  # one token per chunk here: the delta's text is its token
                assert [e["token"] for e in choice["logprobs"]["content"]] == [content]
            else:
                assert choice["logprobs"] is None
    assert [e["token"] for e in content_logprobs(events)] == ["You", " said:", " hello", " there."]
    assert [data for _, data in replay] == [data for _, data in events[1:]]
