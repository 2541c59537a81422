"""Generation sessions decoupled from HTTP connections.

A session's producer runs as its own task and appends every payload to the ``StreamStore``; HTTP
responses only follow the store. A dropped connection therefore neither stops nor corrupts the
generation, and a client can resume from the last event it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from core.domain.errors import NotFound
from core.domain.streams import StreamEvent
from core.ports.metrics import NO_METRICS, Metrics
from core.ports.stream_store import StreamStore

DONE = "[DONE]"

logger = logging.getLogger(__name__)

# A producer gets the session's cancel event and yields SSE payloads; when the event is set it must
# stop its generation promptly and may yield a last payload saying so.
Producer = Callable[[asyncio.Event], AsyncIterator[str]]


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    # Cancel a generation when every follower has been gone this long (0 disables).
    cancel_after_disconnect_seconds: float = 3600.0
    # How often a running session checks the store for a cancel asked by another process.
    cancel_poll_seconds: float = 0.5


@dataclass(slots=True)
class _Running:
    task: asyncio.Task[None]
    cancel: asyncio.Event
    followers: int = 0
    idle_timer: asyncio.TimerHandle | None = field(default=None)


class StreamSessions:
    def __init__(self, store: StreamStore, policy: SessionPolicy | None = None, metrics: Metrics = NO_METRICS) -> None:
        self._store = store
        self._policy = policy or SessionPolicy()
        self._metrics = metrics
        self._running: dict[str, _Running] = {}

    @property
    def store(self) -> StreamStore:
        return self._store

    def is_running_here(self, session_id: str) -> bool:
        return session_id in self._running

    async def start(self, session_id: str, producer: Producer, metadata: Mapping[str, str] | None = None) -> None:
        """Open the session's stream and start producing. Raises ``Conflict`` while it is running."""
        await self._store.open(session_id, metadata)
        cancel = asyncio.Event()
        task = asyncio.create_task(self._run(session_id, producer, cancel), name=f"stream:{session_id}")
        running = _Running(task, cancel)
        self._running[session_id] = running
        # Until somebody follows, the disconnect clock runs.
        self._arm_idle_timer(session_id, running)

    async def cancel(self, session_id: str) -> None:
        """Stop a running generation here or in another process. Raises ``NotFound`` when no such
        session is running."""
        running = self._running.get(session_id)
        if running is not None:
            running.cancel.set()
            return
        if not await self._store.request_cancel(session_id):
            status = await self._store.status(session_id)
            if status is None:
                raise NotFound(f"No session {session_id!r} (unknown or expired)", field="session_id")
            raise NotFound(f"Session {session_id!r} has already finished", field="session_id")

    async def follow(self, session_id: str, after: int = -1) -> AsyncIterator[StreamEvent]:
        """Events after ``after`` then the live rest. ``NotFound``/``Gone`` raise on the first step."""
        running = self._running.get(session_id)
        if running is not None:
            running.followers += 1
            if running.idle_timer is not None:
                running.idle_timer.cancel()
                running.idle_timer = None
        try:
            async for event in self._store.follow(session_id, after):
                yield event
        finally:
            if running is not None:
                running.followers -= 1
                if running.followers == 0 and session_id in self._running:
                    self._arm_idle_timer(session_id, running)

    async def resume(self, session_id: str, after: int) -> AsyncIterator[StreamEvent]:
        """``follow`` for a client that reconnects with ``Last-Event-ID``; counted once the stream is found."""
        counted = False
        async with contextlib.aclosing(self.follow(session_id, after)) as events:  # type: ignore[type-var]
            async for event in events:
                if not counted:
                    counted = True
                    self._metrics.stream_resumed()
                yield event
        if not counted:
            self._metrics.stream_resumed()

    async def wait(self, session_id: str) -> None:
        """Wait until the local generation of ``session_id`` ends (for tests and shutdown)."""
        running = self._running.get(session_id)
        if running is not None:
            await asyncio.shield(running.task)

    async def close(self) -> None:
        """Cancel every local generation and wait for their streams to be finished."""
        for running in list(self._running.values()):
            running.cancel.set()
        tasks = [r.task for r in self._running.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def _arm_idle_timer(self, session_id: str, running: _Running) -> None:
        delay = self._policy.cancel_after_disconnect_seconds
        if delay <= 0:
            return
        if running.idle_timer is not None:
            running.idle_timer.cancel()
        loop = asyncio.get_running_loop()

        def fire() -> None:
            logger.info("stream.cancel_after_disconnect session_id=%s", session_id)
            running.cancel.set()

        running.idle_timer = loop.call_later(delay, fire)

    async def _run(self, session_id: str, producer: Producer, cancel: asyncio.Event) -> None:
        watcher = asyncio.create_task(self._watch_remote_cancel(session_id, cancel))
        try:
            async with contextlib.aclosing(producer(cancel)) as payloads:  # type: ignore[type-var]
                async for payload in payloads:
                    await self._store.append(session_id, payload)
        except Exception:
            logger.exception("stream.producer_failed session_id=%s", session_id)
        finally:
            watcher.cancel()
            with contextlib.suppress(Exception):
                await self._store.append(session_id, DONE)
            with contextlib.suppress(Exception):
                await self._store.finish(session_id)
            running = self._running.get(session_id)
            if running is not None and running.task is asyncio.current_task():
                del self._running[session_id]
                if running.idle_timer is not None:
                    running.idle_timer.cancel()

    async def _watch_remote_cancel(self, session_id: str, cancel: asyncio.Event) -> None:
        while not cancel.is_set():
            await asyncio.sleep(self._policy.cancel_poll_seconds)
            with contextlib.suppress(Exception):
                if await self._store.cancel_requested(session_id):
                    cancel.set()
