"""The one Server-Sent Events writer, shared by every streaming endpoint.

Every event carries ``id: <session_id>:<index>`` so a client can resume with ``Last-Event-ID``.
Framing is Litestar's ``ServerSentEventMessage``: data is split into ``data:`` lines only at CR LF,
CR or LF, so U+2028, U+2029, U+0085 (which ``str.splitlines`` would also split at) stay inside the
JSON they belong to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar.response import ServerSentEventMessage, Stream

from core.domain.errors import InvalidInput
from core.domain.streams import StreamEvent

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def frame(session_id: str, event: StreamEvent) -> bytes:
    return ServerSentEventMessage(data=event.data, id=f"{session_id}:{event.index}", sep="\n").encode()


def parse_last_event_id(value: str) -> tuple[str, int]:
    """``<session_id>:<index>`` -> (session_id, index). The session id may itself contain colons."""
    session_id, sep, index = value.strip().rpartition(":")
    if not sep or not session_id:
        raise InvalidInput(f"Last-Event-ID must look like '<session_id>:<index>', got {value!r}", field="last_event_id")
    try:
        number = int(index)
    except ValueError:
        raise InvalidInput(f"Last-Event-ID index must be an integer, got {index!r}", field="last_event_id") from None
    if number < -1:
        raise InvalidInput("Last-Event-ID index must be >= -1", field="last_event_id")
    return session_id, number


async def prime(events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
    """Take the first event now, so ``NotFound``/``Gone`` raise before the response starts."""
    try:
        first = await anext(events)  # type: ignore[call-overload]
    except StopAsyncIteration:
        first = None

    async def chained() -> AsyncIterator[StreamEvent]:
        if first is not None:
            yield first
            async for event in events:
                yield event

    return chained()


class EventStream(Stream):
    """A ``Stream`` that keeps ``text/event-stream`` even from a handler whose default is JSON
    (Litestar's ``Stream`` lets the handler's media type win)."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["media_type"] = self.media_type
        return super().to_asgi_response(*args, **kwargs)


def sse_response(session_id: str, events: AsyncIterator[StreamEvent]) -> Stream:
    async def body() -> AsyncIterator[bytes]:
        async for event in events:
            yield frame(session_id, event)

    headers = {**SSE_HEADERS, "X-Session-ID": session_id}
    return EventStream(body(), media_type="text/event-stream", headers=headers)
