"""The Redis store: the shared contract on a real Redis, plus two processes sharing sessions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from adapters.streams.redis import RedisStreamStore
from core.domain.errors import Conflict, Gone
from core.ports.stream_store import StreamStore
from tests.conftest import REDIS_URL
from tests.unit.streams.contract import OTHER, OWNER, StoreMaker, StreamStoreContract, collect, first_step

pytestmark = pytest.mark.redis


@pytest.fixture
async def key_prefix() -> AsyncIterator[str]:
    """A prefix of our own on the shared Redis; its keys are deleted afterwards."""
    prefix = f"test:streams:{uuid.uuid4().hex}:"
    yield prefix
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def stores(key_prefix: str) -> AsyncIterator[StoreMaker]:
    made: list[RedisStreamStore] = []

    async def make(buffer_events: int = 2048, ttl_seconds: float = 600.0, lease_seconds: float = 10.0) -> StreamStore:
        store = RedisStreamStore(
            REDIS_URL, buffer_events, ttl_seconds, key_prefix, block_seconds=0.2, lease_seconds=lease_seconds
        )
        await store.start()
        made.append(store)
        return store

    async def peer(store: StreamStore) -> StreamStore:
        return await make(lease_seconds=0.3)

    yield StoreMaker(make, asyncio.sleep, short_ttl=0.4, peer=peer, lease=0.3)
    for store in made:
        await store.close()


class TestRedisStreamStoreContract(StreamStoreContract):
    pass


@pytest.fixture
async def two_processes(key_prefix: str) -> AsyncIterator[tuple[RedisStreamStore, RedisStreamStore]]:
    first = RedisStreamStore(REDIS_URL, 64, 60, key_prefix, block_seconds=0.2)
    second = RedisStreamStore(REDIS_URL, 64, 60, key_prefix, block_seconds=0.2)
    await first.start()
    await second.start()
    yield first, second
    await first.close()
    await second.close()


async def test_a_second_instance_replays_and_follows_a_live_session(
    two_processes: tuple[RedisStreamStore, RedisStreamStore],
) -> None:
    producer, reader = two_processes
    await producer.open("s", OWNER, {"model": "smol"})
    await producer.append("s", "e0")
    await producer.append("s", "e1")
    follower = asyncio.create_task(collect(reader, "s"))
    resumer = asyncio.create_task(collect(reader, "s", after=1))
    await asyncio.sleep(0.1)
    assert not follower.done()
    await producer.append("s", "e2")
    await producer.finish("s")
    assert await follower == [(0, "e0"), (1, "e1"), (2, "e2")]
    assert await resumer == [(2, "e2")]
    status = await reader.status("s")
    assert status is not None
    assert (status.state, status.next_index, status.metadata) == ("finished", 3, {"model": "smol"})


async def test_finish_wakes_a_blocked_follower_at_once(key_prefix: str) -> None:
    store = RedisStreamStore(REDIS_URL, 64, 60, key_prefix, block_seconds=30)
    await store.start()
    try:
        await store.open("s", OWNER)
        follower = asyncio.create_task(collect(store, "s"))
        await asyncio.sleep(0.1)
        await store.finish("s")
        assert await asyncio.wait_for(follower, 2) == []  # not after the 30 s block
    finally:
        await store.close()


async def test_open_of_a_running_id_has_one_winner_across_instances(
    two_processes: tuple[RedisStreamStore, RedisStreamStore],
) -> None:
    first, second = two_processes
    for attempt in range(10):
        session_id = f"race{attempt}"
        results = await asyncio.gather(
            first.open(session_id, OWNER), second.open(session_id, OTHER), return_exceptions=True
        )
        assert sum(result is None for result in results) == 1
        assert sum(isinstance(result, Conflict) for result in results) == 1


async def test_cancel_asked_in_one_instance_is_seen_by_the_other(
    two_processes: tuple[RedisStreamStore, RedisStreamStore],
) -> None:
    producer, other = two_processes
    await producer.open("s", OWNER)
    assert await other.request_cancel("s") is True
    assert await producer.cancel_requested("s") is True


async def test_a_producer_that_dies_without_finishing_does_not_hang_followers(key_prefix: str) -> None:
    producer = RedisStreamStore(REDIS_URL, 64, 60, key_prefix, abandon_after_seconds=0.3)
    reader = RedisStreamStore(REDIS_URL, 64, 60, key_prefix, block_seconds=0.1)
    await producer.start()
    await reader.start()
    try:
        await producer.open("s", OWNER)
        await producer.append("s", "a")
        events = await asyncio.wait_for(collect(reader, "s"), 3)  # keys expire 0.3 s after the append
        assert events == [(0, "a")]
        assert await reader.status("s") is None
    finally:
        await producer.close()
        await reader.close()


async def test_the_first_index_follows_exact_trimming(stores: StoreMaker) -> None:
    store = await stores.make(buffer_events=3)
    await store.open("s", OWNER)
    for i in range(5):
        await store.append("s", f"e{i}")
    await store.finish("s")  # the finish marker is not an event and evicts none
    status = await store.status("s")
    assert status is not None and (status.first_index, status.next_index) == (2, 5)
    assert await collect(store, "s", after=1) == [(2, "e2"), (3, "e3"), (4, "e4")]
    with pytest.raises(Gone, match="2 to 4"):
        await first_step(store.follow("s", after=0))


async def connections_named(client: aioredis.Redis, name: str) -> int:
    return sum(1 for c in await client.client_list() if c.get("name") == name)


async def test_150_followers_share_a_small_bounded_pool(key_prefix: str) -> None:
    producer = RedisStreamStore(REDIS_URL, 256, 60, key_prefix, max_connections=4)
    reader = RedisStreamStore(REDIS_URL, 256, 60, key_prefix, max_connections=6)
    admin = aioredis.from_url(REDIS_URL, decode_responses=True)
    await producer.start()
    await reader.start()
    try:
        await producer.open("s", OWNER)
        await producer.append("s", "e0")
        followers = [asyncio.create_task(collect(reader, "s", within=60)) for _ in range(150)]
        most = 0
        for i in range(1, 40):
            await producer.append("s", f"e{i}")
            await asyncio.sleep(0.01)
            most = max(most, await connections_named(admin, f"{key_prefix}pool"))
        await producer.finish("s")
        results = await asyncio.gather(*followers)
        assert all(result == [(i, f"e{i}") for i in range(40)] for result in results)
        assert 0 < most <= 4 + 6  # both processes' pools together, never one connection per follower
        assert await connections_named(admin, f"{key_prefix}notify") == 2  # one listener per process
    finally:
        await producer.close()
        await reader.close()
        await admin.aclose()


async def test_a_cancel_is_pushed_to_the_producer_not_polled(
    two_processes: tuple[RedisStreamStore, RedisStreamStore],
) -> None:
    producer, other = two_processes
    checks = 0
    exists = producer.cancel_requested

    async def counted(session_id: str) -> bool:
        nonlocal checks
        checks += 1
        return await exists(session_id)

    producer.cancel_requested = counted  # type: ignore[method-assign]
    await producer.open("s", OWNER)
    waiter = asyncio.create_task(producer.wait_cancel("s"))
    await asyncio.sleep(0.6)  # three block_seconds: a poller would have asked several times
    assert not waiter.done() and checks == 1
    assert await other.request_cancel("s") is True
    await asyncio.wait_for(waiter, 2)
    assert checks == 2


async def test_a_producer_whose_store_write_fails_ends_its_stream_with_an_error(key_prefix: str) -> None:
    from core.domain.streams import StreamNamespace, StreamRef
    from core.use_cases.stream_sessions import DONE, StreamSessions

    class FailsOnce(RedisStreamStore):
        appends = 0

        async def append(self, session_id: str, data: str) -> int:
            self.appends += 1
            if self.appends == 3:
                raise ConnectionError("lost the write")
            return await super().append(session_id, data)

    store = FailsOnce(REDIS_URL, 64, 60, key_prefix)
    await store.start()
    closed: list[str] = []

    async def produce(cancel: asyncio.Event) -> AsyncIterator[str]:
        try:
            for i in range(1000):
                await asyncio.sleep(0.001)
                yield f"e{i}"
        finally:
            closed.append("closed")  # the generation stops

    try:
        sessions = StreamSessions(store)
        ref = StreamRef(StreamNamespace.COMPLETIONS, "s")
        async with sessions.reserve(ref, OWNER) as reservation:
            sessions.start(reservation, produce, on_failure=lambda _e: "failed")
        await asyncio.wait_for(sessions.wait(ref), 5)
        events = [e.data async for e in sessions.follow(ref, OWNER)]
        assert events == ["e0", "e1", "failed", DONE] and closed == ["closed"]
        status = await store.status(ref.key)
        assert status is not None and status.state == "finished"
    finally:
        await store.close()
