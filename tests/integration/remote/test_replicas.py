"""Two `--role api` replicas (child processes) on one PostgreSQL database and one Redis, and one engine:
a stream and a conversation started on one replica continue on the other."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from entrypoints.bootstrap.database import seed_demo_data
from entrypoints.bootstrap.settings import Settings
from tests.conftest import REDIS_URL
from tests.integration.conftest import _pg_execute, _pg_url
from tests.integration.processes import ServedProcess, metric, serve_process, wait_until
from tests.integration.sse_client import sse_events

pytestmark = [pytest.mark.model, pytest.mark.postgres, pytest.mark.redis]

JOHN = {"Authorization": "Bearer sk_usr_demo_1"}  # Jakarta, AI access
STORY = [{"role": "user", "content": "Write a very long story about a cat who travels around the world."}]


@pytest.fixture
def shared_database(postgres_template: str) -> Iterator[str]:
    name = f"mkt_replicas_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    try:
        url = _pg_url(name)
        asyncio.run(seed_demo_data(Settings(database_url=url), reset=False))
        yield url
    finally:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def replicas(engine: ServedProcess, shared_database: str) -> Iterator[tuple[str, str]]:
    env = {
        "DATABASE_URL": shared_database,
        "SESSION_STORE": "redis",
        "REDIS_URL": REDIS_URL,
        "LLM_BASE_URL": f"{engine.url}/v1",
        "LLM_TIMEOUT_SECONDS": "60",
        # The answers' wording is not the point here (and the composer is instant): the conversation is.
        "AI_ANSWER_MODE": "template",
    }
    # B runs two worker processes (WEB_CONCURRENCY), so the workers path is exercised too.
    with serve_process("api", env) as a, serve_process("api", {**env, "WEB_CONCURRENCY": "2"}) as b:
        yield a.url, b.url


async def test_a_stream_cut_on_one_replica_is_resumed_and_cancelled_on_the_other(
    replicas: tuple[str, str], engine: ServedProcess
) -> None:
    a, b = replicas
    session_id = f"replicas-{uuid.uuid4().hex[:8]}"
    body = {"messages": STORY, "stream": True, "session_id": session_id, "max_tokens": 1500, "temperature": 0}
    async with httpx.AsyncClient(timeout=300) as client:
        async with client.stream("POST", f"{a}/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            async for event_id, _ in sse_events(response):
                if event_id == f"{session_id}:3":
                    break  # replica A's client is gone; A keeps generating
        resumed: list[tuple[str | None, str]] = []
        headers = {"Last-Event-ID": f"{session_id}:3"}
        async with client.stream("POST", f"{b}/v1/chat/completions", json=body, headers=headers) as response:
            assert response.status_code == 200, await response.aread()
            async for event in sse_events(response):
                resumed.append(event)
                if len(resumed) == 3:
                    cancel = await client.post(f"{b}/v1/cancel/{session_id}")
                    assert cancel.status_code == 200, cancel.text
    assert resumed[0][0] == f"{session_id}:4"
    assert resumed[-1][1] == "[DONE]"
    chunks = [json.loads(d) for _, d in resumed if d != "[DONE]"]
    assert [c["finish_reason"] for k in chunks for c in k["choices"] if c["finish_reason"]] == ["cancelled"]
    wait_until(lambda: metric(engine.url, "llm_requests_running") == 0, what="the engine's generation to stop")


async def test_an_ai_search_follow_up_on_another_replica_continues_the_conversation(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    async with httpx.AsyncClient(timeout=300) as client:
        first = await client.post(
            f"{a}/api/chat/search", json={"query": "Saya butuh laptop gaming di Jakarta, budget 12 juta"}, headers=JOHN
        )
        assert first.status_code == 200, first.text
        started = first.json()
        follow_up = await client.post(
            f"{b}/api/chat/search",
            json={"query": "yang lebih murah?", "session_id": started["session_id"]},
            headers=JOHN,
        )
        assert follow_up.status_code == 200, follow_up.text
        continued = follow_up.json()
        messages = await client.get(f"{a}/api/conversations/{started['conversation_id']}/messages", headers=JOHN)
    assert continued["conversation_id"] == started["conversation_id"]
    assert continued["filters"]["category"] == "laptop", "the follow-up reuses the first turn's filters"
    assert continued["filters"]["max_price"] < 12_000_000, "cheaper than what was shown"
    assert [m["role"] for m in messages.json()] == ["user", "assistant", "user", "assistant"]
