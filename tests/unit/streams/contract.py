"""The behaviour every ``StreamStore`` adapter must have, written once.

An adapter's test module subclasses ``StreamStoreContract`` and provides the ``stores`` fixture: a
``StoreMaker`` that builds started stores (closed at teardown) and can make time pass past a TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from core.domain.errors import Conflict, Gone, NotFound
from core.domain.streams import StreamEvent
from core.ports.stream_store import StreamStore


@dataclass
class StoreMaker:
    """``make(buffer_events, ttl_seconds)`` returns a started store; ``elapse(seconds)`` lets that
    much store time pass (a fake clock or a real sleep); ``short_ttl`` is the TTL TTL-tests use."""

    make: Callable[..., Awaitable[StreamStore]]
    elapse: Callable[[float], Awaitable[None]]
    short_ttl: float = 1.0
    # Another started store on the same data, as a second process would have (the in-memory store,
    # which one process owns, answers with the same instance).
    peer: Callable[[StreamStore], Awaitable[StreamStore]] | None = None
    lease: float = 10.0  # the lease duration lease tests give ``make(lease_seconds=...)``


async def collect(store: StreamStore, session_id: str, after: int = -1, within: float = 5.0) -> list[tuple[int, str]]:
    async def run() -> list[tuple[int, str]]:
        return [(e.index, e.data) async for e in store.follow(session_id, after)]

    return await asyncio.wait_for(run(), within)


async def first_step(iterator: AsyncIterator[StreamEvent]) -> StreamEvent:
    return await asyncio.wait_for(anext(iterator), 5.0)


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for a condition that a task outside our control makes true (test helper only)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


OWNER = "key:owner"
OTHER = "key:other"


async def settled(store: StreamStore, session_id: str, next_index: int) -> None:
    """Wait until ``store`` sees ``next_index`` events (another instance commits in the background)."""
    async with asyncio.timeout(5.0):
        while True:
            status = await store.status(session_id)
            if status is not None and status.next_index >= next_index:
                return
            await asyncio.sleep(0.01)


class StreamStoreContract:
    @pytest.fixture
    async def store(self, stores: StoreMaker) -> StreamStore:
        return await stores.make()

    async def test_indexes_start_at_zero_and_status_round_trips_metadata(self, store: StreamStore) -> None:
        await store.open("s", OWNER, {"model": "smol", "user": "42"})
        assert [await store.append("s", f"e{i}") for i in range(3)] == [0, 1, 2]
        status = await store.status("s")
        assert status is not None
        assert (status.state, status.first_index, status.next_index) == ("running", 0, 3)
        assert status.session_id == "s"
        assert status.metadata == {"model": "smol", "user": "42"}
        await store.finish("s")
        await store.finish("s")  # idempotent
        status = await store.status("s")
        assert status is not None and status.state == "finished" and status.next_index == 3

    async def test_unknown_session_has_no_status_and_rejects_append(self, store: StreamStore) -> None:
        assert await store.status("nobody") is None
        with pytest.raises(NotFound):
            await store.append("nobody", "x")

    async def test_append_after_finish_is_refused(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        await store.finish("s")
        with pytest.raises(Conflict):
            await store.append("s", "late")

    async def test_open_while_running_conflicts(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        await store.append("s", "a")
        for owner, continue_owned in ((OWNER, False), (OWNER, True), (OTHER, False)):
            with pytest.raises(Conflict, match="already exists") as refused:
                await store.open("s", owner, continue_owned=continue_owned)
            assert refused.value.code == "session_exists"
        assert [await store.append("s", "b")] == [1]  # the running stream is untouched

    @pytest.mark.parametrize("owner", [OWNER, OTHER])
    async def test_a_finished_stream_is_never_reopened(self, store: StreamStore, owner: str) -> None:
        await store.open("s", OWNER, {"v": "1"})
        await store.append("s", "old")
        await store.finish("s")
        with pytest.raises(Conflict) as refused:
            await store.open("s", owner, {"v": "2"})
        assert refused.value.code == "session_exists"
        status = await store.status("s")
        assert status is not None and status.owner == OWNER and status.metadata == {"v": "1"}
        assert await collect(store, "s") == [(0, "old")]

    async def test_the_owner_may_continue_a_finished_stream_when_asked(self, store: StreamStore) -> None:
        await store.open("s", OWNER, {"v": "1"})
        for i in range(3):
            await store.append("s", f"old{i}")
        await store.finish("s")
        with pytest.raises(Conflict):
            await store.open("s", OTHER, continue_owned=True)
        await store.open("s", OWNER, {"v": "2"}, continue_owned=True)
        assert await store.append("s", "new0") == 0
        status = await store.status("s")
        assert status is not None
        assert (status.state, status.first_index, status.next_index) == ("running", 0, 1)
        assert status.metadata == {"v": "2"} and status.owner == OWNER
        await store.finish("s")
        assert await collect(store, "s") == [(0, "new0")]

    async def test_the_owner_is_stored_with_the_stream(self, store: StreamStore) -> None:
        await store.open("a", OWNER)
        await store.open("b", OTHER)
        assert [(await store.status(k)).owner for k in ("a", "b")] == [OWNER, OTHER]  # type: ignore[union-attr]

    async def test_concurrent_opens_of_one_id_have_exactly_one_winner(self, store: StreamStore) -> None:
        results = await asyncio.gather(*(store.open("s", f"key:{i}") for i in range(6)), return_exceptions=True)
        winners = [i for i, r in enumerate(results) if r is None]
        assert len(winners) == 1
        assert all(isinstance(r, Conflict) for r in results if r is not None)
        status = await store.status("s")
        assert status is not None and status.owner == f"key:{winners[0]}"

    async def test_discard_forgets_the_stream_ends_its_followers_and_frees_the_id(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        await store.append("s", "a")
        received: list[int] = []

        async def follow() -> None:
            async for event in store.follow("s"):
                received.append(event.index)

        follower = asyncio.create_task(follow())
        await until(lambda: received == [0])
        await store.discard("s")
        await asyncio.wait_for(follower, 5)  # ends, without an error
        assert received == [0]
        assert await store.status("s") is None
        await store.discard("s")  # idempotent
        await store.discard("never")
        await store.open("s", OTHER)
        assert await store.append("s", "fresh") == 0

    async def test_follow_replays_then_follows_live_until_finish(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        await store.append("s", "a")
        await store.append("s", "b")
        follower = asyncio.create_task(collect(store, "s"))
        await asyncio.sleep(0.05)
        assert not follower.done()
        await store.append("s", "c")
        await store.finish("s")
        assert await follower == [(0, "a"), (1, "b"), (2, "c")]

    async def test_follow_after_an_index_resumes_after_it(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        for i in range(5):
            await store.append("s", f"e{i}")
        follower = asyncio.create_task(collect(store, "s", after=2))
        await asyncio.sleep(0.05)
        await store.append("s", "e5")
        await store.finish("s")
        assert await follower == [(3, "e3"), (4, "e4"), (5, "e5")]

    async def test_follow_on_a_finished_stream_replays_and_ends(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        for i in range(3):
            await store.append("s", f"e{i}")
        await store.finish("s")
        assert await collect(store, "s") == [(0, "e0"), (1, "e1"), (2, "e2")]
        assert await collect(store, "s", after=0) == [(1, "e1"), (2, "e2")]

    async def test_follow_past_the_end_of_a_finished_stream_yields_nothing(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        await store.append("s", "a")
        await store.finish("s")
        assert await collect(store, "s", after=0) == []
        assert await collect(store, "s", after=7) == []

    async def test_follow_unknown_raises_not_found_on_first_step(self, store: StreamStore) -> None:
        events = store.follow("ghost")  # creating the iterator is not an error yet
        with pytest.raises(NotFound, match="unknown or expired"):
            await first_step(events)

    async def test_follow_evicted_index_raises_gone_naming_what_is_left(self, stores: StoreMaker) -> None:
        store = await stores.make(buffer_events=4)
        await store.open("s", OWNER)
        for i in range(10):
            await store.append("s", f"e{i}")
        status = await store.status("s")
        assert status is not None and (status.first_index, status.next_index) == (6, 10)
        events = store.follow("s", after=2)
        with pytest.raises(Gone, match="6 to 9"):
            await first_step(events)
        await store.finish("s")
        assert await collect(store, "s", after=5) == [(6, "e6"), (7, "e7"), (8, "e8"), (9, "e9")]
        with pytest.raises(Gone):
            await collect(store, "s", after=-1)

    async def test_concurrent_followers_see_the_same_events_in_order(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        await store.append("s", "e0")
        followers = [asyncio.create_task(collect(store, "s")) for _ in range(3)]
        await asyncio.sleep(0.05)
        late = asyncio.create_task(collect(store, "s", after=0))
        for i in range(1, 50):
            await store.append("s", f"e{i}")
            if i % 10 == 0:
                await asyncio.sleep(0)  # let followers interleave with the writer
        await store.finish("s")
        expected = [(i, f"e{i}") for i in range(50)]
        for result in await asyncio.gather(*followers):
            assert result == expected
        assert await late == expected[1:]

    async def test_follower_cancelled_while_waiting_leaks_no_task(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        await store.append("s", "a")
        before = asyncio.all_tasks()
        received: list[int] = []

        async def follow() -> None:
            async for event in store.follow("s"):
                received.append(event.index)

        follower = asyncio.create_task(follow())
        await until(lambda: received == [0])
        await asyncio.sleep(0.05)  # now it waits for live events
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await asyncio.sleep(0.05)
        assert asyncio.all_tasks() - before == set()
        # the store still works for the next follower
        await store.append("s", "b")
        await store.finish("s")
        assert await collect(store, "s") == [(0, "a"), (1, "b")]

    async def test_request_cancel_only_for_running_streams(self, store: StreamStore) -> None:
        assert await store.request_cancel("nobody") is False
        assert await store.cancel_requested("nobody") is False
        await store.open("s", OWNER)
        assert await store.cancel_requested("s") is False
        assert await store.request_cancel("s") is True
        assert await store.cancel_requested("s") is True
        await store.finish("s")
        assert await store.request_cancel("s") is False
        await store.open("s", OWNER, continue_owned=True)  # a new stream starts without the old flag
        assert await store.cancel_requested("s") is False

    async def test_finished_session_expires_after_ttl(self, stores: StoreMaker) -> None:
        ttl = stores.short_ttl
        store = await stores.make(ttl_seconds=ttl)
        await store.open("s", OWNER)
        await store.append("s", "a")
        await store.finish("s")
        await stores.elapse(ttl * 0.3)
        assert await store.status("s") is not None
        await stores.elapse(ttl * 1.2)
        assert await store.status("s") is None
        with pytest.raises(NotFound, match="unknown or expired"):
            await first_step(store.follow("s"))
        with pytest.raises(NotFound):
            await store.append("s", "b")
        await store.open("s", OTHER)  # the id is free again, for anyone
        assert await store.append("s", "fresh") == 0

    async def test_wait_cancel_returns_once_a_cancel_is_asked(self, store: StreamStore) -> None:
        await store.open("s", OWNER)
        waiter = asyncio.create_task(store.wait_cancel("s"))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        assert await store.request_cancel("s") is True
        await asyncio.wait_for(waiter, 2)
        await asyncio.wait_for(store.wait_cancel("s"), 2)  # asked already: returns at once

    # -- leases ----------------------------------------------------------------------------------

    async def _dead_producer(self, stores: StoreMaker, events: int = 2) -> tuple[StreamStore, StreamStore]:
        """A stream opened by a producer that then stopped renewing, and a peer that outlived it."""
        assert stores.peer is not None
        producer = await stores.make(lease_seconds=stores.lease)
        await producer.open("s", OWNER, {"kind": "test"})
        await producer.save_request("s", "the request")
        for i in range(events):
            await producer.append("s", f"e{i}")
        survivor = await stores.peer(producer)
        await settled(survivor, "s", events)
        status = await survivor.status("s")
        assert status is not None and not status.lease_expired
        await stores.elapse(stores.lease * 1.5)
        return producer, survivor

    async def test_a_renewed_lease_does_not_expire(self, stores: StoreMaker) -> None:
        assert stores.peer is not None
        producer = await stores.make(lease_seconds=stores.lease)
        await producer.open("s", OWNER)
        survivor = await stores.peer(producer)
        for _ in range(3):
            await stores.elapse(stores.lease * 0.6)
            assert await producer.renew_leases(["s"]) == set()
        status = await survivor.status("s")
        assert status is not None and status.state == "running" and not status.lease_expired
        assert await survivor.interrupt("s", ["x"]) is False
        assert await survivor.claim("s", 2) is None

    async def test_an_expired_stream_is_interrupted_exactly_once(self, stores: StoreMaker) -> None:
        producer, survivor = await self._dead_producer(stores)
        status = await survivor.status("s")
        assert status is not None and status.lease_expired
        assert stores.peer is not None
        third = await stores.peer(producer)
        results = await asyncio.gather(*(s.interrupt("s", ["err", "[DONE]"]) for s in (survivor, third, survivor)))
        assert sorted(results) == [False, False, True]
        assert await collect(survivor, "s") == [(0, "e0"), (1, "e1"), (2, "err"), (3, "[DONE]")]
        status = await survivor.status("s")
        assert status is not None and (status.state, status.lease_expired) == ("finished", False)
        if survivor is not producer:
            assert await producer.renew_leases(["s"]) == {"s"}
            with pytest.raises(Conflict):
                await producer.append("s", "late")

    async def test_one_claim_wins_and_the_stream_continues_with_the_next_index(self, stores: StoreMaker) -> None:
        producer, survivor = await self._dead_producer(stores)
        assert stores.peer is not None
        third = await stores.peer(producer)
        claims = await asyncio.gather(survivor.claim("s", 2), third.claim("s", 2))
        won = [c for c in claims if c is not None]
        assert len(won) == 1
        claim = won[0]
        assert (claim.next_index, claim.takeovers, claim.request) == (2, 1, "the request")
        assert (claim.metadata, claim.owner) == ({"kind": "test"}, OWNER)
        winner = survivor if claims[0] is not None else third
        assert await winner.append("s", "e2") == 2
        if winner is not producer:
            assert await producer.renew_leases(["s"]) == {"s"}
            with pytest.raises(Conflict):
                await producer.append("s", "late")
        await winner.finish("s")
        assert await collect(winner, "s") == [(0, "e0"), (1, "e1"), (2, "e2")]
        loser = third if winner is survivor else survivor
        await settled(loser, "s", 3)
        assert await collect(loser, "s", after=0) == [(1, "e1"), (2, "e2")]

    async def test_takeovers_are_bounded(self, stores: StoreMaker) -> None:
        producer, survivor = await self._dead_producer(stores)
        assert await survivor.claim("s", 1) is not None
        await stores.elapse(stores.lease * 1.5)  # the claimer died too
        assert stores.peer is not None
        checker = await stores.peer(producer)
        status = await checker.status("s")
        assert status is not None and status.lease_expired and status.takeovers == 1
        assert await checker.claim("s", 1) is None
        assert await checker.interrupt("s", ["err"]) is True
