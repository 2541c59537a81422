"""One session's events in memory: a ring buffer whose followers are woken, never polled.

Shared by the in-memory store and by the SQLite store (for the sessions its own process generates).
Everything here runs on the event loop thread, so no locks are needed: a follower checks for new
events and registers its waiter without an ``await`` in between, so no wake-up can be lost.

Followers see only *published* events. The in-memory store publishes on append; the SQLite store
publishes after the commit that made them durable, so no client ever sees an event that a crash
could take back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator

from core.domain.errors import Conflict, Gone, NotFound
from core.domain.streams import StreamEvent, StreamOwner, StreamState, StreamStatus


def unknown_session(session_id: str) -> NotFound:
    return NotFound(f"Stream of unknown or expired session {session_id!r}", field="session_id")


def session_exists(session_id: str) -> Conflict:
    return Conflict(
        f"Session {session_id!r} already exists; a session id names one generation only, so start a new one "
        "with another session_id (or none) or resume this one with Last-Event-ID",
        field="session_id",
        code="session_exists",
    )


def already_finished(session_id: str) -> Conflict:
    return Conflict(f"Session {session_id!r} has finished; open it again to start a new stream", field="session_id")


def evicted(session_id: str, after: int, first_index: int, next_index: int) -> Gone:
    available = (
        f"indexes {first_index} to {next_index - 1} are still available"
        if next_index > first_index
        else "no events are retained"
    )
    return Gone(
        f"Events after index {after} of session {session_id!r} are no longer retained "
        f"(events before index {first_index} were evicted); {available}",
        field="last_event_id",
    )


class RingLog:
    """The newest ``capacity`` events of one session plus its state."""

    __slots__ = (
        "_cancel",
        "_events",
        "_publish_on_append",
        "_waiter",
        "finished_at",
        "first_index",
        "lease_until",
        "metadata",
        "next_index",
        "owner",
        "published_finished",
        "published_to",
        "request",
        "session_id",
        "state",
        "takeovers",
        "touched_at",
    )

    def __init__(
        self,
        session_id: str,
        capacity: int,
        metadata: dict[str, str],
        now: float,
        *,
        owner: StreamOwner,
        first_index: int = 0,
        publish_on_append: bool = True,
    ) -> None:
        self.session_id = session_id
        self.owner = owner
        self.metadata = metadata
        self.state: StreamState = "running"
        self.first_index = first_index
        self.next_index = first_index
        self.finished_at: float | None = None
        self.touched_at = now
        self._cancel = asyncio.Event()  # set once a cancel is asked for; the producer awaits it
        self.lease_until = float("inf")  # the owning store sets and renews it
        self.takeovers = 0
        self.request: str | None = None
        self._events: deque[str] = deque(maxlen=capacity)
        self._waiter: asyncio.Event | None = None
        self._publish_on_append = publish_on_append
        self.published_to = first_index  # followers see indexes below this
        self.published_finished = False

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @cancel_requested.setter
    def cancel_requested(self, value: bool) -> None:
        if value:
            self._cancel.set()
        else:
            self._cancel.clear()

    async def wait_cancel(self) -> None:
        await self._cancel.wait()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def append(self, data: str, now: float) -> int:
        """Store one event (the caller checked the log is running) and wake the followers."""
        index = self.next_index
        self._events.append(data)
        self.next_index = index + 1
        self.first_index = self.next_index - len(self._events)
        self.touched_at = now
        if self._publish_on_append:
            self.published_to = self.next_index
            self._wake()
        return index

    def finish(self, now: float) -> bool:
        """Mark finished; returns False when it already was."""
        if self.state == "finished":
            return False
        self.state = "finished"
        self.finished_at = now
        if self._publish_on_append:
            self.published_finished = True
            self._wake()
        return True

    def publish(self, upto: int, finished: bool) -> None:
        """Let followers see the events below ``upto`` (and the end, when ``finished``): they are durable."""
        if upto > self.published_to:
            self.published_to = upto
        if finished:
            self.published_finished = True
        self._wake()

    def lease_expired(self, now: float) -> bool:
        return self.running and now >= self.lease_until

    def status(self, now: float | None = None) -> StreamStatus:
        return StreamStatus(
            self.session_id,
            self.state,
            self.first_index,
            self.next_index,
            dict(self.metadata),
            self.owner,
            lease_expired=now is not None and self.lease_expired(now),
            takeovers=self.takeovers,
        )

    def events_from(self, index: int) -> list[str]:
        """Retained payloads from ``index`` (>= ``first_index``) to the newest."""
        offset = index - self.first_index
        count = len(self._events) - offset
        if count <= 0:
            return []
        if count <= 32:  # the usual live case: a few events near the right end, O(1) each
            return [self._events[-i] for i in range(count, 0, -1)]
        return list(itertools.islice(self._events, offset, None))

    async def follow(self, after: int) -> AsyncIterator[StreamEvent]:
        """Events with index > ``after``, then live ones until finished.

        Raises ``Gone`` at once when ``after + 1`` was evicted, and later if this reader falls more
        than the buffer behind the writer.
        """
        position = max(after, -1) + 1
        while True:
            if position < self.first_index:
                raise evicted(self.session_id, position - 1, self.first_index, self.next_index)
            if position < self.published_to:
                batch = self.events_from(position)[: self.published_to - position]
                for offset, data in enumerate(batch):
                    yield StreamEvent(position + offset, data)
                position += len(batch)
                continue
            if self.published_finished:
                return
            await self._wait()

    async def _wait(self) -> None:
        waiter = self._waiter
        if waiter is None:
            waiter = self._waiter = asyncio.Event()
        await waiter.wait()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.set()


def may_replace(
    existing_state: StreamState, existing_owner: StreamOwner, owner: StreamOwner, continue_owned: bool
) -> bool:
    """Whether ``open`` may replace a live (unexpired) stream: only a finished one continued by its owner."""
    return continue_owned and existing_state == "finished" and existing_owner == owner


def require_running(log: RingLog | None, session_id: str) -> RingLog:
    if log is None:
        raise unknown_session(session_id)
    if not log.running:
        raise already_finished(session_id)
    return log
