"""An AI-search stream cut by the death of its process and continued elsewhere reads as one answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import msgspec

from core.domain.streams import ANONYMOUS_OWNER, StreamClaim
from core.ports.metrics import NO_METRICS
from core.use_cases.authenticate import Access
from core.use_cases.complete_chat import continued_seed
from core.use_cases.recommend_products import (
    PreparedSearch,
    RecommendationSettings,
    RecommendProducts,
    SearchCommand,
)
from entrypoints.http.chat_search.controller import SearchStreams, _encoder, _save
from tests.fakes.demo_catalogue import demo_unit_of_work
from tests.fakes.language_model import FakeLanguageModel
from tests.unit.marketplace.builders import caller_for


async def prepared_search() -> tuple[PreparedSearch, object]:
    uow = await demo_unit_of_work()
    caller = await caller_for(uow, "sk_usr_demo_1", Access.USER)
    command = SearchCommand(caller, "Saya butuh laptop gaming di Jakarta", None, None, None)
    return await RecommendProducts(FakeLanguageModel()).prepare(uow, command), uow


def units(uow: object):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def open_unit() -> AsyncIterator[object]:
        yield uow

    return open_unit


async def run(producer) -> list[str]:  # type: ignore[no-untyped-def]
    return [payload async for payload in producer(asyncio.Event())]


def claim_for(prepared: PreparedSearch, cut: list[str]) -> StreamClaim:
    request = msgspec.json.encode(prepared).decode()  # as the controller keeps it
    return StreamClaim("search/s", len(cut), 1, {"kind": "chat.search"}, request, ANONYMOUS_OWNER)


async def test_the_answer_goes_on_where_it_was_cut_and_is_saved_whole() -> None:
    prepared, uow = await prepared_search()
    recommend = RecommendProducts(FakeLanguageModel())
    first = await run(recommend.producer(prepared, _save(units(uow), NO_METRICS), _encoder(prepared)))
    assert len(first) > 3
    cut = first[:3]  # products + two deltas
    streams = SearchStreams(recommend, units(uow), NO_METRICS)
    rest = await run(await streams.take_over(claim_for(prepared, cut), cut))
    events = [json.loads(p) for p in cut + rest]
    assert [e for e in events if e["type"] == "products"] == [json.loads(first[0])]  # not repeated
    assert events[-1]["type"] == "done" and events[-1]["response"] == json.loads(first[-1])["response"]
    assert "".join(e["content"] for e in events if e["type"] == "delta") == events[-1]["response"]
    saved = [m.content for m in uow.conversations.messages[prepared.conversation.id] if m.role == "assistant"]  # type: ignore[attr-defined]
    assert saved[-1] == events[-1]["response"]


async def test_a_model_answer_continues_after_the_streamed_text_with_a_derived_seed() -> None:
    prepared, uow = await prepared_search()
    model = FakeLanguageModel("whatever the model says next")
    recommend = RecommendProducts(model, RecommendationSettings(answer_mode="model"))
    products = await run(recommend.producer(prepared, _save(units(uow), NO_METRICS), _encoder(prepared)))
    streamed = "Pilihan pertama cocok untuk Anda. "
    cut = [products[0], json.dumps({"type": "delta", "content": streamed})]
    model.requests.clear()
    rest = await run(await SearchStreams(recommend, units(uow), NO_METRICS).take_over(claim_for(prepared, cut), cut))
    assert model.requests[0].continuation == streamed
    assert model.requests[0].sampling.seed == continued_seed(0, 2)
    done = json.loads(rest[-1])
    assert done["type"] == "done" and done["response"].startswith(streamed)


async def test_a_finished_answer_is_not_generated_again() -> None:
    prepared, uow = await prepared_search()
    recommend = RecommendProducts(FakeLanguageModel())
    first = await run(recommend.producer(prepared, _save(units(uow), NO_METRICS), _encoder(prepared)))
    producer = await SearchStreams(recommend, units(uow), NO_METRICS).take_over(claim_for(prepared, first), first)
    assert producer is not None and await run(producer) == []
