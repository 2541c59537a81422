"""Stream stores: where generation sessions keep their events for followers and resumes.

* ``memory``: ring buffers in this process (the default; lost on restart).
* ``sqlite``: ring buffers in memory, committed to a SQLite file in the background; sessions
  replay after a restart, and processes on one machine may share the file.
* ``redis``: Redis Streams; any process sharing the Redis can follow, resume and cancel a session.
"""

from __future__ import annotations

from core.ports.stream_store import StreamStore

KINDS = ("memory", "sqlite", "redis")


def build_stream_store(
    kind: str,
    *,
    buffer_events: int,
    ttl_seconds: float,
    sqlite_path: str,
    redis_url: str,
    lease_seconds: float = 10.0,
    redis_max_connections: int = 32,
) -> StreamStore:
    """The store named by ``kind``; libraries of the other kinds are not even imported."""
    if kind == "memory":
        from adapters.streams.memory import InMemoryStreamStore

        return InMemoryStreamStore(buffer_events, ttl_seconds, lease_seconds=lease_seconds)
    if kind == "sqlite":
        from adapters.streams.sqlite import SqliteStreamStore

        return SqliteStreamStore(sqlite_path, buffer_events, ttl_seconds, lease_seconds=lease_seconds)
    if kind == "redis":
        from adapters.streams.redis import RedisStreamStore

        return RedisStreamStore(
            redis_url, buffer_events, ttl_seconds, lease_seconds=lease_seconds, max_connections=redis_max_connections
        )
    raise ValueError(f"unknown stream store {kind!r}; use one of {', '.join(KINDS)}")
