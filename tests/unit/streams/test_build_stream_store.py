"""The factory the composition root calls with values from the settings."""

from __future__ import annotations

import pytest

from adapters.streams import build_stream_store
from adapters.streams.memory import InMemoryStreamStore
from adapters.streams.redis import RedisStreamStore
from adapters.streams.sqlite import SqliteStreamStore
from tests.unit.streams.contract import OWNER

OPTIONS = {
    "buffer_events": 16,
    "ttl_seconds": 5.0,
    "sqlite_path": "unused.db",
    "redis_url": "redis://localhost:1/0",
}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("memory", InMemoryStreamStore), ("sqlite", SqliteStreamStore), ("redis", RedisStreamStore)],
)
def test_each_kind_builds_its_adapter_without_connecting(kind: str, expected: type) -> None:
    assert isinstance(build_stream_store(kind, **OPTIONS), expected)


async def test_the_settings_reach_the_store() -> None:
    store = build_stream_store("memory", **OPTIONS)
    await store.open("s", OWNER)
    for i in range(20):
        await store.append("s", str(i))
    status = await store.status("s")
    assert status is not None and (status.first_index, status.next_index) == (4, 20)


def test_an_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="memcached"):
        build_stream_store("memcached", **OPTIONS)
