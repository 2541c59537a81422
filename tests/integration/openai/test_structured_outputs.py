"""Structured outputs and tool calls: the official ``openai`` client against the real SmolLM2 model.

The grammar makes even a 135M model's output parse and validate; these tests prove it over seeds and
temperatures, streamed and not, and that what cannot be enforced is refused with a 400.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema_rs
import openai
import pytest

from entrypoints.bootstrap.container import build_container
from entrypoints.http.app import create_app
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider, make_settings

pytestmark = pytest.mark.model

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "colour": {"enum": ["red", "green", "blue"]},
    },
    "required": ["name", "age", "colour"],
    "additionalProperties": False,
}
# Enough for PERSON at its longest (a 20-character name is at most 20 tokens), with room to spare.
PERSON_MAX_TOKENS = 60
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 30}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The local time in a time zone",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "maxLength": 30}},
            "required": ["zone"],
            "additionalProperties": False,
        },
    },
}
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def client(real_model, tmp_path_factory) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    tmp_path: Path = tmp_path_factory.mktemp("structured")
    settings = make_settings(tmp_path)
    with live_server(create_app(settings, build_container(settings, FakeModelProvider(real_model)))) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


def _schema_of(tool: dict) -> jsonschema_rs.Validator:  # type: ignore[type-arg]
    return jsonschema_rs.validator_for(tool["function"]["parameters"])


def test_json_schema_output_validates_whatever_the_seed_and_temperature(client: openai.OpenAI) -> None:
    """20 requests with different seeds, temperatures and top_p, decoded together in the batch (each row
    under its own grammar): every output parses and validates."""

    def one(run: int) -> openai.types.chat.ChatCompletion:
        return client.chat.completions.create(
            model="HuggingFaceTB/SmolLM2-135M-Instruct",
            messages=[{"role": "user", "content": "Describe a person as JSON."}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": PERSON, "strict": True},
            },
            max_tokens=PERSON_MAX_TOKENS,
            temperature=[0.0, 0.7, 1.0, 1.5, 2.0][run % 5],
            top_p=[1.0, 0.9][run % 2],
            seed=1000 + run,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        completions = list(pool.map(one, range(20)))
    for completion in completions:
        choice = completion.choices[0]
        assert choice.finish_reason == "stop", choice.message.content
        jsonschema_rs.validate(PERSON, json.loads(choice.message.content))
    assert len({c.choices[0].message.content for c in completions}) > 1  # sampled, not one fixed answer


def test_a_cut_by_max_tokens_is_reported_as_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        messages=[{"role": "user", "content": "Describe a person as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}},
        max_tokens=4,
        temperature=0,
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 4


def test_streamed_json_schema_output_validates(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        messages=[{"role": "user", "content": "Describe a person as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}},
        max_tokens=PERSON_MAX_TOKENS,
        temperature=1.0,
        seed=7,
        stream=True,
    )
    text, finish = [], None
    for chunk in stream:
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert finish == "stop"
    jsonschema_rs.validate(PERSON, json.loads("".join(text)))


def test_json_object_output_is_a_json_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        messages=[{"role": "user", "content": "Give me a JSON object with a colour and a number."}],
        response_format={"type": "json_object"},
        max_tokens=100,
        temperature=0.0,
        seed=3,
    )
    choice = completion.choices[0]
    if choice.finish_reason == "length":  # a free-form object may go on; what came is still a JSON prefix
        assert choice.message.content.startswith("{")
    else:
        assert choice.finish_reason == "stop"
        assert isinstance(json.loads(choice.message.content), dict)


def test_named_tool_call_arguments_validate(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        messages=ASK_WEATHER,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=80,
        temperature=1.0,
        seed=11,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.id.startswith("call_") and call.type == "function"
    assert call.function.name == "get_weather"
    _schema_of(WEATHER).validate(json.loads(call.function.arguments))


def test_required_tool_call_is_one_of_the_tools_with_valid_arguments(client: openai.OpenAI) -> None:
    def one(seed: int) -> openai.types.chat.ChatCompletion:
        return client.chat.completions.create(
            model="HuggingFaceTB/SmolLM2-135M-Instruct",
            messages=[{"role": "user", "content": "What time is it in Tokyo?"}],
            tools=[WEATHER, TIME],
            tool_choice="required",
            parallel_tool_calls=False,
            max_tokens=80,
            temperature=1.2,
            seed=seed,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        completions = list(pool.map(one, range(4)))
    for completion in completions:
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls"
        [call] = choice.message.tool_calls
        tool = {"get_weather": WEATHER, "get_time": TIME}[call.function.name]
        _schema_of(tool).validate(json.loads(call.function.arguments))


def test_streamed_tool_call_deltas_are_reassembled_by_the_client(client: openai.OpenAI) -> None:
    request = {
        "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "messages": ASK_WEATHER,
        "tools": [WEATHER, TIME],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_tokens": 80,
        "temperature": 0.8,
        "seed": 5,
    }
    with client.beta.chat.completions.stream(**request) as stream:
        deltas = []
        for event in stream:
            if event.type == "chunk":
                deltas.extend(d for c in event.chunk.choices for d in c.delta.tool_calls or ())
        final = stream.get_final_completion()
    first = deltas[0]
    assert first.id.startswith("call_") and first.type == "function" and first.function.name
    assert len(deltas) > 2 and all(d.index == 0 and d.id is None for d in deltas[1:])  # then argument fragments
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.id == first.id and call.function.name == first.function.name
    assert call.function.arguments == "".join(d.function.arguments or "" for d in deltas)
    tool = {"get_weather": WEATHER, "get_time": TIME}[call.function.name]
    _schema_of(tool).validate(json.loads(call.function.arguments))
    # The same request, not streamed, gives the same call (same seed): one mechanism for both.
    plain = client.chat.completions.create(**request).choices[0].message.tool_calls[0]
    assert (plain.function.name, plain.function.arguments) == (call.function.name, call.function.arguments)


def test_a_conversation_with_tool_calls_and_results_is_answered(client: openai.OpenAI) -> None:
    messages = [
        *ASK_WEATHER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21, "sky": "sunny"}'},
    ]
    completion = client.chat.completions.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        messages=messages,
        tools=[WEATHER],
        tool_choice="none",
        max_tokens=24,
        temperature=0,
    )
    choice = completion.choices[0]
    assert choice.message.content and not choice.message.tool_calls
    assert choice.finish_reason in ("stop", "length")
