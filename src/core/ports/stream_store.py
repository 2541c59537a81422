"""The stream store port: where generation sessions append events and readers follow them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Protocol

from core.domain.streams import StreamClaim, StreamEvent, StreamOwner, StreamStatus


class StreamStore(Protocol):
    """Append-only, per-session event logs that outlive the HTTP connection that started them.

    Indexes start at 0 and grow by one per event. A store keeps at most a configured number of
    events per session (older ones are evicted) and forgets finished sessions after a TTL. Session
    ids are opaque keys here (the caller namespaces them); each stream records its owner.

    Leases: the store instance that opens (or claims) a stream holds its lease for the store's lease
    duration; ``renew_leases`` extends it. Only the holder may append to or finish a stream. A running
    stream whose lease expired belongs to a dead process: ``interrupt`` ends it and ``claim`` takes it
    over, each atomically across processes (one caller wins).
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def open(
        self,
        session_id: str,
        owner: StreamOwner,
        metadata: Mapping[str, str] | None = None,
        *,
        continue_owned: bool = False,
    ) -> None:
        """Create a new running stream held by this store, atomically (across processes where the
        store is shared).

        Raises ``Conflict`` with code ``session_exists`` while a stream with this id exists (running,
        or finished and not expired). With ``continue_owned`` a *finished* stream of the same owner is
        replaced (the next turn of a conversation); a running one still conflicts."""

    async def discard(self, session_id: str) -> None:
        """Forget a stream at once, whatever its state (a claim whose request failed before it
        streamed anything). Its followers end. Idempotent."""

    async def append(self, session_id: str, data: str) -> int:
        """Append one event and return its index. Raises ``NotFound`` for an unknown session."""

    async def finish(self, session_id: str) -> None:
        """Mark the stream finished: followers drain what is left and stop. Idempotent."""

    async def status(self, session_id: str) -> StreamStatus | None:
        """The stream's state, or ``None`` when unknown or expired."""

    def follow(self, session_id: str, after: int = -1) -> AsyncIterator[StreamEvent]:
        """Every retained event with index > ``after``, then live events until the stream is finished.

        Raises ``NotFound`` for an unknown or expired session and ``Gone`` when ``after + 1`` has
        already been evicted. Many followers may read one session at once.
        """

    async def request_cancel(self, session_id: str) -> bool:
        """Ask the generation behind a running stream to stop (it may run in another process).
        Returns False when there is no running stream with that id."""

    async def cancel_requested(self, session_id: str) -> bool: ...

    async def wait_cancel(self, session_id: str) -> None:
        """Return once a cancel is asked for the running stream ``session_id`` (from any process that
        shares the store). Pushed, not polled, where the store can push; never returns otherwise."""

    async def save_request(self, session_id: str, request: str) -> None:
        """Keep what a takeover needs to continue the generation (returned by ``claim``)."""

    async def renew_leases(self, session_ids: Collection[str]) -> set[str]:
        """Extend this store's lease on each running stream; returns the ids it no longer holds
        (finished or taken over elsewhere): their producers must stop."""

    async def interrupt(self, session_id: str, payloads: Sequence[str]) -> bool:
        """If the stream is running and its lease has expired: append ``payloads`` and finish it, in
        one atomic step. True when this call ended it."""

    async def claim(self, session_id: str, max_takeovers: int) -> StreamClaim | None:
        """If the stream is running, its lease has expired and it was taken over fewer than
        ``max_takeovers`` times: hold its lease from now on (atomically; one caller wins)."""

    async def expired_streams(self) -> list[str]:
        """Running streams whose lease has expired, where the store can list them cheaply (else [])."""
