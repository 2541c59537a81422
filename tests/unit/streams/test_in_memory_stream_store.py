"""The in-memory store: the shared contract on a fake clock, plus its own lifetime rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.streams.memory import InMemoryStreamStore
from core.domain.errors import Conflict, Gone
from core.ports.stream_store import StreamStore
from tests.unit.streams.contract import OWNER, StoreMaker, StreamStoreContract, collect


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def stores() -> AsyncIterator[StoreMaker]:
    clock = FakeClock()
    made: list[InMemoryStreamStore] = []

    async def make(buffer_events: int = 2048, ttl_seconds: float = 600.0, lease_seconds: float = 10.0) -> StreamStore:
        store = InMemoryStreamStore(buffer_events, ttl_seconds, clock, lease_seconds=lease_seconds)
        await store.start()
        made.append(store)
        return store

    async def elapse(seconds: float) -> None:
        clock.now += seconds

    async def peer(store: StreamStore) -> StreamStore:
        return store  # one process owns an in-memory store

    yield StoreMaker(make, elapse, short_ttl=600.0, peer=peer)
    for store in made:
        await store.close()


class TestInMemoryStreamStoreContract(StreamStoreContract):
    pass


async def test_the_background_sweep_forgets_expired_sessions_without_access() -> None:
    clock = FakeClock()
    store = InMemoryStreamStore(8, 60.0, clock, sweep_interval_seconds=0.01)
    await store.start()
    try:
        await store.open("s", OWNER)
        await store.finish("s")
        clock.now += 61
        await asyncio.sleep(0.05)
        assert "s" not in store._sessions  # gone without any call that would purge lazily
    finally:
        await store.close()


async def test_an_abandoned_running_session_ends_its_followers_then_expires() -> None:
    clock = FakeClock()
    store = InMemoryStreamStore(8, 60.0, clock, abandon_after_seconds=300.0)
    await store.open("s", OWNER)
    await store.append("s", "a")
    follower = asyncio.create_task(collect(store, "s"))
    await asyncio.sleep(0.02)
    clock.now += 299
    assert store.purge_expired() == 0
    assert not follower.done()
    clock.now += 2
    assert store.purge_expired() == 0  # marked finished now, forgotten a TTL later
    assert await follower == [(0, "a")]
    status = await store.status("s")
    assert status is not None and status.state == "finished"
    with pytest.raises(Conflict):
        await store.append("s", "too late")
    clock.now += 61
    assert store.purge_expired() == 1


async def test_close_ends_followers_of_running_streams() -> None:
    store = InMemoryStreamStore()
    await store.start()
    await store.open("s", OWNER)
    await store.append("s", "a")
    follower = asyncio.create_task(collect(store, "s"))
    await asyncio.sleep(0.02)
    await store.close()
    assert await follower == [(0, "a")]


async def test_a_reader_that_falls_a_whole_buffer_behind_gets_gone() -> None:
    store = InMemoryStreamStore(4)
    await store.open("s", OWNER)
    await store.append("s", "e0")
    events = store.follow("s")
    assert (await anext(events)).index == 0
    for i in range(1, 10):
        await store.append("s", f"e{i}")
    with pytest.raises(Gone, match="6 to 9"):
        await anext(events)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        InMemoryStreamStore(0)
    with pytest.raises(ValueError):
        InMemoryStreamStore(8, 0)
