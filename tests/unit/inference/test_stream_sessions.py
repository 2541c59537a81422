from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.domain.errors import Conflict, Gone, NotFound
from core.inference.racing import Cancelled, until_cancelled
from core.use_cases.stream_sessions import DONE, SessionPolicy, StreamSessions
from tests.fakes.stream_store import FakeStreamStore


def counting_producer(count: int, delay: float = 0.0, log: list[str] | None = None):  # type: ignore[no-untyped-def]
    async def produce(cancel: asyncio.Event) -> AsyncIterator[str]:
        async def numbers() -> AsyncIterator[int]:
            for i in range(count):
                await asyncio.sleep(delay)
                yield i

        try:
            async for i in until_cancelled(numbers(), cancel):
                yield f"event {i}"
        except Cancelled:
            if log is not None:
                log.append("cancelled")
            yield "cancelled"

    return produce


async def collect(sessions: StreamSessions, session_id: str, after: int = -1) -> list[tuple[int, str]]:
    return [(e.index, e.data) async for e in sessions.follow(session_id, after)]


async def test_generation_runs_without_any_reader_and_can_be_replayed() -> None:
    store = FakeStreamStore()
    sessions = StreamSessions(store)
    await sessions.start("s1", counting_producer(3))
    await sessions.wait("s1")
    assert await collect(sessions, "s1") == [(0, "event 0"), (1, "event 1"), (2, "event 2"), (3, DONE)]


async def test_resume_after_index_gives_the_rest_and_concatenation_matches() -> None:
    sessions = StreamSessions(FakeStreamStore())
    await sessions.start("s", counting_producer(6, delay=0.005))
    first = []
    async for event in sessions.follow("s"):
        first.append(event.data)
        if event.index == 2:
            break  # the client drops the connection
    rest = [e.data async for e in sessions.follow("s", after=2)]
    full = [e.data async for e in sessions.follow("s")]
    assert first + rest == full
    assert full[-1] == DONE


async def test_several_followers_see_the_same_events() -> None:
    sessions = StreamSessions(FakeStreamStore())
    await sessions.start("s", counting_producer(5, delay=0.002))
    a, b = await asyncio.gather(collect(sessions, "s"), collect(sessions, "s"))
    assert a == b and len(a) == 6


async def test_starting_a_running_session_again_conflicts() -> None:
    sessions = StreamSessions(FakeStreamStore())
    await sessions.start("s", counting_producer(100, delay=0.01))
    with pytest.raises(Conflict):
        await sessions.start("s", counting_producer(1))
    await sessions.cancel("s")
    await sessions.wait("s")


async def test_cancel_stops_the_producer_and_followers_get_a_final_event() -> None:
    log: list[str] = []
    sessions = StreamSessions(FakeStreamStore())
    await sessions.start("s", counting_producer(1000, delay=0.01, log=log))
    await asyncio.sleep(0.03)
    await sessions.cancel("s")
    events = await asyncio.wait_for(collect(sessions, "s"), timeout=1)
    assert log == ["cancelled"]
    assert [d for _, d in events][-2:] == ["cancelled", DONE]
    assert len(events) < 100


async def test_cancel_unknown_session_is_not_found() -> None:
    sessions = StreamSessions(FakeStreamStore())
    with pytest.raises(NotFound):
        await sessions.cancel("nope")


async def test_cancel_reaches_a_session_running_in_another_process_through_the_store() -> None:
    store = FakeStreamStore()
    owner = StreamSessions(store, SessionPolicy(cancel_poll_seconds=0.01))
    other = StreamSessions(store)  # another process sharing the store
    await owner.start("s", counting_producer(1000, delay=0.01))
    await other.cancel("s")
    await asyncio.wait_for(owner.wait("s"), timeout=1)
    assert (await collect(other, "s"))[-2][1] == "cancelled"


async def test_all_followers_gone_cancels_after_the_configured_delay() -> None:
    log: list[str] = []
    sessions = StreamSessions(FakeStreamStore(), SessionPolicy(cancel_after_disconnect_seconds=0.05))
    await sessions.start("s", counting_producer(1000, delay=0.01, log=log))
    async for event in sessions.follow("s"):
        if event.index == 1:
            break
    await asyncio.wait_for(sessions.wait("s"), timeout=1)
    assert log == ["cancelled"]


async def test_a_returning_follower_keeps_the_generation_alive() -> None:
    log: list[str] = []
    sessions = StreamSessions(FakeStreamStore(), SessionPolicy(cancel_after_disconnect_seconds=0.08))
    await sessions.start("s", counting_producer(15, delay=0.01, log=log))
    async for event in sessions.follow("s"):
        if event.index == 1:
            break
    await asyncio.sleep(0.02)
    events = await collect(sessions, "s", after=1)  # back within the delay, follows to the end
    assert log == [] and events[-1][1] == DONE and events[-2][1] == "event 14"


async def test_zero_disables_cancel_after_disconnect() -> None:
    log: list[str] = []
    sessions = StreamSessions(FakeStreamStore(), SessionPolicy(cancel_after_disconnect_seconds=0))
    await sessions.start("s", counting_producer(5, delay=0.01, log=log))
    await sessions.wait("s")
    assert log == []


async def test_follow_errors_come_from_the_store() -> None:
    store = FakeStreamStore(first_index=5)
    sessions = StreamSessions(store)
    with pytest.raises(NotFound):
        await anext(sessions.follow("missing"))
    await sessions.start("s", counting_producer(1))
    with pytest.raises(Gone):
        await anext(sessions.follow("s", after=1))


async def test_a_failing_producer_still_ends_the_stream() -> None:
    async def broken(cancel: asyncio.Event) -> AsyncIterator[str]:
        yield "first"
        raise RuntimeError("boom")

    sessions = StreamSessions(FakeStreamStore())
    await sessions.start("s", broken)
    await sessions.wait("s")
    assert [d for _, d in await collect(sessions, "s")] == ["first", DONE]
