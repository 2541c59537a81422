"""AI product search through real HTTP, on the seeded demo data, with the real small model."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from core.domain.errors import Unavailable
from entrypoints.bootstrap.container import build_container
from entrypoints.bootstrap.database import seed_demo_data
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider
from tests.integration.sse_client import sse_events

JOHN = {"Authorization": "Bearer sk_usr_demo_1"}  # Jakarta, AI access
JANE = {"Authorization": "Bearer sk_usr_demo_2"}  # Bandung, AI access
BOB = {"Authorization": "Bearer sk_usr_demo_3"}  # Surabaya, no AI access


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    asyncio.run(seed_demo_data(Settings(database_url=database_url), reset=False))
    stack = contextlib.ExitStack()

    def start(model, mode: str = "auto") -> str:  # type: ignore[no-untyped-def]
        settings = Settings(database_url=database_url, model_cache_dir=tmp_path / "models", ai_answer_mode=mode)  # type: ignore[arg-type]
        return stack.enter_context(
            live_server(create_app(settings, build_container(settings, FakeModelProvider(model))))
        )

    with stack:
        yield start


@pytest.fixture
def real_url(serve, real_model) -> str:  # type: ignore[no-untyped-def]
    return serve(real_model)


async def ask(url: str, body: dict, headers: dict) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=180) as client:
        return await client.post("/api/chat/search", json=body, headers=headers)


@pytest.mark.model
async def test_jakarta_gaming_laptop_within_12_juta(real_url: str) -> None:
    response = await ask(real_url, {"query": "Saya butuh laptop gaming di Jakarta, budget 12 juta"}, JOHN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["filters"]["category"] == "laptop"
    assert body["filters"]["max_price"] == 12_000_000
    assert body["filters"]["language"] == "id"
    assert body["filters"]["location"]["source"] == "query"
    assert "jakarta" in body["filters"]["location"]["name"].lower()
    products = body["products"]
    assert products and body["products_found"] == len(products)
    assert all(p["category"] == "laptop" and p["price"] <= 12_000_000 for p in products)
    distances = [p["distance_km"] for p in products]
    assert distances == sorted(distances)
    assert products[0]["name"] == "Laptop HP Pavilion Gaming"
    assert body["session_id"] and body["conversation_id"]
    assert body["ai_generated"] is False  # the embedded model does not write in auto mode: the composer does
    assert body["response"].startswith("Pilihan terbaik: Laptop HP Pavilion Gaming")


@pytest.mark.model
async def test_medan_request_ranks_the_medan_supplier_first(real_url: str) -> None:
    response = await ask(real_url, {"query": "Cari laptop murah di Medan"}, JANE)
    body = response.json()
    assert body["filters"]["location"]["name"].lower().startswith("medan")
    assert body["products"][0]["supplier_name"] == "Computer World Medan"


@pytest.mark.model
async def test_follow_up_in_the_same_session_remembers_the_category(real_url: str) -> None:
    first = (await ask(real_url, {"query": "I need a gaming laptop in Jakarta under 20 million"}, JOHN)).json()
    assert first["filters"]["category"] == "laptop" and first["filters"]["language"] == "en"
    follow = (await ask(real_url, {"query": "any cheaper ones?", "session_id": first["session_id"]}, JOHN)).json()
    assert follow["conversation_id"] == first["conversation_id"]
    assert follow["filters"]["category"] == "laptop"
    assert follow["filters"]["max_price"] < 20_000_000
    assert all(p["category"] == "laptop" for p in follow["products"])
    async with httpx.AsyncClient(base_url=real_url) as client:
        messages = (await client.get(f"/api/conversations/{first['conversation_id']}/messages", headers=JOHN)).json()
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
        assert messages[0]["content"].startswith("I need a gaming laptop")
        conversations = await client.get("/api/users/1/conversations", headers=JOHN)
        assert first["session_id"] in [c["session_id"] for c in conversations.json()]
        assert (
            await client.get(f"/api/conversations/{first['conversation_id']}/messages", headers=JANE)
        ).status_code == 404


@pytest.mark.model
async def test_streaming_answer_can_be_cut_and_resumed(real_url: str) -> None:
    body = {"query": "laptop gaming di Jakarta budget 12 juta", "stream": True, "session_id": "stream-me"}
    async with httpx.AsyncClient(base_url=real_url, timeout=180) as client:
        cut = []
        async with client.stream("POST", "/api/chat/search", json=body, headers=JOHN) as response:
            assert response.status_code == 200
            async for event in sse_events(response):
                cut.append(event)
                if len(cut) == 3:
                    break
        async with client.stream(
            "POST", "/api/chat/search", json=body, headers=JOHN | {"Last-Event-ID": cut[-1][0]}
        ) as response:
            rest = [e async for e in sse_events(response)]
        async with client.stream(
            "POST", "/api/chat/search", json=body, headers=JOHN | {"Last-Event-ID": "stream-me:-1"}
        ) as response:
            whole = [e async for e in sse_events(response)]
        stranger = await client.post("/api/chat/search", json=body, headers=JANE | {"Last-Event-ID": "stream-me:0"})
    assert cut + rest == whole
    first = json.loads(whole[0][1])
    assert first["type"] == "products" and first["products"][0]["name"] == "Laptop HP Pavilion Gaming"
    done = json.loads(whole[-2][1])
    deltas = "".join(json.loads(d)["content"] for _, d in whole if d != "[DONE]" and json.loads(d)["type"] == "delta")
    assert done["type"] == "done"
    assert done["ai_generated"] is False  # auto mode: the embedded model does not write, the composer does
    assert done["response"] == deltas and "Rp 11.999.000" in done["response"]
    assert whole[-1][1] == "[DONE]"
    assert stranger.status_code == 404  # someone else's stream looks like no stream at all


async def test_access_rules(serve) -> None:  # type: ignore[no-untyped-def]
    url = serve(FakeLanguageModel("ok"))
    assert (await ask(url, {"query": "laptop"}, {})).status_code == 401
    assert (await ask(url, {"query": "laptop"}, {"Authorization": "Bearer wrong"})).status_code == 401
    refused = await ask(url, {"query": "laptop"}, BOB)
    assert refused.status_code == 403 and "AI access is not enabled" in refused.json()["detail"]
    assert (await ask(url, {"query": "laptop", "user_id": 2}, JOHN)).status_code == 404  # private, like 99
    assert (await ask(url, {"query": "laptop", "user_id": 99}, JOHN)).status_code == 404
    assert (await ask(url, {"query": "   "}, JOHN)).status_code == 400
    assert (await ask(url, {"query": "x" * 1500}, JOHN)).status_code == 400


async def test_model_failure_still_returns_products_and_a_summary(serve) -> None:  # type: ignore[no-untyped-def]
    url = serve(FakeLanguageModel("x", fail_with=Unavailable("model down")), "model")
    response = await ask(url, {"query": "Saya butuh laptop gaming di Jakarta, budget 12 juta"}, JOHN)
    assert response.status_code == 200
    body = response.json()
    assert body["ai_generated"] is False
    assert body["products"][0]["name"] == "Laptop HP Pavilion Gaming"
    assert "Rp 11.999.000" in body["response"]


async def test_prompt_holds_only_retrieved_products_marked_as_data(serve) -> None:  # type: ignore[no-untyped-def]
    model = FakeLanguageModel("Rekomendasi saya: Laptop HP Pavilion Gaming.")
    url = serve(model, "model")
    body = (await ask(url, {"query": "laptop gaming di Jakarta budget 12 juta"}, JOHN)).json()
    assert body["ai_generated"] is True and body["response"] == "Rekomendasi saya: Laptop HP Pavilion Gaming."
    system = model.requests[-1].messages[0].content
    assert "<products>" in system and "Laptop HP Pavilion Gaming" in system and "Rp 11.999.000" in system
    assert "MacBook" not in system and "ThinkPad" not in system
    assert model.requests[-1].messages[-1].content == "laptop gaming di Jakarta budget 12 juta"


async def test_an_answer_off_the_list_is_replaced_by_the_grounded_summary(serve) -> None:  # type: ignore[no-untyped-def]
    url = serve(FakeLanguageModel("Beli saja kulkas Samsung terbaru."), "model")
    body = (await ask(url, {"query": "laptop gaming di Jakarta budget 12 juta"}, JOHN)).json()
    assert body["ai_generated"] is False
    assert "Laptop HP Pavilion Gaming" in body["response"] and "kulkas" not in body["response"]


async def test_filters_carry_brands_sort_intent_and_alternatives(serve) -> None:  # type: ignore[no-untyped-def]
    url = serve(FakeLanguageModel("x", fail_with=Unavailable("model down")))
    body = (await ask(url, {"query": "hp samsung yang paling murah"}, JOHN)).json()
    assert body["filters"]["brands"] == ["samsung"] and body["filters"]["exclude_brands"] == []
    assert body["filters"]["sort"] == "price_asc" and body["filters"]["intent"] == "recommend"
    assert [p["name"] for p in body["products"]] == ["Smartphone Samsung Galaxy S24"]
    assert body["alternatives"] == []
    compare = (await ask(url, {"query": "bandingkan laptop asus dan lenovo di bawah 15 juta"}, JOHN)).json()
    assert compare["filters"]["intent"] == "compare" and compare["filters"]["brands"] == ["asus", "lenovo"]
    assert compare["products"] == []
    alternatives = {a["name"]: a for a in compare["alternatives"]}
    assert alternatives["Laptop ASUS ROG Strix G15"]["reason"] == "Rp 999.000 di atas budget"
    assert alternatives["Laptop ASUS ROG Strix G15"]["price"] == 15_999_000
    assert alternatives["Laptop Lenovo ThinkPad X1 Carbon"]["reason"] == "Rp 7.500.000 di atas budget"
