"""Streams outlive ``kill -9`` of the real ``marketplace serve`` process that generates them.

SQLite: a new process on the same files ends the cut streams (``STREAM_TAKEOVER=0``) or finishes them
(``STREAM_TAKEOVER=1``). Redis: other processes that follow the streams do the same, and of several
followers in several processes exactly one takes a stream over. Both for ``/v1`` and AI search.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from adapters.streams.redis import RedisStreamStore
from core.domain.streams import StreamNamespace, StreamRef
from tests.conftest import REDIS_URL, require_redis
from tests.integration.conftest import MODEL_CACHE
from tests.integration.live_server import free_port
from tests.integration.sse_client import sse_events

# Several real processes load the model one after another: more than the default per-test time on a busy machine.
pytestmark = [pytest.mark.model, pytest.mark.timeout(1200)]

LEASE = 2.0  # STREAM_LEASE_SECONDS of every process here
BOUND = LEASE + 2.0  # no follower waits longer than this after the producer died
CUT = 5  # events a /v1 client reads before the producer is killed
SEARCH_CUT = 1  # an AI-search client: the products event (the model is still writing)
BUDGET = 16  # tokens per /v1 answer: long enough to cut, short enough to finish soon after
STORY = [{"role": "user", "content": "Write a very long story about a cat who travels around the world."}]
QUERY = "Saya butuh laptop gaming di Jakarta"
USER_KEY = {"Authorization": "Bearer sk_usr_demo_1"}


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no shutdown hook runs
        self.process.wait(timeout=30)

    def freeze(self) -> None:
        """SIGSTOP: from now on it writes nothing (nor renews a lease), as if it had died here."""
        self.process.send_signal(signal.SIGSTOP)

    async def takeovers(self) -> float:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            text = (await client.get("/metrics")).text
        found = re.search(r"^stream_takeovers_total (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0


@pytest.fixture
def start(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[Server] = []

    def launch(**env: str) -> Server:
        port = free_port()
        log_path = tmp_path / f"server-{port}.log"
        full_env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'market.db'}",
            "SESSIONS_DB_PATH": str(tmp_path / "streams.db"),
            "MODEL_CACHE_DIR": str(MODEL_CACHE),
            "EAGER_LOAD_MODEL": "1",
            "LOG_FORMAT": "json",
            "STREAM_LEASE_SECONDS": str(LEASE),
            "REDIS_URL": REDIS_URL,
            "MAX_TOKENS": "32",  # AI search answers
            "AI_ANSWER_MODE": "model",  # the model writes them (slowly enough to be cut)
            **env,
        }
        command = [sys.executable, "-m", "entrypoints.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--seed-if-empty"], env=full_env, stdout=log_path.open("w"), stderr=subprocess.STDOUT, text=True
        )
        server = Server(f"http://127.0.0.1:{port}", process, log_path)
        started.append(server)
        return server

    def ready(*servers: Server) -> None:
        deadline = time.monotonic() + 600  # a busy machine loads several models slowly
        for server in servers:
            while True:
                assert server.process.poll() is None, server.log_path.read_text()[-3000:]
                try:
                    if httpx.get(f"{server.url}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the server did not become ready"
                time.sleep(0.25)

    def start_servers(*envs: dict[str, str]) -> list[Server]:
        servers = [launch(**env) for env in envs]
        ready(*servers)
        return servers

    yield start_servers
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)


# -- the two kinds of streams ------------------------------------------------------------------


@dataclass
class Cut:
    """A stream whose client read ``CUT`` events before the producer died."""

    kind: str  # "v1" or "search"
    session_id: str
    seen: list[tuple[str | None, str]]

    @property
    def count(self) -> int:
        return len(self.seen)

    @property
    def key(self) -> str:
        namespace = StreamNamespace.COMPLETIONS if self.kind == "v1" else StreamNamespace.AI_SEARCH
        return StreamRef(namespace, self.session_id).key

    def resume_request(self, base_url: str) -> tuple[str, dict, dict]:
        headers = {"Last-Event-ID": f"{self.session_id}:{self.count - 1}"}
        if self.kind == "v1":
            return f"{base_url}/v1/chat/completions", {"messages": STORY, "stream": True}, headers
        return f"{base_url}/api/chat/search", {"query": QUERY, "stream": True}, {**headers, **USER_KEY}


async def begin(base_url: str, kind: str) -> Cut:
    if kind == "v1":
        session_id = f"crash-{uuid.uuid4().hex}"
        url = f"{base_url}/v1/chat/completions"
        body = {"messages": STORY, "stream": True, "session_id": session_id, "max_tokens": BUDGET, "temperature": 0}
        headers: dict[str, str] = {}
    else:
        session_id = f"crash_{uuid.uuid4().hex}"
        url, body, headers = f"{base_url}/api/chat/search", {"query": QUERY, "stream": True}, USER_KEY
        body["session_id"] = session_id
    cut = CUT if kind == "v1" else SEARCH_CUT
    seen: list[tuple[str | None, str]] = []
    async with httpx.AsyncClient(timeout=600) as client, client.stream("POST", url, json=body, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        async for event in sse_events(r):
            seen.append(event)
            if len(seen) == cut:
                break
    assert len(seen) == cut and "[DONE]" not in [d for _, d in seen], seen
    return Cut(kind, session_id, seen)


async def follow(cut: Cut, base_url: str) -> tuple[list[str], float]:
    """Resume after the cut; the payloads and when the last one arrived (monotonic)."""
    url, body, headers = cut.resume_request(base_url)
    async with httpx.AsyncClient(timeout=600) as client, client.stream("POST", url, json=body, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        payloads = [data async for _, data in sse_events(r)]
    return payloads, time.monotonic()


async def assert_still_running(cuts: list[Cut]) -> None:
    """The producer stopped mid-generation of every stream (none finished before it died)."""
    store = RedisStreamStore(REDIS_URL)  # the servers' key prefix
    try:
        for cut in cuts:
            status = await store.status(cut.key)
            assert status is not None and status.state == "running", (cut.kind, status)
    finally:
        await store.close()


async def replay(cut: Cut, base_url: str) -> list[str]:
    url, body, headers = cut.resume_request(base_url)
    headers["Last-Event-ID"] = f"{cut.session_id}:-1"
    async with httpx.AsyncClient(timeout=600) as client, client.stream("POST", url, json=body, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        return [data async for _, data in sse_events(r)]


def text_of(payloads: list[str]) -> str:
    return "".join(c["delta"].get("content") or "" for p in payloads for c in json.loads(p)["choices"])


def assert_interrupted(cut: Cut, payloads: list[str]) -> None:
    assert payloads[-1] == "[DONE]", payloads
    last = json.loads(payloads[-2])
    if cut.kind == "v1":
        assert last["error"]["code"] == "generation_interrupted" and last["error"]["type"] == "server_error"
    else:
        assert (last["type"], last["code"]) == ("error", "generation_interrupted")


def assert_finished_normally(cut: Cut, payloads: list[str], whole: list[str]) -> None:
    assert payloads[-1] == "[DONE]", payloads
    assert [d for _, d in cut.seen] == whole[: cut.count]  # the text before the cut is unchanged
    assert whole[cut.count :] == payloads
    events = [json.loads(p) for p in payloads[:-1]]
    assert not any("error" in e or e.get("type") == "error" for e in events), payloads
    if cut.kind == "v1":
        reasons = [c["finish_reason"] for e in events for c in e["choices"] if c.get("finish_reason")]
        assert reasons in (["stop"], ["length"])
        assert text_of(whole[:-1]) != text_of(whole[: cut.count])  # it went on past the cut
    else:
        assert [e["type"] for e in map(json.loads, whole[:-1])].count("products") == 1
        assert events[-1]["type"] == "done" and events[-1]["cancelled"] is False and events[-1]["response"]


# -- SQLite: a new process on the same files -----------------------------------------------------


async def test_sqlite_a_restarted_process_ends_or_finishes_the_streams_a_killed_one_left(start) -> None:  # type: ignore[no-untyped-def]
    store = {"SESSION_STORE": "sqlite"}
    (first,) = start({**store, "STREAM_TAKEOVER": "0"})
    cut_off = list(await asyncio.gather(begin(first.url, "v1"), begin(first.url, "search")))
    first.kill()

    (second,) = start({**store, "STREAM_TAKEOVER": "0"})
    began = time.monotonic()
    for cut in cut_off:
        payloads, ended = await follow(cut, second.url)
        assert_interrupted(cut, payloads)
        assert ended - began <= BOUND
    cut_on = list(await asyncio.gather(begin(second.url, "v1"), begin(second.url, "search")))
    second.kill()

    (third,) = start({**store, "STREAM_TAKEOVER": "1"})
    for cut in cut_on:
        payloads, _ = await follow(cut, third.url)
        assert_finished_normally(cut, payloads, await replay(cut, third.url))
    assert await third.takeovers() == 2.0
    for cut in cut_off:  # the ended streams stay as they were
        assert_interrupted(cut, await replay(cut, third.url))


# -- Redis: other processes follow ---------------------------------------------------------------


async def test_redis_followers_elsewhere_end_or_finish_the_streams_of_a_killed_producer(start) -> None:  # type: ignore[no-untyped-def]
    require_redis()
    store = {"SESSION_STORE": "redis"}
    (producer,) = start(store)  # alone first: it migrates and seeds the shared database
    ender, taker_a, taker_b = start(
        {**store, "STREAM_TAKEOVER": "0"}, {**store, "STREAM_TAKEOVER": "1"}, {**store, "STREAM_TAKEOVER": "1"}
    )
    # (AI searches one at a time: they write the shared SQLite marketplace database.) The /v1 pair is
    # cut last and the producer frozen at once: every generation stops a few engine steps after its
    # cut, however fast the machine (left running, a short answer would finish before the kill).
    search_off = await begin(producer.url, "search")
    search_on = await begin(producer.url, "search")
    off_v1, on_v1 = await asyncio.gather(begin(producer.url, "v1"), begin(producer.url, "v1"))
    producer.freeze()
    cut_off, cut_on = [off_v1, search_off], [on_v1, search_on]
    await assert_still_running(cut_off + cut_on)
    # Followers wait on the other processes: three per stream to take over, on two processes at once.
    ending = [asyncio.create_task(follow(cut, ender.url)) for cut in cut_off]
    taking = [asyncio.create_task(follow(cut, t.url)) for cut in cut_on for t in (taker_a, taker_b, taker_a)]
    await asyncio.sleep(1.0)  # every follower is connected and waiting
    producer.kill()
    killed = time.monotonic()

    for cut, task in zip(cut_off, ending, strict=True):
        payloads, ended = await task
        assert_interrupted(cut, payloads)
        assert ended - killed <= BOUND
    results = [await task for task in taking]
    for index, cut in enumerate(cut_on):
        whole = await replay(cut, taker_a.url)
        seen_by = [payloads for payloads, _ in results[index * 3 : index * 3 + 3]]
        for payloads in seen_by:
            assert_finished_normally(cut, payloads, whole)
    assert await taker_a.takeovers() + await taker_b.takeovers() == 2.0  # one takeover per stream
    assert await ender.takeovers() == 0.0
