"""The SQLite store: the shared contract on a real file, plus restarts and crashes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.streams.sqlite import SqliteStreamStore
from core.domain.errors import Conflict, NotFound
from core.ports.stream_store import StreamStore
from tests.unit.streams.contract import OTHER, OWNER, StoreMaker, StreamStoreContract, collect


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[StoreMaker]:
    clock = FakeClock()
    made: list[SqliteStreamStore] = []

    async def make(buffer_events: int = 2048, ttl_seconds: float = 600.0, lease_seconds: float = 10.0) -> StreamStore:
        path = str(tmp_path / f"streams{len(made)}.db")
        store = SqliteStreamStore(path, buffer_events, ttl_seconds, clock=clock, lease_seconds=lease_seconds)
        await store.start()
        made.append(store)
        return store

    async def elapse(seconds: float) -> None:
        clock.now += seconds

    async def peer(store: StreamStore) -> StreamStore:
        assert isinstance(store, SqliteStreamStore)
        other = SqliteStreamStore(store._path, clock=clock, lease_seconds=store._lease, poll_interval_seconds=0.01)
        await other.start()
        made.append(other)
        return other

    yield StoreMaker(make, elapse, short_ttl=600.0, peer=peer)
    for store in made:
        await store.close()


class TestSqliteStreamStoreContract(StreamStoreContract):
    pass


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "sessions.db")


async def test_a_finished_session_replays_after_a_restart(db_path: str) -> None:
    first = SqliteStreamStore(db_path, buffer_events=16)
    await first.start()
    await first.open("s", OWNER, {"model": "smol"})
    for i in range(20):
        await first.append("s", f"e{i}")
    await first.finish("s")
    # no close(): what finish() returned with must already be in the file
    second = SqliteStreamStore(db_path, buffer_events=16)
    await second.start()
    try:
        status = await second.status("s")
        assert status is not None
        assert (status.state, status.first_index, status.next_index, status.metadata) == (
            "finished",
            4,
            20,
            {"model": "smol"},
        )
        assert await collect(second, "s", after=3) == [(i, f"e{i}") for i in range(4, 20)]
    finally:
        await second.close()
        await first.close()


async def test_a_restarted_store_lists_the_streams_a_crash_left_running_once_their_lease_expires(
    db_path: str,
) -> None:
    clock = FakeClock()
    crashed = SqliteStreamStore(db_path, flush_interval_seconds=3600, clock=clock, lease_seconds=10)
    await crashed.start()
    await crashed.open("s", OWNER)
    await crashed.append("s", "a")
    await crashed.append("s", "b")
    await crashed.flush()
    await crashed.append("s", "never flushed")  # lost with the "crash": no follower was sent it
    assert crashed._flusher is not None
    crashed._flusher.cancel()  # from here on the crashed store never writes again
    restarted = SqliteStreamStore(db_path, clock=clock, lease_seconds=10)
    await restarted.start()
    try:
        assert await restarted.expired_streams() == []  # a live process's rows are never touched
        clock.now += 11
        assert await restarted.expired_streams() == ["s"]
        assert await restarted.interrupt("s", ["interrupted", "[DONE]"])
        assert await collect(restarted, "s") == [(0, "a"), (1, "b"), (2, "interrupted"), (3, "[DONE]")]
        with pytest.raises(Conflict):  # an interrupted stream stays readable: its id is taken
            await restarted.open("s", OTHER)
        await restarted.open("s", OWNER, continue_owned=True)
        await restarted.append("s", "new")
    finally:
        await restarted.close()
        await crashed.close()  # a late write of the old stream must not clobber the new one
    again = SqliteStreamStore(db_path, clock=clock)
    await again.start()
    try:
        assert await collect(again, "s") == [(0, "new")]
    finally:
        await again.close()


async def test_an_older_file_gets_the_lease_columns(db_path: str) -> None:
    with sqlite3.connect(db_path) as old:
        old.executescript(
            "CREATE TABLE stream_sessions (session_id TEXT PRIMARY KEY, epoch TEXT NOT NULL, state TEXT NOT NULL,"
            " first_index INTEGER NOT NULL, next_index INTEGER NOT NULL, metadata TEXT NOT NULL,"
            " cancel_requested INTEGER NOT NULL DEFAULT 0, touched_at REAL NOT NULL, finished_at REAL);"
            "INSERT INTO stream_sessions VALUES ('old', 'e', 'running', 0, 0, '{}', 0, 1.0, NULL);"
        )
    store = SqliteStreamStore(db_path)
    await store.start()
    try:
        assert await store.expired_streams() == ["old"]  # no lease: its process is long gone
        assert await store.interrupt("old", ["[DONE]"])
    finally:
        await store.close()


async def _pending_after_idle(task: asyncio.Task[object]) -> bool:
    for _ in range(50):  # the local log needs no I/O: a committed event would arrive within a few turns
        await asyncio.sleep(0)
    return not task.done()


async def test_followers_are_sent_an_event_only_once_it_is_committed(db_path: str) -> None:
    store = SqliteStreamStore(db_path, flush_interval_seconds=3600)  # commits only when flush() is called
    await store.start()
    try:
        await store.open("s", OWNER)
        follower = store.follow("s")
        await store.append("s", "a")
        first = asyncio.ensure_future(anext(follower))
        assert await _pending_after_idle(first), "a follower saw an event that was not committed yet"
        await store.flush()
        assert (await asyncio.wait_for(first, 5)).data == "a"
        await store.append("s", "b")
        await store.finish("s")
        assert [e.data async for e in follower] == ["b"]
    finally:
        await store.close()


async def test_a_resume_after_a_crash_returns_every_event_a_client_was_sent(db_path: str) -> None:
    clock = FakeClock()
    crashed = SqliteStreamStore(db_path, flush_interval_seconds=3600, clock=clock)
    await crashed.start()
    await crashed.open("s", OWNER)
    follower = crashed.follow("s")
    seen: list[str] = []
    for batch in (["a", "b"], ["c"]):
        for data in batch:
            await crashed.append("s", data)
        await crashed.flush()
        seen += [(await asyncio.wait_for(anext(follower), 5)).data for _ in batch]
    await crashed.append("s", "d")  # appended, never committed: no client may have it
    pending = asyncio.ensure_future(anext(follower))
    assert await _pending_after_idle(pending)
    pending.cancel()
    assert crashed._flusher is not None
    crashed._flusher.cancel()  # the "crash": this store never writes again
    restarted = SqliteStreamStore(db_path, clock=clock)
    await restarted.start()
    try:
        clock.now += 60
        assert await restarted.interrupt("s", ["[DONE]"])
        stored = [data for _, data in await collect(restarted, "s")]
        assert stored[: len(seen)] == seen == ["a", "b", "c"]
    finally:
        await restarted.close()
        await crashed._call(crashed._disconnect)  # drop the handle without writing anything


async def test_events_reach_the_file_within_the_flush_interval(db_path: str) -> None:
    store = SqliteStreamStore(db_path, flush_interval_seconds=0.02)
    await store.start()
    try:
        await store.open("s", OWNER)
        await store.append("s", "a")
        await asyncio.sleep(0.2)
        with sqlite3.connect(db_path) as other:
            rows = other.execute("SELECT idx, data FROM stream_events WHERE session_id = 's'").fetchall()
        assert rows == [(0, "a")]
    finally:
        await store.close()


async def test_a_second_store_on_the_file_follows_and_cancels_a_running_stream(db_path: str) -> None:
    producer = SqliteStreamStore(db_path, flush_interval_seconds=0.02, cancel_check_seconds=0.02)
    await producer.start()
    reader = SqliteStreamStore(db_path, poll_interval_seconds=0.02)
    await reader.start()
    try:
        await producer.open("s", OWNER)
        await producer.append("s", "a")
        follower = asyncio.create_task(collect(reader, "s"))
        await asyncio.sleep(0.1)
        with pytest.raises(Conflict, match="already exists"):
            await reader.open("s", OWNER)
        with pytest.raises(Conflict, match="another process"):
            await reader.append("s", "x")
        assert await reader.request_cancel("s") is True
        await asyncio.sleep(0.15)
        assert await producer.cancel_requested("s") is True
        await producer.append("s", "b")
        await producer.finish("s")
        assert await follower == [(0, "a"), (1, "b")]
    finally:
        await reader.close()
        await producer.close()


async def test_the_background_sweep_deletes_expired_sessions(db_path: str) -> None:
    store = SqliteStreamStore(db_path, ttl_seconds=0.2, sweep_interval_seconds=0.05)
    await store.start()
    try:
        await store.open("s", OWNER)
        await store.append("s", "a")
        await store.finish("s")
        await asyncio.sleep(0.5)
        with sqlite3.connect(db_path) as other:
            assert other.execute("SELECT count(*) FROM stream_sessions").fetchone() == (0,)
            assert other.execute("SELECT count(*) FROM stream_events").fetchone() == (0,)
        with pytest.raises(NotFound):
            await anext(store.follow("s"))
    finally:
        await store.close()
