"""Redis stream store: sessions shared by every process that talks to the same Redis.

Keys of one session (they share the ``{session_id}`` hash tag, so they live in one cluster slot):

* ``<prefix>{<id>}:meta``: a hash with ``state`` (running/finished), ``epoch`` (a fresh token per
  ``open``), ``next_index`` and ``metadata`` (JSON).
* ``<prefix>{<id>}:events:<epoch>``: a Redis Stream. Event ``i`` has the entry id ``<i+1>-0`` so an
  index maps to an id and back; ``XADD ... MAXLEN <buffer_events>`` (exact) trims old events.
  ``finish`` adds one last entry with id ``<next_index>-1`` (sequence 1, never an event) that tells
  blocked followers to stop at once.
* ``<prefix>{<id>}:cancel``: present while a cancel was asked for.
* ``<prefix>{<id>}:lease``: the id of the store instance generating the stream, with a TTL of
  ``lease_seconds`` that the producer renews. A running stream without it belongs to a dead process:
  ``interrupt`` ends it and ``claim`` takes it over (each one Lua script: one winner). Appends and the
  finish of an instance whose lease another one took are refused, so two producers never interleave.

Every read-modify-write (open, append, finish, cancel, status) is one Lua script, so it is atomic
across processes: two processes opening the same running id get exactly one winner. (The scripts
build the events key from the epoch instead of receiving it in KEYS; that is fine on one Redis and,
thanks to the shared hash tag, on a cluster too.)

Cost: ``append`` is one EVALSHA round trip (about 130 us on a local Redis, ~7.7k events/s for one
sequential writer), far above a model's token rate; ``cancel_requested`` is one EXISTS.

Lifetimes: after ``finish`` every key gets a TTL of ``ttl_seconds``. While running, the keys get
``abandon_after_seconds`` (ten TTLs by default), refreshed on every append, so the keys of a
producer that died without finishing disappear by themselves; its followers notice at their next
status check (every ``block_seconds``) and end.

Connections: commands share one bounded pool of ``max_connections`` (``REDIS_MAX_CONNECTIONS``); a
command waits for a free connection rather than opening more. Followers hold none while they wait:
every change is followed by a ``PUBLISH`` (pipelined with the change, so one round trip) and one
pub/sub connection per process wakes the local followers (``RedisNotifier``), which then read what
is new with a non-blocking ``XREAD``. A cancel is pushed the same way, so producers never poll for it.
``block_seconds`` only bounds how long a follower takes to notice a stream that expired or went away
without a message (say, its keys reached their TTL).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog

from adapters.streams._log import already_finished, evicted, session_exists, unknown_session
from adapters.streams.memory import check_limits
from adapters.streams.redis_notify import RedisNotifier
from core.domain.errors import Conflict
from core.domain.streams import ANONYMOUS_OWNER, StreamClaim, StreamEvent, StreamOwner, StreamState, StreamStatus

logger = structlog.get_logger(__name__)

READ_BATCH = 512

# KEYS: meta, cancel, lease. ARGV: epoch, metadata, running ttl ms, events key base, owner, continue_owned
# (1/0), holder, lease ms. A stream whose keys exist is live (finished ones carry the TTL): only its
# owner continuing a finished one may replace it.
_OPEN = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'owner')
if cur[1] then
  if not (ARGV[6] == '1' and cur[1] == 'finished' and cur[3] == ARGV[5]) then return 0 end
  if cur[2] then redis.call('DEL', ARGV[4] .. cur[2]) end
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'state', 'running', 'epoch', ARGV[1], 'next_index', 0, 'metadata', ARGV[2],
  'owner', ARGV[5], 'takeovers', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[3], ARGV[7], 'PX', ARGV[8])
return 1
"""

# KEYS: meta, cancel, lease. ARGV: events key base.
_DISCARD = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if epoch then redis.call('DEL', ARGV[1] .. epoch) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1
"""

# KEYS: meta, lease. ARGV: data, max events, running ttl ms, events key base, holder. Returns the index,
# -1 unknown, -2 finished, -3 held by another instance.
_APPEND = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'epoch')
if not cur[1] then return -1 end
if cur[1] ~= 'running' then return -2 end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[5] then return -3 end
local index = redis.call('HINCRBY', KEYS[1], 'next_index', 1) - 1
local events = ARGV[4] .. cur[2]
redis.call('XADD', events, 'MAXLEN', ARGV[2], string.format('%d-0', index + 1), 'd', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', events, ARGV[3])
return index
"""

# KEYS: meta, cancel, lease. ARGV: ttl ms, events key base, holder.
_FINISH = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'next_index')
if cur[1] ~= 'running' then return 0 end
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[3] then return 0 end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[1], 'state', 'finished')
local events = ARGV[2] .. cur[2]
redis.call('XADD', events, cur[3] .. '-1', 'end', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', events, ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: meta, lease. ARGV: events key base. Returns state, epoch, next_index, metadata, first entry id,
# owner, whether a lease is held, takeovers.
_STATUS = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'next_index', 'metadata', 'owner', 'takeovers')
if not cur[1] then return false end
local first = redis.call('XRANGE', ARGV[1] .. cur[2], '-', '+', 'COUNT', 1)
local first_id = ''
if #first > 0 then first_id = first[1][1] end
return {cur[1], cur[2], cur[3], cur[4], first_id, cur[5] or '', redis.call('EXISTS', KEYS[2]), cur[6] or '0'}
"""

# KEYS: meta, lease. ARGV: holder, request.
_SAVE_REQUEST = """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'request', ARGV[2])
return 1
"""

# KEYS: meta, lease. ARGV: holder, lease ms. 1 when the caller holds the lease (renewed or taken back
# after it lapsed with nobody claiming it), 0 when the stream ended or another instance holds it.
_RENEW = """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: meta, lease, cancel. ARGV: max events, ttl ms, events key base, payloads... Appends the payloads
# and finishes a running stream whose lease expired; 1 when this call ended it.
_INTERRUPT = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'next_index')
if cur[1] ~= 'running' or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local events = ARGV[3] .. cur[2]
local index = tonumber(cur[3])
for i = 4, #ARGV do
  redis.call('XADD', events, 'MAXLEN', ARGV[1], string.format('%d-0', index + 1), 'd', ARGV[i])
  index = index + 1
end
redis.call('HSET', KEYS[1], 'state', 'finished', 'next_index', index)
redis.call('XADD', events, string.format('%d-1', index), 'end', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', events, ARGV[2])
redis.call('DEL', KEYS[3])
return 1
"""

# KEYS: meta, lease. ARGV: holder, lease ms, max takeovers. Returns next_index, takeovers, metadata,
# request, owner when the caller now holds a stream whose lease had expired.
_CLAIM = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'next_index', 'takeovers', 'metadata', 'request', 'owner')
if cur[1] ~= 'running' or redis.call('EXISTS', KEYS[2]) == 1 then return false end
local takeovers = tonumber(cur[3] or '0')
if takeovers >= tonumber(ARGV[3]) then return false end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'takeovers', takeovers + 1)
return {cur[2], takeovers + 1, cur[4], cur[5] or '', cur[6] or ''}
"""

# KEYS: meta, cancel. ARGV: ttl ms.
_REQUEST_CANCEL = """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    state: StreamState
    epoch: str
    first_index: int
    next_index: int
    metadata: dict[str, str]
    owner: StreamOwner
    lease_held: bool = True
    takeovers: int = 0


def _events_topic(session_id: str) -> str:
    return "e:" + session_id


def _cancel_topic(session_id: str) -> str:
    return "c:" + session_id


def _entry_index(entry_id: str) -> int | None:
    """The event index of a stream entry id, or None for the finish marker."""
    ms, _, seq = entry_id.partition("-")
    return int(ms) - 1 if seq == "0" else None


class RedisStreamStore:
    def __init__(
        self,
        url: str,
        buffer_events: int = 2048,
        ttl_seconds: float = 600.0,
        key_prefix: str = "mkt:stream:",
        *,
        abandon_after_seconds: float | None = None,
        block_seconds: float = 1.0,
        lease_seconds: float = 10.0,
        max_connections: int = 32,
        pool_timeout_seconds: float = 30.0,
    ) -> None:
        check_limits(buffer_events, ttl_seconds)
        self._url = url
        self._buffer_events = buffer_events
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        abandon = abandon_after_seconds if abandon_after_seconds is not None else 10 * ttl_seconds
        self._running_ttl_ms = max(1, round(abandon * 1000))
        self._prefix = key_prefix
        self._block_seconds = block_seconds
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._holder = uuid.uuid4().hex
        self._pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout_seconds,
            decode_responses=True,
            client_name=f"{key_prefix}pool",  # CLIENT LIST shows what each process holds
        )
        self._redis: aioredis.Redis = aioredis.Redis(connection_pool=self._pool)
        self._notifier = RedisNotifier(url, f"{key_prefix}notify")
        self._open = self._redis.register_script(_OPEN)
        self._discard = self._redis.register_script(_DISCARD)
        self._append = self._redis.register_script(_APPEND)
        self._finish = self._redis.register_script(_FINISH)
        self._status = self._redis.register_script(_STATUS)
        self._request_cancel = self._redis.register_script(_REQUEST_CANCEL)
        self._renew = self._redis.register_script(_RENEW)
        self._save_request = self._redis.register_script(_SAVE_REQUEST)
        self._interrupt = self._redis.register_script(_INTERRUPT)
        self._claim = self._redis.register_script(_CLAIM)

    async def start(self) -> None:
        await self._redis.ping()
        await self._notifier.start()

    async def close(self) -> None:
        await self._notifier.close()
        await self._redis.aclose()
        await self._pool.disconnect()

    # -- keys ----------------------------------------------------------------------------------

    def _meta(self, session_id: str) -> str:
        return f"{self._prefix}{{{session_id}}}:meta"

    def _cancel(self, session_id: str) -> str:
        return f"{self._prefix}{{{session_id}}}:cancel"

    def _lease_key(self, session_id: str) -> str:
        return f"{self._prefix}{{{session_id}}}:lease"

    def _events_base(self, session_id: str) -> str:
        return f"{self._prefix}{{{session_id}}}:events:"

    # -- the port ------------------------------------------------------------------------------

    async def open(
        self,
        session_id: str,
        owner: StreamOwner,
        metadata: Mapping[str, str] | None = None,
        *,
        continue_owned: bool = False,
    ) -> None:
        opened = await self._open(
            keys=[self._meta(session_id), self._cancel(session_id), self._lease_key(session_id)],
            args=[
                uuid.uuid4().hex,
                json.dumps(dict(metadata or {})),
                self._running_ttl_ms,
                self._events_base(session_id),
                owner,
                1 if continue_owned else 0,
                self._holder,
                self._lease_ms,
            ],
        )
        if not opened:
            raise session_exists(session_id)
        await self._notify(session_id)  # followers of a replaced stream notice it at once

    async def discard(self, session_id: str) -> None:
        await self._discard(
            keys=[self._meta(session_id), self._cancel(session_id), self._lease_key(session_id)],
            args=[self._events_base(session_id)],
        )
        await self._notify(session_id)

    async def append(self, session_id: str, data: str) -> int:
        index = int(
            await self._append(
                keys=[self._meta(session_id), self._lease_key(session_id)],
                args=[data, self._buffer_events, self._running_ttl_ms, self._events_base(session_id), self._holder],
            )
        )
        if index == -1:
            raise unknown_session(session_id)
        if index == -2:
            raise already_finished(session_id)
        if index == -3:
            raise Conflict(
                f"Session {session_id!r} is being generated by another process; only it can append",
                field="session_id",
            )
        await self._notify(session_id)
        return index

    async def finish(self, session_id: str) -> None:
        await self._finish(
            keys=[self._meta(session_id), self._cancel(session_id), self._lease_key(session_id)],
            args=[self._ttl_ms, self._events_base(session_id), self._holder],
        )
        await self._notify(session_id)

    async def status(self, session_id: str) -> StreamStatus | None:
        snapshot = await self._snapshot(session_id)
        if snapshot is None:
            return None
        return StreamStatus(
            session_id,
            snapshot.state,
            snapshot.first_index,
            snapshot.next_index,
            snapshot.metadata,
            snapshot.owner,
            lease_expired=snapshot.state == "running" and not snapshot.lease_held,
            takeovers=snapshot.takeovers,
        )

    async def follow(self, session_id: str, after: int = -1) -> AsyncIterator[StreamEvent]:
        snapshot = await self._snapshot(session_id)
        if snapshot is None:
            raise unknown_session(session_id)
        position = max(after, -1) + 1
        if position < snapshot.first_index:
            raise evicted(session_id, after, snapshot.first_index, snapshot.next_index)
        if snapshot.state == "finished" and position >= snapshot.next_index:
            return
        events_key = self._events_base(session_id) + snapshot.epoch
        last_id = f"{position}-0"  # the id of index position - 1: XREAD returns what follows it
        with self._notifier.watch(_events_topic(session_id)) as watch:
            idle = False
            while True:
                seen = watch.version
                # Non-blocking: the connection goes back to the pool at once, the wait happens below.
                reply = await watch.shared_read(
                    f"{events_key} {last_id}",  # the epoch is in the key: a replaced stream reads apart
                    lambda start=last_id: self._redis.xread({events_key: start}, count=READ_BATCH),
                )
                entries = self._entries(reply, events_key)
                if not entries:
                    if idle:  # woken (or timed out) and nothing new: is the stream still there?
                        current = await self._snapshot(session_id)
                        if current is None or current.epoch != snapshot.epoch:
                            return  # expired, discarded or replaced: this stream is over
                    idle = True
                    await watch.changed_since(seen, self._block_seconds)
                    continue
                idle = False
                for entry_id, fields in entries:
                    index = _entry_index(entry_id)
                    if index is None:
                        return  # the finish marker
                    if index != position:  # trimmed while this reader lagged
                        current = await self._snapshot(session_id)
                        next_index = current.next_index if current else index + 1
                        raise evicted(session_id, position - 1, index, next_index)
                    yield StreamEvent(index, fields["d"])
                    position = index + 1
                    last_id = entry_id

    async def request_cancel(self, session_id: str) -> bool:
        asked = bool(
            await self._request_cancel(
                keys=[self._meta(session_id), self._cancel(session_id)], args=[self._running_ttl_ms]
            )
        )
        if asked:
            await self._redis.publish(self._notifier.channel, _cancel_topic(session_id))
        return asked

    async def cancel_requested(self, session_id: str) -> bool:
        return bool(await self._redis.exists(self._cancel(session_id)))

    async def wait_cancel(self, session_id: str) -> None:
        with self._notifier.watch(_cancel_topic(session_id)) as watch:
            while True:
                seen = watch.version
                if await self.cancel_requested(session_id):
                    return
                await watch.changed_since(seen, None)  # pushed by request_cancel, from any process

    async def save_request(self, session_id: str, request: str) -> None:
        await self._save_request(
            keys=[self._meta(session_id), self._lease_key(session_id)], args=[self._holder, request]
        )

    async def renew_leases(self, session_ids: Collection[str]) -> set[str]:
        ids = list(session_ids)
        if not ids:
            return set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in ids:
                await self._renew(
                    keys=[self._meta(session_id), self._lease_key(session_id)],
                    args=[self._holder, self._lease_ms],
                    client=pipe,
                )
            held = await pipe.execute()
        return {session_id for session_id, ok in zip(ids, held, strict=True) if not int(ok)}

    async def interrupt(self, session_id: str, payloads: Sequence[str]) -> bool:
        ended = await self._interrupt(
            keys=[self._meta(session_id), self._lease_key(session_id), self._cancel(session_id)],
            args=[self._buffer_events, self._ttl_ms, self._events_base(session_id), *payloads],
        )
        if ended:
            logger.warning("streams.redis.interrupted", session_id=session_id)
            await self._notify(session_id)
        return bool(ended)

    async def claim(self, session_id: str, max_takeovers: int) -> StreamClaim | None:
        found = await self._claim(
            keys=[self._meta(session_id), self._lease_key(session_id)],
            args=[self._holder, self._lease_ms, max_takeovers],
        )
        if not found:
            return None
        next_index, takeovers, metadata, request, owner = found
        return StreamClaim(
            session_id, int(next_index), int(takeovers), json.loads(metadata), request or None, owner or ANONYMOUS_OWNER
        )

    async def expired_streams(self) -> list[str]:
        return []  # listing would need a scan; followers and resumes notice expired leases instead

    # -- helpers -------------------------------------------------------------------------------

    async def _notify(self, session_id: str) -> None:
        """Wake the followers of ``session_id`` in every process (after the change is written)."""
        await self._redis.publish(self._notifier.channel, _events_topic(session_id))

    async def _snapshot(self, session_id: str) -> _Snapshot | None:
        found = await self._status(
            keys=[self._meta(session_id), self._lease_key(session_id)], args=[self._events_base(session_id)]
        )
        if not found:
            return None
        state, epoch, next_index, metadata, first_id, owner, lease_held, takeovers = found
        next_index = int(next_index)
        first_index = next_index
        if first_id:
            first_event = _entry_index(first_id)
            if first_event is not None:
                first_index = first_event
        return _Snapshot(
            state,
            epoch,
            first_index,
            next_index,
            json.loads(metadata),
            owner,
            bool(int(lease_held)),
            int(takeovers),
        )

    @staticmethod
    def _entries(reply: Any, key: str) -> list[tuple[str, dict[str, str]]]:
        """XREAD's reply in RESP2 (a list of [key, entries]) or RESP3 (a dict by key)."""
        if not reply:
            return []
        if isinstance(reply, dict):
            found = reply.get(key) or []
            return list(found[0] if found and isinstance(found[0], list) else found)
        return list(reply[0][1])
