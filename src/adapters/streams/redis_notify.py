"""Wake-ups for the Redis stream store: one pub/sub connection per process, fanned out in memory.

Writers publish a short message on one channel after each change (``e:<session>`` when a stream got
events, finished or went away; ``c:<session>`` when a cancel was asked for). Each process listens on
its own single connection and wakes the local waiters of that session, so a follower or a producer
waiting for a cancel holds no Redis connection while it waits, however many there are.

A waiter notes ``watch.version`` before it reads Redis and then waits for the version to move, so a
message that arrives between its read and its wait is never lost. After a reconnect every waiter is
woken once to read again (messages published while the connection was down are gone).

Followers of one stream that wake together share one read (``Watch.shared_read``): a read started
after the last wake-up is as fresh as any of them needs, so 150 followers cost one ``XREAD`` per event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import redis.asyncio as aioredis
import structlog

logger = structlog.get_logger(__name__)

RECONNECT_SECONDS = 0.5
SUBSCRIBE_SECONDS = 10.0


class Watch:
    """The wake-ups of one topic (a session's events, or its cancel) for this process's waiters."""

    __slots__ = ("_event", "_reads", "users", "version")

    def __init__(self) -> None:
        self.users = 0
        self.version = 0
        self._event = asyncio.Event()
        self._reads: dict[str, asyncio.Future[Any]] = {}

    def bump(self) -> None:
        self.version += 1
        self._reads = {}  # reads started before this wake-up may miss what it announced
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def shared_read(self, position: str, read: Callable[[], Awaitable[Any]]) -> Any:
        """``read()`` once per ``position`` and wake-up for every waiter of this process."""
        future = self._reads.get(position)
        if future is None:
            future = self._reads[position] = asyncio.ensure_future(read())
            reads = self._reads
            future.add_done_callback(
                lambda done: reads.pop(position, None) if not done.cancelled() and done.exception() else None
            )
        return await asyncio.shield(future)  # one follower leaving does not cancel the others' read

    async def changed_since(self, seen: int, at_most_seconds: float | None) -> bool:
        """Wait until a wake-up after ``seen`` (True) or ``at_most_seconds`` (False; None: no limit)."""
        if self.version != seen:
            return True
        try:
            async with asyncio.timeout(at_most_seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        return True


class RedisNotifier:
    def __init__(self, url: str, channel: str) -> None:
        self.channel = channel
        self._client: aioredis.Redis = aioredis.from_url(
            url, decode_responses=True, client_name=channel, health_check_interval=15, socket_keepalive=True
        )
        self._watches: dict[str, Watch] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        """Listen from now on; returns once subscribed, so no later publish is missed."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name=f"redis-notify:{self.channel}")
        async with asyncio.timeout(SUBSCRIBE_SECONDS):
            await self._subscribed.wait()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._client.aclose()

    @contextlib.contextmanager
    def watch(self, topic: str) -> Iterator[Watch]:
        watch = self._watches.get(topic)
        if watch is None:
            watch = self._watches[topic] = Watch()
        watch.users += 1
        try:
            yield watch
        finally:
            watch.users -= 1
            if watch.users == 0 and self._watches.get(topic) is watch:
                del self._watches[topic]

    def wake(self, topic: str) -> None:
        """Wake this process's waiters on ``topic`` (what a received message does)."""
        watch = self._watches.get(topic)
        if watch is not None:
            watch.bump()

    async def _listen(self) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self.wake(message["data"])
                    elif message["type"] == "subscribe":
                        self._subscribed.set()
                        for watch in list(self._watches.values()):
                            watch.bump()  # whatever was published while we were away: read again
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._subscribed.clear()
                logger.warning("streams.redis.notify_reconnect", channel=self.channel, error=repr(error))
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
