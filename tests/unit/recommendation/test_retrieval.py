"""Retrieval on the demo catalogue: brand filters, exclusions, sort orders, comparisons, alternatives."""

from __future__ import annotations

import pytest

from core.use_cases.authenticate import Access
from core.use_cases.recommend_products import PreparedSearch, RecommendProducts, SearchCommand
from tests.fakes.demo_catalogue import demo_unit_of_work
from tests.fakes.language_model import FakeLanguageModel
from tests.unit.marketplace.builders import caller_for

JOHN = "sk_usr_demo_1"  # Jakarta
JANE = "sk_usr_demo_2"  # Bandung


async def search(
    query: str, key: str = JOHN, session_id: str | None = None, limit: int | None = None
) -> PreparedSearch:
    uow = await demo_unit_of_work()
    caller = await caller_for(uow, key, Access.USER)
    return await RecommendProducts(FakeLanguageModel()).prepare(
        uow, SearchCommand(caller, query, session_id, None, limit)
    )


def names(prepared: PreparedSearch) -> list[str]:
    return [p.name for p in prepared.products]


async def test_brand_is_a_hard_filter() -> None:
    found = await search("hp samsung")
    assert names(found) == ["Smartphone Samsung Galaxy S24"]
    assert found.filters.brands == ("samsung",)


async def test_brand_matches_tags_and_product_lines() -> None:
    assert names(await search("laptop apple")) == ["Laptop MacBook Air M3"]
    assert names(await search("hp xiaomi")) == ["Smartphone Xiaomi Redmi Note 13 Pro"]
    assert names(await search("ipad")) == ["Tablet iPad Air M2"]


async def test_exclusion_is_a_hard_filter() -> None:
    found = await search("laptop selain asus dan lenovo", limit=10)
    assert found.products and not {"Laptop ASUS ROG Strix G15", "Laptop Lenovo ThinkPad X1 Carbon"} & set(names(found))
    assert all(p.category == "laptop" for p in found.products)


async def test_cheapest_first() -> None:
    found = await search("laptop yang paling murah", limit=10)
    prices = [p.price for p in found.products]
    assert prices == sorted(prices) and found.products[0].name == "Laptop Acer Aspire 5"
    assert found.filters.sort == "price_asc"


async def test_most_expensive_first() -> None:
    found = await search("laptop termahal", limit=10)
    prices = [p.price for p in found.products]
    assert prices == sorted(prices, reverse=True) and found.products[0].name == "Laptop Lenovo ThinkPad X1 Carbon"


async def test_nearest_first_by_default() -> None:
    found = await search("laptop", limit=10)
    distances = [p.distance_km for p in found.products]
    assert distances == sorted(distances)  # type: ignore[type-var]


async def test_compare_takes_the_best_of_each_brand_and_says_how_far_over_budget() -> None:
    found = await search("bandingkan laptop asus dan lenovo di bawah 15 juta")
    assert found.filters.intent == "compare" and found.products == []
    reasons = {a.product.name: a.reason for a in found.alternatives}
    assert reasons == {
        "Laptop ASUS ROG Strix G15": "Rp 999.000 di atas budget",
        "Laptop Lenovo ThinkPad X1 Carbon": "Rp 7.500.000 di atas budget",
    }


async def test_compare_within_budget_lists_each_brand_wherever_it_is() -> None:
    found = await search("iphone vs galaxy", key=JANE)
    assert names(found) == ["Smartphone iPhone 15 Pro", "Smartphone Samsung Galaxy S24"]
    assert found.alternatives == []


async def test_nothing_within_budget_gives_the_cheapest_above_it() -> None:
    found = await search("laptop dibawah 2 juta")
    assert found.products == []
    first = found.alternatives[0]
    assert first.product.name == "Laptop Acer Aspire 5" and first.reason == "Rp 5.999.000 di atas budget"


async def test_no_product_of_the_brand_gives_another_brand_within_budget() -> None:
    found = await search("mouse razer")
    assert found.products == []
    assert [(a.product.name, a.reason) for a in found.alternatives] == [("Mouse Logitech G502 HERO", "merk lain")]


async def test_alternative_outside_the_named_place_says_how_far() -> None:
    found = await search("laptop asus di Medan di bawah 10 juta", key=JANE)
    assert found.products == []
    reasons = {a.product.name: a.reason for a in found.alternatives}
    rog = reasons["Laptop ASUS ROG Strix G15"]
    assert rog.startswith("Rp 5.999.000 di atas budget, ") and rog.endswith(" km")


@pytest.mark.parametrize("query", ["I need a razer mouse", "laptop under 2 million"])
async def test_reasons_follow_the_language(query: str) -> None:
    found = await search(query)
    assert found.alternatives
    assert all("another brand" in a.reason or "over budget" in a.reason for a in found.alternatives)


async def test_follow_up_adds_a_brand_and_keeps_category_and_place() -> None:
    uow = await demo_unit_of_work()
    recommend = RecommendProducts(FakeLanguageModel())
    john = await caller_for(uow, JOHN, Access.USER)
    first = await recommend.prepare(uow, SearchCommand(john, "laptop gaming di Surabaya", "s1"))
    assert {p.name for p in first.products} >= {"Laptop HP Pavilion Gaming"}
    follow = await recommend.prepare(uow, SearchCommand(john, "yang merk asus aja", "s1"))
    assert follow.filters.category == "laptop" and follow.filters.brands == ("asus",)
    assert follow.filters.location is not None and follow.filters.location.name == "Surabaya"
    assert names(follow) == ["Laptop ASUS ROG Strix G15"]
