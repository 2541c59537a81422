"""Stream stores: where generation sessions keep their events for followers and resumes."""

from __future__ import annotations

from core.ports.stream_store import StreamStore


def build_stream_store(
    kind: str, *, buffer_events: int, ttl_seconds: float, sqlite_path: str, redis_url: str
) -> StreamStore:
    """``memory`` (default), ``sqlite`` (survives restarts) or ``redis`` (shared by processes)."""
    if kind == "memory":
        from adapters.streams.memory import InMemoryStreamStore

        return InMemoryStreamStore(buffer_events, ttl_seconds)
    if kind == "sqlite":
        from adapters.streams.sqlite import SqliteStreamStore

        return SqliteStreamStore(sqlite_path, buffer_events, ttl_seconds)
    if kind == "redis":
        from adapters.streams.redis import RedisStreamStore

        return RedisStreamStore(redis_url, buffer_events, ttl_seconds)
    raise ValueError(f"unknown stream store {kind!r}; use memory, sqlite or redis")
