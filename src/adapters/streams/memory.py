"""In-memory ring buffer of stream events: the default store, for one process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from core.domain.errors import Conflict, Gone, NotFound
from core.domain.streams import StreamEvent, StreamStatus


@dataclass(slots=True)
class _Session:
    buffer: deque[str]
    metadata: dict[str, str]
    first_index: int = 0
    next_index: int = 0
    finished: bool = False
    finished_at: float | None = None
    touched_at: float = 0.0
    cancel_requested: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class InMemoryStreamStore:
    """Keeps the newest ``buffer_events`` events of each session. Finished sessions are forgotten
    ``ttl_seconds`` after they finish; a running session that saw no append for ``ttl_seconds`` is
    considered abandoned and is forgotten too (its followers end)."""

    def __init__(self, buffer_events: int = 2048, ttl_seconds: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._buffer_events = buffer_events
        self._ttl = ttl_seconds
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._gc_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._gc_task is None:
            self._gc_task = asyncio.create_task(self._gc_loop(), name="stream-store-gc")

    async def close(self) -> None:
        if self._gc_task is not None:
            self._gc_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gc_task
            self._gc_task = None
        for session in self._sessions.values():
            session.finished = True
            session.wake()

    async def open(self, session_id: str, metadata: Mapping[str, str] | None = None) -> None:
        self.collect_garbage()
        existing = self._sessions.get(session_id)
        if existing is not None and not existing.finished:
            raise Conflict(
                f"Session {session_id!r} is still generating; resume it with Last-Event-ID or cancel it first",
                field="session_id",
            )
        if existing is not None:
            existing.finished = True
            existing.wake()
        self._sessions[session_id] = _Session(
            deque(maxlen=self._buffer_events), dict(metadata or {}), touched_at=self._clock()
        )

    async def append(self, session_id: str, data: str) -> int:
        session = self._require(session_id)
        index = session.next_index
        session.buffer.append(data)
        session.next_index += 1
        session.first_index = session.next_index - len(session.buffer)
        session.touched_at = self._clock()
        session.wake()
        return index

    async def finish(self, session_id: str) -> None:
        session = self._sessions.get(session_id)
        if session is None or session.finished:
            return
        session.finished = True
        session.finished_at = self._clock()
        session.wake()

    async def status(self, session_id: str) -> StreamStatus | None:
        session = self._live(session_id)
        if session is None:
            return None
        return StreamStatus(session_id, "finished" if session.finished else "running", session.first_index,
                            session.next_index, dict(session.metadata))

    async def follow(self, session_id: str, after: int = -1) -> AsyncIterator[StreamEvent]:
        session = self._live(session_id)
        if session is None:
            raise NotFound(f"No session {session_id!r} (unknown or expired)", field="session_id")
        position = after + 1
        if position < session.first_index:
            raise Gone(
                f"Events before index {session.first_index} of session {session_id!r} were evicted from the "
                f"buffer; indexes {session.first_index} to {session.next_index - 1} are still available",
                field="last_event_id",
            )
        while True:
            if position < session.first_index:
                raise Gone(f"The reader fell behind: events before {session.first_index} were evicted",
                           field="last_event_id")
            while position < session.next_index:
                offset = position - session.first_index
                yield StreamEvent(position, session.buffer[offset])
                position += 1
                if position < session.first_index:
                    break
            if position >= session.next_index:
                if session.finished:
                    return
                await session.changed.wait()

    async def request_cancel(self, session_id: str) -> bool:
        session = self._live(session_id)
        if session is None or session.finished:
            return False
        session.cancel_requested = True
        return True

    async def cancel_requested(self, session_id: str) -> bool:
        session = self._live(session_id)
        return bool(session and session.cancel_requested)

    def collect_garbage(self) -> int:
        now = self._clock()
        expired = [
            sid for sid, s in self._sessions.items()
            if (s.finished and s.finished_at is not None and now - s.finished_at >= self._ttl)
            or (not s.finished and now - s.touched_at >= self._ttl)
        ]
        for sid in expired:
            session = self._sessions.pop(sid)
            session.finished = True
            session.wake()
        return len(expired)

    def _live(self, session_id: str) -> _Session | None:
        self.collect_garbage()
        return self._sessions.get(session_id)

    def _require(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None or session.finished:
            raise NotFound(f"No running session {session_id!r}", field="session_id")
        return session

    async def _gc_loop(self) -> None:
        interval = max(1.0, min(60.0, self._ttl / 4))
        while True:
            await asyncio.sleep(interval)
            self.collect_garbage()
