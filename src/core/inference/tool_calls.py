"""How tool calls are written in the model's output, read back from it, and rendered into prompts.

A call is written ``<tool_call>{"name": "NAME", "arguments": {...}}</tool_call>`` (the Hermes/Qwen form
that tool-trained chat templates use). The engine's grammar (``OutputConstraint(kind="tool_calls")``)
forces exactly this shape once the model writes ``<tool_call>`` (``tool_choice: auto``) or from the
first token (``required`` / a named function), so ``ToolCallParser`` reads it incrementally: text
before a call is content, each call becomes a start (id, name) followed by fragments of its arguments.

For chat templates without tool support (SmolLM2's), ``render_without_tool_support`` turns the
conversation into plain turns: the functions and the calling convention go into the system prompt,
assistant calls are written in the call form, and tool results become user turns marked
``<tool_response>``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace

from core.domain.generation import ChatMessage, ToolCall, ToolSpec

TOOL_CALL_BEGIN = "<tool_call>"
TOOL_CALL_END = "</tool_call>"
TOOL_CALL_SEPARATOR = "\n"


def call_head(name: str) -> str:
    """The text of a call up to its arguments (the grammar's tag opening for ``name``)."""
    return f'{TOOL_CALL_BEGIN}{{"name": {json.dumps(name)}, "arguments": '


CALL_TAIL = "}" + TOOL_CALL_END


def format_call(name: str, arguments: str) -> str:
    return f"{call_head(name)}{arguments}{CALL_TAIL}"


def new_call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    call_index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolArguments:
    call_index: int
    fragment: str


ParsedPiece = str | ToolCallStarted | ToolArguments

_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*')


class ToolCallParser:
    """Splits streamed output into content text and tool calls, as the text arrives."""

    def __init__(self) -> None:
        self._state = "text"
        self._buffer = ""
        self._calls = 0
        self.completed = 0  # calls whose arguments and closing tag arrived
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._value_started = False
        self._after_call = False  # the separator between calls is not content

    def feed(self, text: str) -> list[ParsedPiece]:
        self._buffer += text
        pieces: list[ParsedPiece] = []
        progressed = True
        while progressed and self._buffer:
            progressed = getattr(self, f"_{self._state}")(pieces)
        return pieces

    def finish(self) -> list[ParsedPiece]:
        """Whatever is held back when the output ends (text that only looked like a call's start)."""
        rest, self._buffer = self._buffer, ""
        return [rest] if rest and self._state == "text" else []

    def _text(self, pieces: list[ParsedPiece]) -> bool:
        if self._after_call:
            self._after_call = False
            if self._buffer.startswith(TOOL_CALL_SEPARATOR):
                self._buffer = self._buffer[len(TOOL_CALL_SEPARATOR) :]
        found = self._buffer.find(TOOL_CALL_BEGIN)
        if found >= 0:
            if found:
                pieces.append(self._buffer[:found])
            self._buffer = self._buffer[found + len(TOOL_CALL_BEGIN) :]
            self._state = "head"
            return True
        keep = _partial_suffix(self._buffer, TOOL_CALL_BEGIN)
        if len(self._buffer) > keep:
            pieces.append(self._buffer[: len(self._buffer) - keep])
            self._buffer = self._buffer[len(self._buffer) - keep :]
        return False

    def _head(self, pieces: list[ParsedPiece]) -> bool:
        match = _HEAD.match(self._buffer)
        if match is None:
            return False
        name = json.loads(f'"{match.group(1)}"')
        pieces.append(ToolCallStarted(self._calls, new_call_id(), name))
        self._buffer = self._buffer[match.end() :]
        self._state = "arguments"
        self._depth, self._in_string, self._escaped, self._value_started = 0, False, False, False
        return True

    def _arguments(self, pieces: list[ParsedPiece]) -> bool:
        """Pass the arguments' JSON through until its outer bracket closes."""
        if not self._value_started:
            self._buffer = self._buffer.lstrip()
            if not self._buffer:
                return False
            self._value_started = True
        end = None
        for position, char in enumerate(self._buffer):
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
            elif char == '"':
                self._in_string = True
            elif char in "{[":
                self._depth += 1
            elif char in "}]":
                self._depth -= 1
                if self._depth == 0:
                    end = position + 1
                    break
        taken = self._buffer if end is None else self._buffer[:end]
        pieces.append(ToolArguments(self._calls, taken))
        if end is None:
            self._buffer = ""
            return False
        self._buffer = self._buffer[end:]
        self._state = "tail"
        return True

    def _tail(self, pieces: list[ParsedPiece]) -> bool:
        stripped = self._buffer.lstrip()
        if not stripped:
            self._buffer = ""
            return False
        if not CALL_TAIL.startswith(stripped[: len(CALL_TAIL)]):
            self._state = "text"  # not the form the grammar writes: keep the rest as text
            return True
        if len(stripped) < len(CALL_TAIL):
            self._buffer = stripped
            return False
        self._buffer = stripped[len(CALL_TAIL) :]
        self._after_call = True
        self._calls += 1
        self.completed += 1
        self._state = "text"
        return True


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``marker``."""
    for length in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-length:]):
            return length
    return 0


def parse_tool_output(text: str) -> tuple[str, list[ToolCall]]:
    """The content and the calls of a whole output (unfinished calls included as far as they got)."""
    parser = ToolCallParser()
    content: list[str] = []
    calls: dict[int, list[str]] = {}
    heads: dict[int, ToolCallStarted] = {}
    for piece in [*parser.feed(text), *parser.finish()]:
        if isinstance(piece, str):
            content.append(piece)
        elif isinstance(piece, ToolCallStarted):
            heads[piece.call_index] = piece
            calls[piece.call_index] = []
        else:
            calls[piece.call_index].append(piece.fragment)
    return "".join(content), [
        ToolCall(heads[i].id, heads[i].name, "".join(fragments)) for i, fragments in sorted(calls.items())
    ]


def tool_instructions(tools: Iterable[ToolSpec]) -> str:
    described = [
        json.dumps(
            {"name": t.name, "description": t.description, "parameters": json.loads(t.parameters)},
            ensure_ascii=False,
        )
        for t in tools
    ]
    example = format_call("function_name", '{"argument": "value"}')
    return (
        "You can call these functions:\n"
        + "\n".join(described)
        + f"\nTo call a function, reply with {example} and nothing else."
    )


def render_without_tool_support(
    messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...]
) -> tuple[ChatMessage, ...]:
    """Plain system/user/assistant turns for a chat template that knows nothing of tools."""
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    rendered: list[ChatMessage] = []
    for message in messages:
        if message.role == "tool":
            name = names.get(message.tool_call_id, "")
            rendered.append(
                ChatMessage(
                    "user",
                    f"<tool_response>\nResult of the call {message.tool_call_id} of {name}:\n"
                    f"{message.content}\n</tool_response>",
                )
            )
        elif message.tool_calls:
            calls = TOOL_CALL_SEPARATOR.join(format_call(c.name, c.arguments) for c in message.tool_calls)
            text = f"{message.content}\n{calls}" if message.content else calls
            rendered.append(ChatMessage("assistant", text))
        else:
            rendered.append(replace(message, tool_calls=(), tool_call_id=""))
    if tools:
        instructions = tool_instructions(tools)
        if rendered and rendered[0].role == "system":
            rendered[0] = ChatMessage("system", f"{rendered[0].content}\n\n{instructions}")
        else:
            rendered.insert(0, ChatMessage("system", instructions))
    return tuple(rendered)
