"""Resumable streams across a server restart (SQLite store) and across server processes (Redis store)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.fakes.language_model import FakeLanguageModel
from tests.integration.sse_client import sse_events

HELLO = [{"role": "user", "content": "hello"}]


async def collect(base_url: str, body: dict, headers: dict | None = None) -> list[tuple[str | None, str]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        async with client.stream("POST", "/v1/chat/completions", json=body, headers=headers or {}) as response:
            assert response.status_code == 200, await response.aread()
            return [e async for e in sse_events(response)]


async def test_sqlite_store_replays_a_finished_session_after_a_restart(server_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = {"messages": HELLO, "stream": True, "session_id": "durable", "max_tokens": 12}
    first = server_factory(session_store="sqlite", sessions_db_path=str(tmp_path / "streams.db"))
    original = await collect(first, body)
    assert original[-1][1] == "[DONE]"
    # A new app on the same file: the previous process's events are still there.
    second = server_factory(
        FakeLanguageModel("never used"), session_store="sqlite", sessions_db_path=str(tmp_path / "streams.db")
    )
    replay = await collect(second, body, {"Last-Event-ID": "durable:-1"})
    assert replay == original
    tail = await collect(second, body, {"Last-Event-ID": "durable:3"})
    assert tail == original[4:]


@pytest.mark.redis
async def test_redis_store_lets_a_second_instance_replay_and_follow(server_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import REDIS_URL

    session_id = f"shared-{uuid.uuid4().hex[:8]}"
    slow = FakeLanguageModel(
        lambda r: " ".join(f"t{i}" for i in range(30)), model_id="test/fake-model", step_delay=0.03
    )
    generator_url = server_factory(slow, session_store="redis", redis_url=REDIS_URL)
    follower_url = server_factory(
        FakeLanguageModel("unused", model_id="test/fake-model"), session_store="redis", redis_url=REDIS_URL
    )
    body = {"messages": HELLO, "stream": True, "session_id": session_id, "max_tokens": 30}
    async with httpx.AsyncClient(base_url=generator_url, timeout=30) as client:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for event_id, _ in sse_events(response):
                if event_id == f"{session_id}:2":
                    break  # the first instance keeps generating
    followed = await collect(follower_url, body, {"Last-Event-ID": f"{session_id}:2"})
    assert followed[0][0] == f"{session_id}:3" and followed[-1][1] == "[DONE]"
    text = "".join(
        c["delta"].get("content") or "" for _, d in followed if d != "[DONE]" for c in json.loads(d)["choices"]
    )
    assert text.endswith("t29")
    whole = await collect(follower_url, body, {"Last-Event-ID": f"{session_id}:-1"})
    assert whole[3:] == followed


@pytest.mark.redis
async def test_redis_cancel_from_another_instance(server_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import REDIS_URL

    session_id = f"cancel-{uuid.uuid4().hex[:8]}"
    slow = FakeLanguageModel(
        lambda r: " ".join(f"t{i}" for i in range(500)), model_id="test/fake-model", step_delay=0.02
    )
    generator_url = server_factory(slow, session_store="redis", redis_url=REDIS_URL)
    other_url = server_factory(
        FakeLanguageModel("unused", model_id="test/fake-model"), session_store="redis", redis_url=REDIS_URL
    )
    body = {"messages": HELLO, "stream": True, "session_id": session_id, "max_tokens": 500}
    async with httpx.AsyncClient(base_url=generator_url, timeout=30) as client:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for _ in sse_events(response):
                break
    async with httpx.AsyncClient(base_url=other_url, timeout=30) as client:
        assert (await client.post(f"/v1/cancel/{session_id}")).status_code == 200
    events = await collect(other_url, body, {"Last-Event-ID": f"{session_id}:-1"})
    assert json.loads(events[-2][1])["choices"][0]["finish_reason"] == "cancelled"
    assert slow.cancelled == 1
