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

Liveness: this process renews the store lease of every stream it generates (``lease_renew_seconds``).
A follower of a stream generated elsewhere checks its lease (at once, then every
``lease_check_seconds``), and a sweep asks the store for expired leases, so a stream whose process
died is noticed within a lease plus about a second. The process that notices either takes the
generation over (``takeover``; the stream's kind continues it, at most ``max_takeovers`` times) or
ends the stream with its kind's "interrupted" payloads and ``[DONE]``; the store makes either step
atomic, so exactly one process does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.domain.errors import Conflict, Gone, NotFound
from core.domain.streams import StreamClaim, StreamEvent, StreamOwner, StreamRef, StreamStatus
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
    # How long to wait before asking a failing store again (for a cancel).
    store_retry_seconds: float = 0.5
    # How often this process renews the leases of the streams it generates (well below the lease).
    lease_renew_seconds: float = 1.0
    # How often a follower of another process's stream, and the sweep, look for an expired lease.
    lease_check_seconds: float = 1.0
    # Continue the generation of a stream whose process died instead of ending it.
    takeover: bool = False
    max_takeovers: int = 2


class StreamKind(Protocol):
    """What the endpoint behind one kind of stream (``metadata["kind"]``) does when its producer died."""

    def interrupted(self) -> Sequence[str]:
        """The payloads that end an interrupted stream in this kind's format (``[DONE]`` follows)."""
        ...

    def failure(self, error: Exception) -> str:
        """The last payload of a continuation that failed (as ``on_failure`` of ``start``)."""
        ...

    async def take_over(self, claim: StreamClaim, events: Sequence[str]) -> Producer | None:
        """A producer that continues the generation after ``events`` (every payload so far), or None."""
        ...


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
        self._kinds: dict[str, StreamKind] = {}
        self._recovering: set[str] = set()
        self._background: list[asyncio.Task[None]] = []

    @property
    def store(self) -> StreamStore:
        return self._store

    @property
    def running_count(self) -> int:
        """Generations producing in this process now."""
        return len(self._running)

    def is_running_here(self, ref: StreamRef) -> bool:
        return ref.key in self._running

    def register_kind(self, kind: str, handler: StreamKind) -> None:
        self._kinds[kind] = handler

    async def supervise(self) -> None:
        """Start renewing this process's leases and sweeping for streams of dead processes (idempotent)."""
        if not self._background:
            self._background = [
                asyncio.create_task(self._keep_leases(), name="stream-leases"),
                asyncio.create_task(self._sweep_expired(), name="stream-lease-sweep"),
            ]

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

    def start(
        self,
        reservation: Reservation,
        producer: Producer,
        on_failure: FailurePayload = generic_failure,
        *,
        request: str | None = None,
    ) -> None:
        """Start producing into a reserved stream. If the producer raises or a store write fails, the
        generation stops and the stream ends with ``on_failure(error)`` then ``[DONE]``. ``request``
        (opaque to this class) is kept with the stream so that another process can take it over."""
        if reservation.started:
            raise RuntimeError(f"stream {reservation.ref.key} already started")
        reservation.started = True
        self._launch(reservation.ref.key, producer, on_failure, request)

    def _launch(self, key: str, producer: Producer, on_failure: FailurePayload, request: str | None = None) -> None:
        cancel = asyncio.Event()
        task = asyncio.create_task(self._run(key, producer, cancel, on_failure, request), name=f"stream:{key}")
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
        watchdog: asyncio.Task[None] | None = None
        if running is not None:
            running.followers += 1
            if running.idle_timer is not None:
                running.idle_timer.cancel()
                running.idle_timer = None
        else:
            watchdog = asyncio.create_task(self._watch_lease(session_id), name=f"stream-watch:{session_id}")
        try:
            async for event in self._store.follow(session_id, after):
                yield event
        finally:
            if watchdog is not None:
                watchdog.cancel()
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
        for task in self._background:
            task.cancel()
        self._background = []
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
        self,
        session_id: str,
        producer: Producer,
        cancel: asyncio.Event,
        on_failure: FailurePayload,
        request: str | None,
    ) -> None:
        watcher = asyncio.create_task(self._watch_remote_cancel(session_id, cancel))
        failure: Exception | None = None
        try:
            if request is not None:
                await self._store.save_request(session_id, request)
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
        """A cancel asked through the store (by any process) reaches the producer: the store pushes it."""
        while not cancel.is_set():
            try:
                await self._store.wait_cancel(session_id)
            except Exception as error:  # the store failed for a moment: wait on it again
                logger.warning("stream.cancel_watch_failed session_id=%s error=%r", session_id, error)
                await asyncio.sleep(self._policy.store_retry_seconds)
                continue
            cancel.set()

    # -- leases ----------------------------------------------------------------------------------

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self._policy.lease_renew_seconds)
            if not self._running:
                continue
            try:
                lost = await self._store.renew_leases(list(self._running))
            except Exception:
                logger.exception("stream.lease_renewal_failed")
                continue
            for session_id in lost:
                running = self._running.get(session_id)
                if running is not None and not running.task.done():
                    logger.warning("stream.lease_lost session_id=%s", session_id)
                    running.cancel.set()

    async def _sweep_expired(self) -> None:
        while True:
            try:
                for session_id in await self._store.expired_streams():
                    status = await self._store.status(session_id)
                    if status is not None and status.lease_expired:
                        await self._recover(status)
            except Exception:
                logger.exception("stream.lease_sweep_failed")
            await asyncio.sleep(self._policy.lease_check_seconds)

    async def _watch_lease(self, session_id: str) -> None:
        """While somebody follows a stream generated elsewhere: act once its producer is gone."""
        while True:
            if session_id not in self._running:
                try:
                    status = await self._store.status(session_id)
                except Exception:
                    logger.exception("stream.lease_check_failed session_id=%s", session_id)
                    status = None
                    await asyncio.sleep(self._policy.lease_check_seconds)
                    continue
                if status is None or status.state == "finished":
                    return
                if status.lease_expired:
                    await self._recover(status)
            await asyncio.sleep(self._policy.lease_check_seconds)

    async def _recover(self, status: StreamStatus) -> None:
        """Take over or end a stream whose producer died (the store lets one process win)."""
        session_id = status.session_id
        if session_id in self._recovering or session_id in self._running:
            return
        self._recovering.add(session_id)
        try:
            kind = self._kinds.get(status.metadata.get("kind", ""))
            if self._policy.takeover and kind is not None:
                claim = await self._store.claim(session_id, self._policy.max_takeovers)
                if claim is not None:
                    await self._continue(claim, kind)
                    return
            payloads = [*(kind.interrupted() if kind is not None else ()), DONE]
            if await self._store.interrupt(session_id, payloads):
                logger.warning("stream.interrupted session_id=%s", session_id)
        finally:
            self._recovering.discard(session_id)

    async def _continue(self, claim: StreamClaim, kind: StreamKind) -> None:
        """This process holds the stream now: continue it, or end it if it cannot be continued."""
        producer: Producer | None = None
        try:
            events = await self._events_before(claim.session_id, claim.next_index)
            if events is not None:
                producer = await kind.take_over(claim, events)
        except Exception:
            logger.exception("stream.takeover_failed session_id=%s", claim.session_id)
        if producer is None:
            producer = _fixed(kind.interrupted())
            logger.warning("stream.interrupted session_id=%s", claim.session_id)
        else:
            self._metrics.stream_taken_over()
            logger.warning("stream.taken_over session_id=%s takeovers=%s", claim.session_id, claim.takeovers)
        self._launch(claim.session_id, producer, kind.failure)

    async def _events_before(self, session_id: str, next_index: int) -> list[str] | None:
        """Every payload before ``next_index``, or None when some were evicted."""
        payloads: list[str] = []
        if next_index == 0:
            return payloads
        try:
            async with contextlib.aclosing(self._store.follow(session_id)) as events:  # type: ignore[type-var]
                async for event in events:
                    if event.index != len(payloads):
                        return None
                    payloads.append(event.data)
                    if event.index == next_index - 1:
                        return payloads
        except Gone:
            return None
        return None


def _fixed(payloads: Sequence[str]) -> Producer:
    async def produce(cancel: asyncio.Event) -> AsyncIterator[str]:
        for payload in payloads:
            yield payload

    return produce
