"""Tool calls in the model's output, read back piece by piece; the prompt fallback; schema checks."""

from __future__ import annotations

import json

import pytest

from core.domain.generation import ChatMessage, ToolCall, ToolSpec
from core.inference.json_schema import unsupported_features
from core.inference.tool_calls import (
    TOOL_CALL_BEGIN,
    ToolArguments,
    ToolCallParser,
    ToolCallStarted,
    format_call,
    parse_tool_output,
    render_without_tool_support,
)

CALL = format_call("get_weather", '{"city": "Paris {1}", "note": "a \\"}\\" brace"}')
OUTPUT = f"Let me check.{CALL}\n{format_call('get_time', '{}')}"


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_text_and_calls_come_apart_however_the_output_is_cut(size: int) -> None:
    parser = ToolCallParser()
    pieces = [piece for chunk in chunks(OUTPUT, size) for piece in parser.feed(chunk)] + parser.finish()
    text = "".join(p for p in pieces if isinstance(p, str))
    starts = [p for p in pieces if isinstance(p, ToolCallStarted)]
    arguments: dict[int, str] = {}
    for piece in pieces:
        if isinstance(piece, ToolArguments):
            arguments[piece.call_index] = arguments.get(piece.call_index, "") + piece.fragment
    assert text == "Let me check."
    assert [(s.call_index, s.name) for s in starts] == [(0, "get_weather"), (1, "get_time")]
    assert all(s.id.startswith("call_") for s in starts) and starts[0].id != starts[1].id
    assert json.loads(arguments[0]) == {"city": "Paris {1}", "note": 'a "}" brace'}
    assert arguments[1] == "{}"
    assert parser.completed == 2


def test_text_that_only_looks_like_a_call_start_is_kept() -> None:
    parser = ToolCallParser()
    assert parser.feed("a <tool_") == ["a "]
    assert parser.finish() == ["<tool_"]
    assert parser.completed == 0


def test_an_unfinished_call_is_returned_as_far_as_it_got() -> None:
    content, calls = parse_tool_output(f'{TOOL_CALL_BEGIN}{{"name": "f", "arguments": {{"x": [1, 2')
    assert content == ""
    assert [(c.name, c.arguments) for c in calls] == [("f", '{"x": [1, 2')]


def test_the_fallback_rendering_marks_tools_calls_and_results() -> None:
    tools = (ToolSpec("get_weather", '{"type": "object"}', "The weather"),)
    messages = (
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Weather in Paris?"),
        ChatMessage("assistant", "", (ToolCall("call_1", "get_weather", '{"city": "Paris"}'),)),
        ChatMessage("tool", "sunny", tool_call_id="call_1"),
    )
    system, user, assistant, result = render_without_tool_support(messages, tools)
    assert system.role == "system" and system.content.startswith("Be brief.")
    assert '"name": "get_weather"' in system.content and TOOL_CALL_BEGIN in system.content
    assert user == ChatMessage("user", "Weather in Paris?")
    assert assistant == ChatMessage("assistant", format_call("get_weather", '{"city": "Paris"}'))
    assert result.role == "user"
    assert result.content.startswith("<tool_response>") and "call_1 of get_weather" in result.content
    assert "sunny" in result.content


def test_without_a_system_message_the_tools_get_one() -> None:
    rendered = render_without_tool_support((ChatMessage("user", "hi"),), (ToolSpec("f"),))
    assert [m.role for m in rendered] == ["system", "user"]


def test_enforceable_schemas_pass_and_the_rest_are_named() -> None:
    good = {
        "type": "object",
        "title": "Person",
        "properties": {
            "name": {"type": "string", "maxLength": 10, "pattern": "^[A-Z]"},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 3},
            "age": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
        },
        "required": ["name"],
        "additionalProperties": False,
        "$defs": {"tag": {"enum": ["a", "b"]}},
    }
    assert unsupported_features(good) == []
    bad = {
        "type": "object",
        "properties": {"email": {"type": "string", "format": "email"}, "x": {"not": {}}},
        "patternProperties": {"^a": {}},
        "items": {"$ref": "https://example.com/schema"},
    }
    assert unsupported_features(bad) == [
        "/properties/email/format",
        "/properties/x/not",
        "/patternProperties",
        "/items/$ref (only local references, starting with #)",
    ]
    assert unsupported_features({"type": "date"}) == ["/type ('date')"]
