"""A small SSE reader for tests: yields (id, data) pairs from an httpx streaming response.

Lines end only at CR LF, CR or LF, as the SSE specification says (httpx's ``aiter_lines`` would also
split at U+2028, U+2029, U+0085 and friends, like ``str.splitlines``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx

LINE_END = re.compile(r"\r\n|\r|\n")


async def sse_lines(response: httpx.Response) -> AsyncIterator[str]:
    pending = ""
    async for text in response.aiter_text():
        pending += text
        held = "\r" if pending.endswith("\r") else ""  # a CR LF may be cut between two chunks
        lines = LINE_END.split(pending[: len(pending) - len(held)])
        pending = lines.pop() + held
        for line in lines:
            yield line
    if pending:
        yield pending.removesuffix("\r")


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str | None, str]]:
    event_id: str | None = None
    data: list[str] = []
    async for line in sse_lines(response):
        if line == "":
            if data:
                yield event_id, "\n".join(data)
            event_id, data = None, []
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        yield event_id, "\n".join(data)
