"""Tool calls over HTTP with the fake model: the wire shapes, plain and streamed, and resumed streams."""

from __future__ import annotations

import json

import httpx
import pytest

from core.inference.tool_calls import format_call
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.openai.test_chat_completions_http import stream_all

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = [{"role": "user", "content": "weather in Paris?"}]
REPLY = "Sure. " + format_call("get_weather", '{"city": "Paris"}')


def tool_deltas(events: list[tuple[str | None, str]]) -> list[dict]:  # type: ignore[type-arg]
    found = []
    for _, data in events:
        if data != "[DONE]":
            for choice in json.loads(data).get("choices", []):
                found.extend(choice["delta"].get("tool_calls") or ())
    return found


async def test_a_tool_call_comes_back_as_openai_tool_calls(server_factory) -> None:  # type: ignore[no-untyped-def]
    model = FakeLanguageModel(REPLY, model_id="test/fake-model")
    base_url = server_factory(model)
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/chat/completions", json={"messages": ASK, "tools": [WEATHER]})
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Sure. "
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    [request] = model.requests
    assert request.constraint is not None and request.constraint.kind == "tool_calls"
    assert not request.constraint.required and [t.name for t in request.tools] == ["get_weather"]


async def test_tool_results_in_the_conversation_reach_the_model(server_factory) -> None:  # type: ignore[no-untyped-def]
    model = FakeLanguageModel("It is sunny.", model_id="test/fake-model")
    base_url = server_factory(model)
    messages = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "sunny"},
    ]
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/chat/completions", json={"messages": messages, "tools": [WEATHER]})
        missing_id = await client.post(
            "/v1/chat/completions", json={"messages": [*ASK, {"role": "tool", "content": "sunny"}]}
        )
    assert response.status_code == 200, response.text
    _, assistant, tool = model.requests[0].messages
    assert assistant.tool_calls[0].id == "call_9" and assistant.tool_calls[0].name == "get_weather"
    assert (tool.role, tool.tool_call_id, tool.content) == ("tool", "call_9", "sunny")
    assert missing_id.status_code == 400 and missing_id.json()["error"]["param"] == "messages[1].tool_call_id"


async def test_streamed_tool_call_deltas_replay_the_same_on_resume(server_factory) -> None:  # type: ignore[no-untyped-def]
    base_url = server_factory(FakeLanguageModel(REPLY, model_id="test/fake-model"))
    body = {"messages": ASK, "tools": [WEATHER], "stream": True, "session_id": "tools-1"}
    async with httpx.AsyncClient(base_url=base_url) as client:
        first = await stream_all(client, body)
        again = await stream_all(client, body, headers={"Last-Event-ID": "tools-1:-1"})
    deltas = tool_deltas(first)
    head = deltas[0]
    assert head["index"] == 0 and head["id"].startswith("call_") and head["type"] == "function"
    assert head["function"]["name"] == "get_weather"
    assert all(set(d) == {"index", "function"} and set(d["function"]) == {"arguments"} for d in deltas[1:])
    assert "".join(d["function"].get("arguments", "") for d in deltas) == '{"city": "Paris"}'
    finishes = [c["finish_reason"] for _, data in first if data != "[DONE]" for c in json.loads(data)["choices"]]
    assert finishes[-1] == "tool_calls"
    assert again == first  # the same ids, the same deltas


@pytest.mark.parametrize(
    ("extra", "param", "named"),
    [
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "object", "not": {}}},
                }
            },
            "response_format",
            "/not",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "x",
                        "schema": {"type": "object", "properties": {"a": {"type": "string", "format": "email"}}},
                    },
                }
            },
            "response_format",
            "/properties/a/format",
        ),
        ({"response_format": {"type": "yaml"}}, "response_format", "json_schema"),
        ({"tools": [{"type": "retrieval"}]}, "tools", "tools[0]"),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools", "tools[0].function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "if": {}}}}]},
            "tools",
            "/if",
        ),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
            "nope",
        ),
        ({"tool_choice": "required"}, "tool_choice", "needs tools"),
        ({"tools": [WEATHER], "response_format": {"type": "json_object"}}, "response_format", "combined"),
        ({"tools": [WEATHER], "parallel_tool_calls": "yes"}, "parallel_tool_calls", "boolean"),
    ],
)
async def test_unsupported_schemas_and_bad_tools_are_400s_naming_them(
    base_url: str,
    extra: dict,
    param: str,
    named: str,  # type: ignore[type-arg]
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/chat/completions", json={"messages": ASK, "max_tokens": 8, **extra})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert named in error["message"]
