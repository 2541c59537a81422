"""A hand-written in-memory fake of the StreamStore port (no eviction, no TTL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Mapping, Sequence

from core.domain.errors import Conflict, Gone, NotFound
from core.domain.streams import StreamClaim, StreamEvent, StreamOwner, StreamStatus


class FakeStreamStore:
    def __init__(self, *, first_index: int = 0) -> None:
        self.events: dict[str, list[str]] = {}
        self.finished: set[str] = set()
        self.metadata: dict[str, dict[str, str]] = {}
        self.owners: dict[str, StreamOwner] = {}
        self.discarded: list[str] = []
        self.cancel_flags: set[str] = set()
        self.first_index = first_index  # pretend older events were evicted
        self.expired: set[str] = set()  # sessions whose lease a test let expire
        self.takeovers: dict[str, int] = {}
        self.requests: dict[str, str | None] = {}
        self.renewed: list[list[str]] = []
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def open(
        self,
        session_id: str,
        owner: StreamOwner,
        metadata: Mapping[str, str] | None = None,
        *,
        continue_owned: bool = False,
    ) -> None:
        if session_id in self.events and not (
            continue_owned and session_id in self.finished and self.owners[session_id] == owner
        ):
            raise Conflict(f"session {session_id} exists", field="session_id", code="session_exists")
        self.owners[session_id] = owner
        self.events[session_id] = []
        self.finished.discard(session_id)
        self.cancel_flags.discard(session_id)
        self.metadata[session_id] = dict(metadata or {})
        self.requests[session_id] = None
        self.takeovers[session_id] = 0
        self.expired.discard(session_id)

    async def discard(self, session_id: str) -> None:
        self.discarded.append(session_id)
        async with self._changed:
            self.events.pop(session_id, None)
            self.finished.discard(session_id)
            self._changed.notify_all()

    async def append(self, session_id: str, data: str) -> int:
        if session_id not in self.events:
            raise NotFound(f"unknown session {session_id}")
        async with self._changed:
            self.events[session_id].append(data)
            self._changed.notify_all()
        return len(self.events[session_id]) - 1

    async def finish(self, session_id: str) -> None:
        async with self._changed:
            self.finished.add(session_id)
            self._changed.notify_all()

    async def status(self, session_id: str) -> StreamStatus | None:
        if session_id not in self.events:
            return None
        state = "finished" if session_id in self.finished else "running"
        return StreamStatus(
            session_id,
            state,
            self.first_index,
            len(self.events[session_id]),
            self.metadata[session_id],
            self.owners[session_id],
            lease_expired=state == "running" and session_id in self.expired,
            takeovers=self.takeovers[session_id],
        )

    async def follow(self, session_id: str, after: int = -1) -> AsyncIterator[StreamEvent]:
        if session_id not in self.events:
            raise NotFound(f"unknown or expired session {session_id}")
        if after + 1 < self.first_index:
            raise Gone(f"events before {self.first_index} were evicted")
        position = after + 1
        while True:
            async with self._changed:
                while (
                    session_id in self.events
                    and position >= len(self.events[session_id])
                    and session_id not in self.finished
                ):
                    await self._changed.wait()
                if session_id not in self.events:
                    return  # discarded
                batch = self.events[session_id][position:]
                done = session_id in self.finished
            for data in batch:
                yield StreamEvent(position, data)
                position += 1
            if done and position >= len(self.events[session_id]):
                return

    async def request_cancel(self, session_id: str) -> bool:
        if session_id in self.events and session_id not in self.finished:
            async with self._changed:
                self.cancel_flags.add(session_id)
                self._changed.notify_all()
            return True
        return False

    async def wait_cancel(self, session_id: str) -> None:
        async with self._changed:
            while session_id not in self.cancel_flags:
                await self._changed.wait()

    async def cancel_requested(self, session_id: str) -> bool:
        return session_id in self.cancel_flags

    async def save_request(self, session_id: str, request: str) -> None:
        self.requests[session_id] = request

    async def renew_leases(self, session_ids: Collection[str]) -> set[str]:
        self.renewed.append(sorted(session_ids))
        return {sid for sid in session_ids if sid in self.finished or sid in self.expired}

    async def interrupt(self, session_id: str, payloads: Sequence[str]) -> bool:
        if session_id not in self.expired or session_id in self.finished:
            return False
        for data in payloads:
            await self.append(session_id, data)
        await self.finish(session_id)
        return True

    async def claim(self, session_id: str, max_takeovers: int) -> StreamClaim | None:
        if session_id not in self.expired or session_id in self.finished:
            return None
        if self.takeovers[session_id] >= max_takeovers:
            return None
        self.expired.discard(session_id)
        self.takeovers[session_id] += 1
        return StreamClaim(
            session_id,
            len(self.events[session_id]),
            self.takeovers[session_id],
            dict(self.metadata[session_id]),
            self.requests[session_id],
            self.owners[session_id],
        )

    async def expired_streams(self) -> list[str]:
        return sorted(sid for sid in self.expired if sid not in self.finished)
