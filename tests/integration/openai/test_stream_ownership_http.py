"""/v1 streams belong to the API key that started them; a session id names one generation only.

Every rule runs on the memory, SQLite and Redis stores, over real HTTP with two API keys.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import httpx
import pytest

from tests.fakes.language_model import FakeLanguageModel
from tests.integration.sse_client import sse_events

HELLO = [{"role": "user", "content": "hello"}]
K1 = {"Authorization": "Bearer k1"}
K2 = {"Authorization": "Bearer k2"}

STORES = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]


def slow_model(words: int = 400, delay: float = 0.01) -> FakeLanguageModel:
    return FakeLanguageModel(
        lambda _r: " ".join(f"t{i}" for i in range(words)), model_id="test/fake-model", step_delay=delay
    )


def store_settings(store: str) -> dict[str, object]:
    if store == "redis":
        from tests.conftest import REDIS_URL

        return {"session_store": "redis", "redis_url": REDIS_URL}
    return {"session_store": store}


def text_of(events: list[tuple[str | None, str]]) -> str:
    return "".join(
        c["delta"].get("content") or "" for _, d in events if d != "[DONE]" for c in json.loads(d).get("choices", [])
    )


async def stream(client: httpx.AsyncClient, body: dict, headers: dict, **params: str) -> list[tuple[str | None, str]]:
    async with client.stream("POST", "/v1/chat/completions", json=body, headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        return [e async for e in sse_events(response)]


async def first_event(client: httpx.AsyncClient, body: dict, headers: dict) -> str:
    """Start a stream, read its first event and drop the connection (the generation goes on)."""
    async with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        async for event_id, _ in sse_events(response):
            return event_id or ""
    raise AssertionError("no event")


def same_error_except_id(a: httpx.Response, b: httpx.Response, a_id: str, b_id: str) -> bool:
    return a.status_code == b.status_code and a.text.replace(a_id, "ID") == b.text.replace(b_id, "ID")


@pytest.mark.parametrize("store", STORES)
async def test_another_key_can_neither_read_cancel_nor_overwrite_a_stream(server_factory, store: str) -> None:  # type: ignore[no-untyped-def]
    model = slow_model()
    url = server_factory(model, api_keys=("k1", "k2"), **store_settings(store))
    sid = f"owned-{uuid.uuid4().hex[:8]}"
    body = {"messages": HELLO, "stream": True, "session_id": sid, "max_tokens": 400}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert await first_event(client, body, K1) == f"{sid}:0"
        missing = f"missing-{uuid.uuid4().hex[:8]}"
        probe = {"messages": HELLO, "stream": True}
        unknown = await client.post("/v1/chat/completions", json=probe, headers=K2 | {"Last-Event-ID": f"{missing}:-1"})
        assert unknown.status_code == 404
        # Reading it, by header or query, or cancelling it: exactly the answer for an unknown id.
        by_header = await client.post("/v1/chat/completions", json=body, headers=K2 | {"Last-Event-ID": f"{sid}:-1"})
        by_query = await client.post(
            "/v1/chat/completions", json=body, headers=K2, params={"last_event_id": f"{sid}:0"}
        )
        assert same_error_except_id(by_header, unknown, sid, missing)
        assert same_error_except_id(by_query, unknown, sid, missing)
        cancel_unknown = await client.post(f"/v1/cancel/{missing}", headers=K2)
        cancel = await client.post(f"/v1/cancel/{sid}", headers=K2)
        assert cancel.status_code == 404 and same_error_except_id(cancel, cancel_unknown, sid, missing)
        # Starting a generation under its id, running or finished: 409 session_exists, for both keys.
        for headers in (K2, K1):
            taken = await client.post("/v1/chat/completions", json=body, headers=headers)
            assert taken.status_code == 409, taken.text
            assert taken.json()["error"]["code"] == "session_exists"
            assert taken.json()["error"]["param"] == "session_id"
        # The owner still follows it to the end, then it is finished and still not reusable.
        whole = await stream(client, body, K1 | {"Last-Event-ID": f"{sid}:-1"})
        assert whole[-1][1] == "[DONE]" and text_of(whole).endswith("t399")
        for headers in (K2, K1):
            taken = await client.post(
                "/v1/chat/completions",
                json={**body, "messages": [{"role": "user", "content": "intruder"}]},
                headers=headers,
            )
            assert taken.status_code == 409 and taken.json()["error"]["code"] == "session_exists"
        assert await stream(client, body, K1 | {"Last-Event-ID": f"{sid}:-1"}) == whole  # not overwritten
        assert (await client.post(f"/v1/cancel/{sid}", headers=K1)).status_code == 404  # finished
    assert len(model.requests) == 1  # the refused requests never reached the model


@pytest.mark.parametrize("store", STORES)
async def test_the_owner_cancels_its_stream(server_factory, store: str) -> None:  # type: ignore[no-untyped-def]
    model = slow_model(words=2000)
    url = server_factory(model, api_keys=("k1", "k2"), **store_settings(store))
    sid = f"cancel-{uuid.uuid4().hex[:8]}"
    body = {"messages": HELLO, "stream": True, "session_id": sid, "max_tokens": 2000}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await first_event(client, body, K1)
        assert (await client.post(f"/v1/cancel/{sid}", headers=K1)).status_code == 200
        events = await stream(client, body, K1, last_event_id=f"{sid}:-1")
    assert json.loads(events[-2][1])["choices"][0]["finish_reason"] == "cancelled"
    assert model.cancelled == 1


@pytest.mark.parametrize("store", STORES)
async def test_an_open_server_refuses_to_reuse_a_finished_session_id(server_factory, store: str) -> None:  # type: ignore[no-untyped-def]
    url = server_factory(FakeLanguageModel("first answer", model_id="test/fake-model"), **store_settings(store))
    sid = f"open-{uuid.uuid4().hex[:8]}"
    body = {"messages": HELLO, "stream": True, "session_id": sid}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        original = await stream(client, body, {})
        again = await client.post("/v1/chat/completions", json=body)
        assert again.status_code == 409
        assert again.json()["error"] == {
            "message": again.json()["error"]["message"],
            "type": "conflict_error",
            "param": "session_id",
            "code": "session_exists",
        }
        assert await stream(client, body, {"Last-Event-ID": f"{sid}:-1"}) == original


async def test_server_made_session_ids_carry_128_random_bits(server_factory) -> None:  # type: ignore[no-untyped-def]
    url = server_factory(FakeLanguageModel("hi", model_id="test/fake-model"))
    ids = set()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for _ in range(3):
            async with client.stream("POST", "/v1/chat/completions", json={"messages": HELLO, "stream": True}) as r:
                ids.add(r.headers["x-session-id"])
                await r.aread()
    assert len(ids) == 3
    assert all(re.fullmatch(r"chatcmpl-[0-9a-f]{32}", sid) for sid in ids)


async def test_a_request_refused_before_streaming_frees_its_session_id(server_factory) -> None:  # type: ignore[no-untyped-def]
    url = server_factory(FakeLanguageModel("hi", model_id="test/fake-model", context_length=64))
    sid = f"retry-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        too_long = {"messages": HELLO, "stream": True, "session_id": sid, "max_tokens": 500}
        refused = await client.post("/v1/chat/completions", json=too_long)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "max_tokens"
        fixed = await stream(client, {**too_long, "max_tokens": 5}, {})
    assert fixed[-1][1] == "[DONE]" and text_of(fixed) == "hi"


async def test_concurrent_starts_of_one_id_have_one_winner(server_factory) -> None:  # type: ignore[no-untyped-def]
    url = server_factory(slow_model(words=50, delay=0.005))
    sid = f"race-{uuid.uuid4().hex[:8]}"
    body = {"messages": HELLO, "stream": True, "session_id": sid, "max_tokens": 50}

    async def attempt(client: httpx.AsyncClient) -> int:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            await response.aread()
            return response.status_code

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        statuses = await asyncio.gather(*(attempt(client) for _ in range(5)))
    assert sorted(statuses) == [200, 409, 409, 409, 409]


async def test_failures_before_streaming_give_back_every_batch_row_and_the_id(server_factory) -> None:  # type: ignore[no-untyped-def]
    model = FakeLanguageModel("a b c", model_id="test/fake-model", capacity=2, step_delay=0.01)
    url = server_factory(model, max_batch_size=4)
    sid = f"rows-{uuid.uuid4().hex[:8]}"
    body = {"messages": HELLO, "stream": True, "session_id": sid, "n": 3}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        full = await client.post("/v1/chat/completions", json=body)  # two choices admitted, the third refused
        assert full.status_code == 429
        assert model.active == 0
        ok = await stream(client, {**body, "n": 2}, {})  # the id was given back
        assert ok[-1][1] == "[DONE]"
        taken = await client.post("/v1/chat/completions", json={**body, "n": 1})
        assert taken.status_code == 409 and model.active == 0
    assert len(model.requests) == 2 + 2  # the conflict never reached the model


async def test_n_above_max_batch_size_is_a_400_naming_n(server_factory) -> None:  # type: ignore[no-untyped-def]
    model = FakeLanguageModel("a", model_id="test/fake-model")
    url = server_factory(model, max_batch_size=2)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for stream_it in (False, True):
            refused = await client.post("/v1/chat/completions", json={"messages": HELLO, "n": 3, "stream": stream_it})
            assert refused.status_code == 400 and refused.json()["error"]["param"] == "n"
            assert "MAX_BATCH_SIZE" in refused.json()["error"]["message"]
    assert model.requests == []


@pytest.mark.redis
async def test_ownership_holds_across_processes_sharing_redis(server_factory) -> None:  # type: ignore[no-untyped-def]
    model = slow_model(words=300)
    first = server_factory(model, api_keys=("k1", "k2"), **store_settings("redis"))
    second = server_factory(
        FakeLanguageModel("unused", model_id="test/fake-model"), api_keys=("k1", "k2"), **store_settings("redis")
    )
    sid = f"shared-{uuid.uuid4().hex[:8]}"
    body = {"messages": HELLO, "stream": True, "session_id": sid, "max_tokens": 300}
    async with httpx.AsyncClient(base_url=first, timeout=30) as client:
        await first_event(client, body, K1)
    async with httpx.AsyncClient(base_url=second, timeout=30) as client:
        read = await client.post("/v1/chat/completions", json=body, headers=K2 | {"Last-Event-ID": f"{sid}:-1"})
        assert read.status_code == 404
        assert (await client.post(f"/v1/cancel/{sid}", headers=K2)).status_code == 404
        taken = await client.post("/v1/chat/completions", json=body, headers=K2)
        assert taken.status_code == 409 and taken.json()["error"]["code"] == "session_exists"
        whole = await stream(client, body, K1 | {"Last-Event-ID": f"{sid}:-1"})  # the owner, elsewhere
    assert text_of(whole).endswith("t299") and whole[-1][1] == "[DONE]"
