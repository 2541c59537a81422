"""Stream sessions and dead producers: leases renewed, interrupted streams ended once, takeovers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from core.domain.streams import ANONYMOUS_OWNER, StreamClaim, StreamNamespace, StreamRef
from core.use_cases.stream_sessions import DONE, Producer, SessionPolicy, StreamSessions
from tests.fakes.stream_store import FakeStreamStore
from tests.unit.streams.contract import until

FAST = SessionPolicy(lease_renew_seconds=0.01, lease_check_seconds=0.01)
REF = StreamRef(StreamNamespace.COMPLETIONS, "s")
KEY = REF.key


class EchoKind:
    """A stream kind whose takeover continues with the events it was given, counted."""

    def __init__(self) -> None:
        self.given: list[tuple[StreamClaim, list[str]]] = []

    def interrupted(self) -> Sequence[str]:
        return ["interrupted"]

    def failure(self, error: Exception) -> str:
        return "failed"

    async def take_over(self, claim: StreamClaim, events: Sequence[str]) -> Producer | None:
        self.given.append((claim, list(events)))

        async def produce(cancel: asyncio.Event) -> AsyncIterator[str]:
            yield f"continued after {len(events)}"

        return produce


async def dead_stream(store: FakeStreamStore, session_id: str = KEY, request: str | None = "req") -> None:
    """A stream some other process opened, wrote two events to, and died."""
    await store.open(session_id, ANONYMOUS_OWNER, {"kind": "echo"})
    if request is not None:
        await store.save_request(session_id, request)
    await store.append(session_id, "e0")
    await store.append(session_id, "e1")
    store.expired.add(session_id)


async def follow_all(sessions: StreamSessions, after: int = -1) -> list[str]:
    async def run() -> list[str]:
        return [e.data async for e in sessions.follow(REF, ANONYMOUS_OWNER, after)]

    return await asyncio.wait_for(run(), 5)


async def test_a_follower_of_a_dead_stream_ends_it_with_the_kinds_interrupted_events() -> None:
    store = FakeStreamStore()
    sessions = StreamSessions(store, FAST)
    sessions.register_kind("echo", EchoKind())
    await dead_stream(store)
    assert await follow_all(sessions) == ["e0", "e1", "interrupted", DONE]


async def test_followers_noticing_together_end_the_stream_once() -> None:
    store = FakeStreamStore()
    sessions = [StreamSessions(store, FAST) for _ in range(3)]  # three processes on one store
    for s in sessions:
        s.register_kind("echo", EchoKind())
    await dead_stream(store)
    results = await asyncio.gather(*(follow_all(s, after=0) for s in sessions for _ in range(2)))
    assert all(r == ["e1", "interrupted", DONE] for r in results)
    assert store.events[KEY].count("interrupted") == 1


async def test_a_takeover_continues_the_stream_once_with_every_earlier_event() -> None:
    store = FakeStreamStore()
    kinds = [EchoKind() for _ in range(3)]
    sessions = [StreamSessions(store, SessionPolicy(lease_check_seconds=0.01, takeover=True)) for _ in kinds]
    for s, kind in zip(sessions, kinds, strict=True):
        s.register_kind("echo", kind)
    await dead_stream(store)
    results = await asyncio.gather(*(follow_all(s) for s in sessions))
    assert all(r == ["e0", "e1", "continued after 2", DONE] for r in results)
    given = [g for kind in kinds for g in kind.given]
    assert len(given) == 1
    claim, events = given[0]
    assert (claim.next_index, claim.takeovers, claim.request, events) == (2, 1, "req", ["e0", "e1"])


async def test_a_stream_taken_over_twice_ends_with_the_interrupted_events() -> None:
    store = FakeStreamStore()
    sessions = StreamSessions(store, SessionPolicy(lease_check_seconds=0.01, takeover=True, max_takeovers=2))
    sessions.register_kind("echo", EchoKind())
    await dead_stream(store)
    store.takeovers[KEY] = 2
    assert await follow_all(sessions) == ["e0", "e1", "interrupted", DONE]


async def test_a_kind_that_cannot_continue_ends_the_claimed_stream() -> None:
    class NoTakeover(EchoKind):
        async def take_over(self, claim: StreamClaim, events: Sequence[str]) -> Producer | None:
            return None

    store = FakeStreamStore()
    sessions = StreamSessions(store, SessionPolicy(lease_check_seconds=0.01, takeover=True))
    sessions.register_kind("echo", NoTakeover())
    await dead_stream(store)
    assert await follow_all(sessions) == ["e0", "e1", "interrupted", DONE]


async def test_the_sweep_ends_dead_streams_nobody_follows() -> None:
    store = FakeStreamStore()
    sessions = StreamSessions(store, FAST)
    sessions.register_kind("echo", EchoKind())
    await dead_stream(store)
    await sessions.supervise()
    try:
        await until(lambda: KEY in store.finished)
        assert store.events[KEY] == ["e0", "e1", "interrupted", DONE]
    finally:
        await sessions.close()


async def test_running_streams_renew_their_leases_and_stop_when_they_lost_one() -> None:
    store = FakeStreamStore()
    sessions = StreamSessions(store, FAST)
    await sessions.supervise()
    stopped = asyncio.Event()

    async def endless(cancel: asyncio.Event) -> AsyncIterator[str]:
        yield "first"
        await cancel.wait()
        stopped.set()

    try:
        async with sessions.reserve(REF, ANONYMOUS_OWNER) as reservation:
            sessions.start(reservation, endless)
        await until(lambda: any(KEY in ids for ids in store.renewed))
        store.expired.add(KEY)  # another process claimed it meanwhile: the renewal says so
        await asyncio.wait_for(stopped.wait(), 5)
    finally:
        await sessions.close()


async def test_a_live_producer_is_never_interrupted() -> None:
    store = FakeStreamStore()
    sessions = StreamSessions(store, FAST)
    sessions.register_kind("echo", EchoKind())
    release = asyncio.Event()

    async def slow(cancel: asyncio.Event) -> AsyncIterator[str]:
        yield "a"
        await release.wait()
        yield "b"

    async with sessions.reserve(REF, ANONYMOUS_OWNER, {"kind": "echo"}) as reservation:
        sessions.start(reservation, slow)
    reader = StreamSessions(store, FAST)  # another process follows; the lease is fresh
    follower = asyncio.ensure_future(follow_all(reader))
    await asyncio.sleep(0.1)
    release.set()
    assert await follower == ["a", "b", DONE]
