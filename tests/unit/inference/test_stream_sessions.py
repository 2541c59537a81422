from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.domain.errors import Conflict, Gone, NotFound
from core.domain.streams import StreamNamespace, StreamRef
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


ALICE = "key:alice"
MALLORY = "key:mallory"


def ref(session_id: str, namespace: StreamNamespace = StreamNamespace.COMPLETIONS) -> StreamRef:
    return StreamRef(namespace, session_id)


async def launch(
    sessions: StreamSessions, stream: StreamRef | str, producer, owner: str = ALICE, **options
) -> StreamRef:  # type: ignore[no-untyped-def]
    stream = ref(stream) if isinstance(stream, str) else stream
    async with sessions.reserve(stream, owner, **options) as reservation:
        sessions.start(reservation, producer)
    return stream


async def collect(
    sessions: StreamSessions, stream: StreamRef | str, after: int = -1, owner: str = ALICE
) -> list[tuple[int, str]]:
    stream = ref(stream) if isinstance(stream, str) else stream
    return [(e.index, e.data) async for e in sessions.follow(stream, owner, after)]


async def test_generation_runs_without_any_reader_and_can_be_replayed() -> None:
    store = FakeStreamStore()
    sessions = StreamSessions(store)
    await launch(sessions, "s1", counting_producer(3))
    await sessions.wait(ref("s1"))
    assert await collect(sessions, "s1") == [(0, "event 0"), (1, "event 1"), (2, "event 2"), (3, DONE)]


async def test_resume_after_index_gives_the_rest_and_concatenation_matches() -> None:
    sessions = StreamSessions(FakeStreamStore())
    await launch(sessions, "s", counting_producer(6, delay=0.005))
    first = []
    async for event in sessions.follow(ref("s"), ALICE):
        first.append(event.data)
        if event.index == 2:
            break  # the client drops the connection
    rest = [e.data async for e in sessions.follow(ref("s"), ALICE, after=2)]
    full = [e.data async for e in sessions.follow(ref("s"), ALICE)]
    assert first + rest == full
    assert full[-1] == DONE


async def test_several_followers_see_the_same_events() -> None:
    sessions = StreamSessions(FakeStreamStore())
    await launch(sessions, "s", counting_producer(5, delay=0.002))
    a, b = await asyncio.gather(collect(sessions, "s"), collect(sessions, "s"))
    assert a == b and len(a) == 6


async def test_starting_a_running_session_again_conflicts() -> None:
    sessions = StreamSessions(FakeStreamStore())
    await launch(sessions, "s", counting_producer(100, delay=0.01))
    with pytest.raises(Conflict):
        await launch(sessions, "s", counting_producer(1))
    await sessions.cancel(ref("s"), ALICE)
    await sessions.wait(ref("s"))


async def test_cancel_stops_the_producer_and_followers_get_a_final_event() -> None:
    log: list[str] = []
    sessions = StreamSessions(FakeStreamStore())
    await launch(sessions, "s", counting_producer(1000, delay=0.01, log=log))
    await asyncio.sleep(0.03)
    await sessions.cancel(ref("s"), ALICE)
    events = await asyncio.wait_for(collect(sessions, "s"), timeout=1)
    assert log == ["cancelled"]
    assert [d for _, d in events][-2:] == ["cancelled", DONE]
    assert len(events) < 100


async def test_cancel_unknown_session_is_not_found() -> None:
    sessions = StreamSessions(FakeStreamStore())
    with pytest.raises(NotFound):
        await sessions.cancel(ref("nope"), ALICE)


async def test_cancel_reaches_a_session_running_in_another_process_through_the_store() -> None:
    store = FakeStreamStore()
    owner = StreamSessions(store, SessionPolicy())
    other = StreamSessions(store)  # another process sharing the store
    await launch(owner, "s", counting_producer(1000, delay=0.01))
    await other.cancel(ref("s"), ALICE)
    await asyncio.wait_for(owner.wait(ref("s")), timeout=1)
    assert (await collect(other, "s"))[-2][1] == "cancelled"


async def test_all_followers_gone_cancels_after_the_configured_delay() -> None:
    log: list[str] = []
    sessions = StreamSessions(FakeStreamStore(), SessionPolicy(cancel_after_disconnect_seconds=0.05))
    await launch(sessions, "s", counting_producer(1000, delay=0.01, log=log))
    async for event in sessions.follow(ref("s"), ALICE):
        if event.index == 1:
            break
    await asyncio.wait_for(sessions.wait(ref("s")), timeout=1)
    assert log == ["cancelled"]


async def test_a_returning_follower_keeps_the_generation_alive() -> None:
    log: list[str] = []
    sessions = StreamSessions(FakeStreamStore(), SessionPolicy(cancel_after_disconnect_seconds=0.08))
    await launch(sessions, "s", counting_producer(15, delay=0.01, log=log))
    async for event in sessions.follow(ref("s"), ALICE):
        if event.index == 1:
            break
    await asyncio.sleep(0.02)
    events = await collect(sessions, "s", after=1)  # back within the delay, follows to the end
    assert log == [] and events[-1][1] == DONE and events[-2][1] == "event 14"


async def test_zero_disables_cancel_after_disconnect() -> None:
    log: list[str] = []
    sessions = StreamSessions(FakeStreamStore(), SessionPolicy(cancel_after_disconnect_seconds=0))
    await launch(sessions, "s", counting_producer(5, delay=0.01, log=log))
    await sessions.wait(ref("s"))
    assert log == []


async def test_follow_errors_come_from_the_store() -> None:
    store = FakeStreamStore(first_index=5)
    sessions = StreamSessions(store)
    with pytest.raises(NotFound):
        await anext(sessions.follow(ref("missing"), ALICE))
    await launch(sessions, "s", counting_producer(1))
    with pytest.raises(Gone):
        await anext(sessions.follow(ref("s"), ALICE, after=1))


async def test_a_failing_producer_still_ends_the_stream() -> None:
    async def broken(cancel: asyncio.Event) -> AsyncIterator[str]:
        yield "first"
        raise RuntimeError("boom")

    sessions = StreamSessions(FakeStreamStore())
    await launch(sessions, "s", broken)
    await sessions.wait(ref("s"))
    events = [d for _, d in await collect(sessions, "s")]
    assert events[0] == "first" and '"code":"stream_failed"' in events[1] and events[2:] == [DONE]


async def test_a_stream_is_followed_and_cancelled_only_by_its_owner() -> None:
    sessions = StreamSessions(FakeStreamStore())
    stream = await launch(sessions, "s", counting_producer(1000, delay=0.01))
    with pytest.raises(NotFound, match="unknown or expired") as other_follow:
        await anext(sessions.follow(stream, MALLORY))
    with pytest.raises(NotFound) as missing:
        await anext(sessions.follow(ref("missing"), MALLORY))
    assert str(other_follow.value).replace("'s'", "X") == str(missing.value).replace("'missing'", "X")
    with pytest.raises(NotFound, match="unknown or expired"):
        await sessions.cancel(stream, MALLORY)
    assert sessions.is_running_here(stream)
    await sessions.cancel(stream, ALICE)
    await sessions.wait(stream)
    assert (await collect(sessions, stream))[-2][1] == "cancelled"


@pytest.mark.parametrize("owner", [ALICE, MALLORY])
async def test_an_existing_session_id_is_never_reused_even_after_it_finished(owner: str) -> None:
    sessions = StreamSessions(FakeStreamStore())
    stream = await launch(sessions, "s", counting_producer(2))
    await sessions.wait(stream)
    with pytest.raises(Conflict) as refused:
        await launch(sessions, "s", counting_producer(5), owner=owner)
    assert refused.value.code == "session_exists"
    assert [d for _, d in await collect(sessions, stream)] == ["event 0", "event 1", DONE]


async def test_the_owner_may_continue_a_finished_stream_only_where_allowed_and_never_a_running_one() -> None:
    sessions = StreamSessions(FakeStreamStore())
    stream = await launch(sessions, "s", counting_producer(1000, delay=0.01))
    with pytest.raises(Conflict):
        await launch(sessions, "s", counting_producer(1), continue_owned=True)
    await sessions.cancel(stream, ALICE)
    await sessions.wait(stream)
    with pytest.raises(Conflict):
        await launch(sessions, "s", counting_producer(1), owner=MALLORY, continue_owned=True)
    await launch(sessions, "s", counting_producer(1), continue_owned=True)
    await sessions.wait(stream)
    assert await collect(sessions, stream) == [(0, "event 0"), (1, DONE)]


async def test_namespaces_keep_streams_with_the_same_id_apart() -> None:
    sessions = StreamSessions(FakeStreamStore())
    search = await launch(sessions, ref("s", StreamNamespace.AI_SEARCH), counting_producer(1))
    completion = await launch(sessions, "s", counting_producer(2))
    await sessions.wait(search)
    await sessions.wait(completion)
    assert len(await collect(sessions, search)) == 2 and len(await collect(sessions, completion)) == 3
    assert search.key != completion.key and ref("search/s").key != search.key


async def test_a_request_that_fails_before_starting_frees_the_id() -> None:
    store = FakeStreamStore()
    sessions = StreamSessions(store)
    with pytest.raises(ValueError, match="bad request"):
        async with sessions.reserve(ref("s"), ALICE):
            raise ValueError("bad request")
    assert store.discarded == ["v1/s"] and await store.status("v1/s") is None
    async with sessions.reserve(ref("s"), ALICE):
        pass  # ended without starting: freed as well
    assert store.discarded == ["v1/s", "v1/s"]
    await launch(sessions, "s", counting_producer(1))  # the id is free
    await sessions.wait(ref("s"))


async def test_a_producer_that_raises_ends_with_the_failure_payload() -> None:
    async def broken(cancel: asyncio.Event) -> AsyncIterator[str]:
        yield "first"
        raise RuntimeError("boom")

    sessions = StreamSessions(FakeStreamStore())
    async with sessions.reserve(ref("s"), ALICE) as reservation:
        sessions.start(reservation, broken, on_failure=lambda error: f"failed: {error}")
    await sessions.wait(ref("s"))
    assert [d for _, d in await collect(sessions, "s")] == ["first", "failed: boom", DONE]


class FlakyStore(FakeStreamStore):
    """Fails the ``fail_at``-th append (0-based) once, like a store that drops a write."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.appends = 0
        self.fail_at = fail_at

    async def append(self, session_id: str, data: str) -> int:
        self.appends += 1
        if self.appends - 1 == self.fail_at:
            raise ConnectionError("store write failed")
        return await super().append(session_id, data)


async def test_a_failed_store_write_stops_the_generation_and_ends_the_stream_with_an_error() -> None:
    log: list[str] = []
    store = FlakyStore(fail_at=2)
    sessions = StreamSessions(store)
    stream = await launch(sessions, "s", counting_producer(1000, delay=0.001, log=log))
    await asyncio.wait_for(sessions.wait(stream), timeout=2)
    events = [d for _, d in await collect(sessions, stream)]
    assert events[:2] == ["event 0", "event 1"]
    assert '"code":"stream_failed"' in events[2] and events[3:] == [DONE]
    assert (await store.status("v1/s")).state == "finished"  # type: ignore[union-attr]
