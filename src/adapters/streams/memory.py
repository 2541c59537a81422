"""In-memory ring buffers of stream events: the default store, for one process.

Lifetimes (``clock`` seconds, ``time.monotonic`` by default):

* a finished session is forgotten ``ttl_seconds`` after it finished;
* a running session that got no append for ``abandon_after_seconds`` (default ten times the TTL)
  is taken for abandoned (its producer died without calling ``finish``): it is marked finished, so
  its followers drain and end instead of hanging, and it is then forgotten a TTL later like any
  finished session.

Leases (``lease_seconds``) work as in the other stores, within this one process: a producer that
stops renewing lets ``interrupt`` end its stream and ``claim`` take it over.

Both rules run lazily on every access and in a background sweep started by ``start()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence

import structlog

from adapters.streams._log import RingLog, may_replace, require_running, session_exists, unknown_session
from core.domain.streams import StreamClaim, StreamEvent, StreamOwner, StreamStatus

logger = structlog.get_logger(__name__)


def check_limits(buffer_events: int, ttl_seconds: float) -> None:
    if buffer_events < 1:
        raise ValueError(f"buffer_events must be at least 1, got {buffer_events}")
    if ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")


class InMemoryStreamStore:
    """Keeps the newest ``buffer_events`` events of each session in a ``deque``."""

    def __init__(
        self,
        buffer_events: int = 2048,
        ttl_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        abandon_after_seconds: float | None = None,
        sweep_interval_seconds: float | None = None,
        lease_seconds: float = 10.0,
    ) -> None:
        check_limits(buffer_events, ttl_seconds)
        self._lease = lease_seconds
        self._buffer_events = buffer_events
        self._ttl = ttl_seconds
        self._abandon_after = abandon_after_seconds if abandon_after_seconds is not None else 10 * ttl_seconds
        self._sweep_interval = sweep_interval_seconds or min(60.0, max(0.05, ttl_seconds / 4))
        self._clock = clock
        self._sessions: dict[str, RingLog] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="stream-store-sweep")

    async def close(self) -> None:
        """Stop the sweep and finish every running stream so that no follower waits forever."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        now = self._clock()
        for log in self._sessions.values():
            log.finish(now)

    async def open(
        self,
        session_id: str,
        owner: StreamOwner,
        metadata: Mapping[str, str] | None = None,
        *,
        continue_owned: bool = False,
    ) -> None:
        # No await between the check and the insert: atomic on the event loop.
        existing = self._get(session_id)
        if existing is not None and not may_replace(existing.state, existing.owner, owner, continue_owned):
            raise session_exists(session_id)
        now = self._clock()
        log = RingLog(session_id, self._buffer_events, dict(metadata or {}), now, owner=owner)
        log.lease_until = now + self._lease
        self._sessions[session_id] = log

    async def discard(self, session_id: str) -> None:
        log = self._sessions.pop(session_id, None)
        if log is not None:
            log.finish(self._clock())

    async def append(self, session_id: str, data: str) -> int:
        # Hot path: no expiry check here, a session that is appended to is alive by definition.
        log = require_running(self._sessions.get(session_id), session_id)
        return log.append(data, self._clock())

    async def finish(self, session_id: str) -> None:
        log = self._sessions.get(session_id)
        if log is not None:
            log.finish(self._clock())

    async def status(self, session_id: str) -> StreamStatus | None:
        log = self._get(session_id)
        return None if log is None else log.status(self._clock())

    async def follow(self, session_id: str, after: int = -1) -> AsyncIterator[StreamEvent]:
        log = self._get(session_id)
        if log is None:
            raise unknown_session(session_id)
        async with contextlib.aclosing(log.follow(after)) as events:
            async for event in events:
                yield event

    async def request_cancel(self, session_id: str) -> bool:
        log = self._get(session_id)
        if log is None or not log.running:
            return False
        log.cancel_requested = True
        return True

    async def cancel_requested(self, session_id: str) -> bool:
        log = self._sessions.get(session_id)
        return log is not None and log.running and log.cancel_requested

    async def save_request(self, session_id: str, request: str) -> None:
        log = self._sessions.get(session_id)
        if log is not None:
            log.request = request

    async def renew_leases(self, session_ids: Collection[str]) -> set[str]:
        now = self._clock()
        lost: set[str] = set()
        for session_id in session_ids:
            log = self._sessions.get(session_id)
            if log is None or not log.running:
                lost.add(session_id)
            else:
                log.lease_until = now + self._lease
        return lost

    async def interrupt(self, session_id: str, payloads: Sequence[str]) -> bool:
        log = self._get(session_id)
        now = self._clock()
        if log is None or not log.lease_expired(now):
            return False
        for data in payloads:
            log.append(data, now)
        log.finish(now)
        return True

    async def claim(self, session_id: str, max_takeovers: int) -> StreamClaim | None:
        log = self._get(session_id)
        now = self._clock()
        if log is None or not log.lease_expired(now) or log.takeovers >= max_takeovers:
            return None
        log.takeovers += 1
        log.lease_until = now + self._lease
        log.touched_at = now
        return StreamClaim(session_id, log.next_index, log.takeovers, dict(log.metadata), log.request, log.owner)

    async def expired_streams(self) -> list[str]:
        now = self._clock()
        return [sid for sid, log in self._sessions.items() if log.lease_expired(now)]

    async def wait_cancel(self, session_id: str) -> None:
        log = self._sessions.get(session_id)
        if log is None:
            await asyncio.Event().wait()  # no such stream: nothing will ever cancel it
        else:
            await log.wait_cancel()

    def purge_expired(self) -> int:
        """Apply both lifetime rules to every session now; returns how many were forgotten."""
        now = self._clock()
        expired = [sid for sid, log in self._sessions.items() if self._expire(log, now)]
        for session_id in expired:
            del self._sessions[session_id]
        if expired:
            logger.debug("streams.memory.purged", sessions=len(expired))
        return len(expired)

    def _get(self, session_id: str) -> RingLog | None:
        log = self._sessions.get(session_id)
        if log is not None and self._expire(log, self._clock()):
            del self._sessions[session_id]
            return None
        return log

    def _expire(self, log: RingLog, now: float) -> bool:
        """Finish an abandoned log; True when the log is past its TTL and must be forgotten."""
        if log.running and now - log.touched_at >= self._abandon_after:
            logger.warning("streams.memory.abandoned", session_id=log.session_id, next_index=log.next_index)
            log.finish(now)
        return log.finished_at is not None and now - log.finished_at >= self._ttl

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            self.purge_expired()
