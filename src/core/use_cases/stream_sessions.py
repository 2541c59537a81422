"""Generation sessions decoupled from HTTP connections.

A session's producer runs as its own task and appends every payload to the ``StreamStore``; HTTP
responses only follow the store. A dropped connection therefore neither stops nor corrupts the
generation, and a client can resume from the last event it saw.

Trust rules (the same on every store):

* a stream belongs to the owner that started it; following and cancelling check the owner, and
  anyone else is told the stream does not exist (``NotFound``, as for an unknown id);
* a session id names one generation: starting one under an id that exists (running, or finished and
  not expired) raises ``Conflict`` (code ``session_exists``), whoever asks;
* streams live in namespaces (``StreamRef``), so endpoints never see each other's streams;
* the stream is claimed before any work (``reserve``), and a request that fails before its producer
  starts gives the id back, so a failure leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from core.domain.errors import Conflict, NotFound
from core.domain.streams import StreamEvent, StreamOwner, StreamRef, StreamStatus
from core.ports.metrics import NO_METRICS, Metrics
from core.ports.stream_store import StreamStore

DONE = "[DONE]"

logger = logging.getLogger(__name__)

# A producer gets the session's cancel event and yields SSE payloads; when the event is set it must
# stop its generation promptly and may yield a last payload saying so.
Producer = Callable[[asyncio.Event], AsyncIterator[str]]
# The last payload of a stream whose producer or store write failed, in the endpoint's own format.
FailurePayload = Callable[[Exception], str]

# How often, and after how long, a producer retries the writes that end its stream.
END_ATTEMPTS = 4
END_RETRY_SECONDS = 0.1


def generic_failure(_error: Exception) -> str:
    return '{"error":{"message":"The stream failed","type":"server_error","param":null,"code":"stream_failed"}}'


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    # Cancel a generation when every follower has been gone this long (0 disables).
    cancel_after_disconnect_seconds: float = 3600.0
    # How often a running session checks the store for a cancel asked by another process.
    cancel_poll_seconds: float = 0.5


@dataclass(slots=True)
class Reservation:
    """A claimed stream whose producer has not started yet (see ``StreamSessions.reserve``)."""

    ref: StreamRef
    owner: StreamOwner
    started: bool = False


def no_such_stream(ref: StreamRef) -> NotFound:
    """The one answer for a stream that is unknown, expired or someone else's."""
    return NotFound(f"No session {ref.session_id!r} (unknown or expired)", field="session_id")


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

    @property
    def running_count(self) -> int:
        """Generations producing in this process now."""
        return len(self._running)

    def is_running_here(self, ref: StreamRef) -> bool:
        return ref.key in self._running

    @contextlib.asynccontextmanager
    async def reserve(
        self,
        ref: StreamRef,
        owner: StreamOwner,
        metadata: Mapping[str, str] | None = None,
        *,
        continue_owned: bool = False,
    ) -> AsyncIterator[Reservation]:
        """Claim the stream (``Conflict`` with code ``session_exists`` when the id is taken), then let
        the caller prepare its generation and ``start`` it inside the block. If the block raises or
        ends without starting, the claim is discarded: the id is free again and nothing leaks."""
        await self._store.open(ref.key, owner, metadata, continue_owned=continue_owned)
        reservation = Reservation(ref, owner)
        try:
            yield reservation
        finally:
            if not reservation.started:
                await asyncio.shield(self._store.discard(ref.key))

    def start(self, reservation: Reservation, producer: Producer, on_failure: FailurePayload = generic_failure) -> None:
        """Start producing into a reserved stream. If the producer raises or a store write fails, the
        generation stops and the stream ends with ``on_failure(error)`` then ``[DONE]``."""
        if reservation.started:
            raise RuntimeError(f"stream {reservation.ref.key} already started")
        reservation.started = True
        key = reservation.ref.key
        cancel = asyncio.Event()
        task = asyncio.create_task(self._run(key, producer, cancel, on_failure), name=f"stream:{key}")
        running = _Running(task, cancel)
        self._running[key] = running
        # Until somebody follows, the disconnect clock runs.
        self._arm_idle_timer(key, running)

    async def status(self, ref: StreamRef, owner: StreamOwner) -> StreamStatus:
        """The stream's status for its owner; ``NotFound`` for anyone else, as for an unknown id."""
        status = await self._store.status(ref.key)
        if status is None or status.owner != owner:
            raise no_such_stream(ref)
        return status

    async def cancel(self, ref: StreamRef, owner: StreamOwner) -> None:
        """Stop a running generation here or in another process. Raises ``NotFound`` when the owner
        has no such session running."""
        await self.status(ref, owner)
        key = ref.key
        running = self._running.get(key)
        if running is not None:
            running.cancel.set()
            return
        if not await self._store.request_cancel(key):
            if await self._store.status(key) is None:
                raise no_such_stream(ref)
            raise NotFound(f"Session {ref.session_id!r} has already finished", field="session_id")

    async def follow(self, ref: StreamRef, owner: StreamOwner, after: int = -1) -> AsyncIterator[StreamEvent]:
        """Events after ``after`` then the live rest, for the owner only. ``NotFound``/``Gone`` raise on
        the first step."""
        await self.status(ref, owner)
        session_id = ref.key
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

    async def resume(self, ref: StreamRef, owner: StreamOwner, after: int) -> AsyncIterator[StreamEvent]:
        """``follow`` for a client that reconnects with ``Last-Event-ID``; counted once the stream is found."""
        counted = False
        async with contextlib.aclosing(self.follow(ref, owner, after)) as events:  # type: ignore[type-var]
            async for event in events:
                if not counted:
                    counted = True
                    self._metrics.stream_resumed()
                yield event
        if not counted:
            self._metrics.stream_resumed()

    async def wait(self, ref: StreamRef) -> None:
        """Wait until the local generation of ``ref`` ends (for tests and shutdown)."""
        running = self._running.get(ref.key)
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

    async def _run(
        self, session_id: str, producer: Producer, cancel: asyncio.Event, on_failure: FailurePayload
    ) -> None:
        watcher = asyncio.create_task(self._watch_remote_cancel(session_id, cancel))
        failure: Exception | None = None
        try:
            # Closing the producer (on any way out) stops its generation and frees the model's rows.
            async with contextlib.aclosing(producer(cancel)) as payloads:  # type: ignore[type-var]
                async for payload in payloads:
                    await self._store.append(session_id, payload)
        except Exception as error:
            logger.exception("stream.producer_failed session_id=%s", session_id)
            failure = error
        finally:
            watcher.cancel()
            await self._end(session_id, [on_failure(failure)] if failure is not None else [])
            running = self._running.get(session_id)
            if running is not None and running.task is asyncio.current_task():
                del self._running[session_id]
                if running.idle_timer is not None:
                    running.idle_timer.cancel()

    async def _end(self, session_id: str, last_payloads: list[str]) -> None:
        """Append the last payloads, ``[DONE]`` and finish, retrying a store that fails for a moment, so
        no stream stays "running" behind a failed write."""
        pending = [*last_payloads, DONE]
        for attempt in range(END_ATTEMPTS):
            try:
                while pending:
                    await self._store.append(session_id, pending[0])
                    pending.pop(0)
                await self._store.finish(session_id)
                return
            except Exception as error:
                if isinstance(error, (NotFound, Conflict)) or attempt == END_ATTEMPTS - 1:
                    logger.warning("stream.end_failed session_id=%s error=%r", session_id, error)
                    return
                await asyncio.sleep(END_RETRY_SECONDS * 2**attempt)

    async def _watch_remote_cancel(self, session_id: str, cancel: asyncio.Event) -> None:
        while not cancel.is_set():
            await asyncio.sleep(self._policy.cancel_poll_seconds)
            with contextlib.suppress(Exception):
                if await self._store.cancel_requested(session_id):
                    cancel.set()
