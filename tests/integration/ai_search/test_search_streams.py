"""AI-search streams: owned by their user, never taken over, in their own namespace, framed safely."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import httpx
import pytest

from tests.fakes.language_model import FakeLanguageModel
from tests.integration.sse_client import sse_events

JOHN = {"Authorization": "Bearer sk_usr_demo_1"}  # Jakarta, AI access
JANE = {"Authorization": "Bearer sk_usr_demo_2"}  # Bandung, AI access
JAKARTA_SHOP = {"Authorization": "Bearer sk_sup_demo_1"}
QUERY = "laptop gaming di Jakarta budget 12 juta"

STORES = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]


def store_settings(store: str) -> dict[str, object]:
    if store == "redis":
        from tests.conftest import REDIS_URL

        return {"session_store": "redis", "redis_url": REDIS_URL}
    return {"session_store": store}


def slow_model(words: int = 300) -> FakeLanguageModel:
    """A slow answer in grounded sentences (each names a listed product), so each is streamed as it ends."""
    sentences = " ".join(f"Laptop HP Pavilion Gaming pilihan w{i}." for i in range(words // 5))
    return FakeLanguageModel(lambda _r: sentences, step_delay=0.01)


async def search_stream(client: httpx.AsyncClient, body: dict, headers: dict) -> list[tuple[str | None, str]]:
    async with client.stream("POST", "/api/chat/search", json={**body, "stream": True}, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        return [e async for e in sse_events(r)]


async def first_event(client: httpx.AsyncClient, body: dict, headers: dict) -> dict:
    async with client.stream("POST", "/api/chat/search", json={**body, "stream": True}, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        async for _, data in sse_events(r):
            return json.loads(data)
    raise AssertionError("no event")


async def message_count(client: httpx.AsyncClient, conversation_id: int) -> int:
    response = await client.get(f"/api/conversations/{conversation_id}/messages", headers=JOHN)
    assert response.status_code == 200
    return int(response.headers["x-total-count"])


@pytest.mark.parametrize("store", STORES)
async def test_a_search_stream_is_read_and_cancelled_only_by_its_user(search_server, store: str) -> None:  # type: ignore[no-untyped-def]
    model = slow_model()
    url = search_server(model, **store_settings(store))
    sid = f"mine-{uuid.uuid4().hex[:8]}"
    body = {"query": QUERY, "session_id": sid}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        head = await first_event(client, body, JOHN)
        assert head["type"] == "products"
        missing = f"missing-{uuid.uuid4().hex[:8]}"
        probe = {"query": QUERY, "stream": True}
        unknown = await client.post("/api/chat/search", json=probe, headers=JANE | {"Last-Event-ID": f"{missing}:-1"})
        stolen = await client.post("/api/chat/search", json=probe, headers=JANE | {"Last-Event-ID": f"{sid}:-1"})
        assert unknown.status_code == stolen.status_code == 404
        assert stolen.text.replace(sid, "ID") == unknown.text.replace(missing, "ID")
        cancel_unknown = await client.post(f"/api/chat/search/{missing}/cancel", headers=JANE)
        cancel = await client.post(f"/api/chat/search/{sid}/cancel", headers=JANE)
        assert cancel.status_code == cancel_unknown.status_code == 404
        assert cancel.text.replace(sid, "ID") == cancel_unknown.text.replace(missing, "ID")

        # Asking again while it runs is a conflict, for the owner too, and records no orphan turn.
        before = await message_count(client, head["conversation_id"])
        for headers in (JOHN, JANE):
            again = await client.post("/api/chat/search", json={**body, "stream": True}, headers=headers)
            assert again.status_code == 409, again.text
            assert "already exists" in again.json()["detail"] and again.json()["field"] == "session_id"
        assert await message_count(client, head["conversation_id"]) == before

        assert (await client.post(f"/api/chat/search/{sid}/cancel", headers=JOHN)).status_code == 200
        events = await search_stream(client, body, JOHN | {"Last-Event-ID": f"{sid}:-1"})
        assert json.loads(events[-2][1])["cancelled"] is True and events[-1][1] == "[DONE]"
        # Once finished, the user's next turn in the same conversation starts a new stream.
        model.step_delay = 0
        follow_up = await search_stream(client, {"query": "yang lebih murah?", "session_id": sid}, JOHN)
        assert json.loads(follow_up[0][1])["conversation_id"] == head["conversation_id"]
        assert follow_up[-1][1] == "[DONE]"


async def test_v1_neither_reads_nor_overwrites_an_ai_search_stream(search_server) -> None:  # type: ignore[no-untyped-def]
    url = search_server(FakeLanguageModel("Laptop HP Pavilion Gaming cocok untuk Anda."))
    sid = f"ns-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        original = await search_stream(client, {"query": QUERY, "session_id": sid}, JOHN)
        chat = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
        for probe in (sid, f"search/{sid}", f"search:{sid}"):
            read = await client.post("/v1/chat/completions", json=chat, headers={"Last-Event-ID": f"{probe}:-1"})
            assert read.status_code == 404
            assert (await client.post(f"/v1/cancel/{probe}")).status_code == 404
        async with client.stream("POST", "/v1/chat/completions", json={**chat, "session_id": sid}) as response:
            assert response.status_code == 200  # its own namespace: the id is free there
            await response.aread()
        replay = await search_stream(client, {"query": QUERY, "session_id": sid}, JOHN | {"Last-Event-ID": f"{sid}:-1"})
    assert replay == original and json.loads(replay[0][1])["type"] == "products"


async def test_server_made_search_session_ids_carry_128_random_bits(search_server) -> None:  # type: ignore[no-untyped-def]
    url = search_server(FakeLanguageModel("ok"))
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        streamed = json.loads((await search_stream(client, {"query": QUERY}, JOHN))[0][1])["session_id"]
        plain = (await client.post("/api/chat/search", json={"query": QUERY}, headers=JOHN)).json()["session_id"]
    for sid in (streamed, plain):
        assert re.fullmatch(r"user_1_[0-9a-f]{32}", sid), sid


async def test_every_event_parses_as_json_whatever_line_separators_the_text_holds(search_server) -> None:  # type: ignore[no-untyped-def]
    name = "Laptop Gaming Garis\u2028Paragraf\u2029Berikut\u0085Pro"
    url = search_server(FakeLanguageModel(f"Rekomendasi: {name} cocok.\u2028Baris\u2029baru\u0085lagi"))
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        created = await client.post(
            "/api/suppliers/1/products",
            json={"name": name, "price": 9_000_000, "stock_quantity": 3, "category": "laptop", "sku": "SEP-1"},
            headers=JAKARTA_SHOP,
        )
        assert created.status_code == 201, created.text
        events = await search_stream(client, {"query": "laptop gaming garis di Jakarta"}, JOHN)
    payloads = [json.loads(data) for _, data in events if data != "[DONE]"]
    assert events[-1][1] == "[DONE]"
    assert name in [p["name"] for p in payloads[0]["products"]]
    assert "".join(p["content"] for p in payloads if p["type"] == "delta").endswith("\u2028Baris\u2029baru\u0085lagi")


async def test_a_plain_search_whose_client_leaves_is_cancelled(search_server) -> None:  # type: ignore[no-untyped-def]
    model = FakeLanguageModel(" ".join(f"w{i}" for i in range(190)), step_delay=0.05)
    url = search_server(model)
    async with httpx.AsyncClient(base_url=url) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/api/chat/search", json={"query": QUERY}, headers=JOHN, timeout=0.5)
    for _ in range(60):
        if model.cancelled:
            break
        await asyncio.sleep(0.05)
    assert model.cancelled == 1, "the answer must stop when its only reader disconnects"
    assert model.active == 0
