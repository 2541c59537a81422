"""The composer's answers on the demo catalogue, per intent, in both languages (template mode)."""

from __future__ import annotations

import re

import pytest

from core.query import format_rupiah
from core.use_cases.authenticate import Access
from core.use_cases.recommend_products import (
    RecommendationSettings,
    RecommendProducts,
    SearchAnswer,
    SearchCommand,
)
from tests.fakes.demo_catalogue import demo_unit_of_work
from tests.fakes.language_model import FakeLanguageModel
from tests.unit.marketplace.builders import caller_for

JOHN = "sk_usr_demo_1"  # Jakarta


async def ask(query: str, key: str = JOHN) -> SearchAnswer:
    uow = await demo_unit_of_work()
    recommend = RecommendProducts(FakeLanguageModel("unused"), RecommendationSettings(answer_mode="template"))
    prepared = await recommend.prepare(uow, SearchCommand(await caller_for(uow, key, Access.USER), query))
    return await recommend.answer(uow, prepared)


def figures(text: str) -> set[str]:
    return set(re.findall(r"Rp \d{1,3}(?:\.\d{3})*", text))


async def test_recommendation_says_which_fits_and_why() -> None:
    answer = await ask("Saya butuh laptop gaming di Jakarta, budget 12 juta")
    assert answer.ai_generated is False
    assert answer.response.startswith("Pilihan terbaik: Laptop HP Pavilion Gaming di Tech Store Surabaya")
    assert "Rp 11.999.000" in answer.response and "Rp 1.000 di bawah budget Anda" in answer.response
    assert "stok 7" in answer.response and "663 km" in answer.response and "cocok dengan: gaming" in answer.response


async def test_english_recommendation() -> None:
    answer = await ask("I need a cheap gaming mouse in Bandung")
    assert answer.response.startswith("Best fit: Mouse Logitech G502 HERO from Tech Store Surabaya")
    assert "Rp 550.000" in answer.response and "stock 20" in answer.response and "matches: gaming" in answer.response


async def test_cheapest_first_says_so() -> None:
    answer = await ask("laptop yang paling murah")
    assert answer.response.startswith("Pilihan terbaik: Laptop Acer Aspire 5")
    assert "termurah dari" in answer.response


async def test_availability_starts_with_yes_and_the_nearest_stock() -> None:
    answer = await ask("Apakah ada stok laptop gaming di Jakarta?")
    first, second = answer.response.splitlines()[:2]
    assert first == "Ya, ada stok laptop gaming di DKI Jakarta."
    assert second.startswith("Terdekat: Laptop ASUS ROG Strix G15 di Toko Komputer Jakarta (Jakarta), stok 5")


async def test_availability_says_no_where_there_is_none_and_gives_the_nearest() -> None:
    answer = await ask("ada gak laptop gaming di Medan?")
    first, second = answer.response.splitlines()[:2]
    assert first == "Tidak, tidak ada stok laptop gaming di Medan."
    assert second.startswith("Stok terdekat: Laptop ASUS ROG Strix G15 di Toko Komputer Jakarta (Jakarta), 1.418 km")


async def test_english_availability() -> None:
    answer = await ask("Is there a gaming laptop in stock in Jakarta?")
    assert answer.response.startswith("Yes, laptop gaming is in stock in DKI Jakarta.")
    no = await ask("do you have a printer in Medan?")
    assert no.response.startswith("No, there is no printer in stock in Medan.")


async def test_comparison_side_by_side_with_cheaper_closer_and_over_budget() -> None:
    answer = await ask("bandingkan laptop asus dan lenovo di bawah 15 juta")
    lines = answer.response.splitlines()
    assert lines[0] == "Perbandingan:"
    assert lines[1].startswith("- Laptop ASUS ROG Strix G15: Rp 15.999.000 (Rp 999.000 di atas budget)")
    assert lines[2].startswith("- Laptop Lenovo ThinkPad X1 Carbon: Rp 22.500.000 (Rp 7.500.000 di atas budget)")
    assert "Laptop ASUS ROG Strix G15 lebih murah Rp 6.501.000 dari Laptop Lenovo ThinkPad X1 Carbon." in lines
    assert any(line.startswith("Laptop ASUS ROG Strix G15 lebih dekat (0 km vs 116 km") for line in lines)
    assert "Tidak ada yang masuk budget Rp 15.000.000." in lines


async def test_english_comparison() -> None:
    answer = await ask("compare iphone and galaxy")
    assert "Smartphone Samsung Galaxy S24 is Rp 6.000.000 cheaper than Smartphone iPhone 15 Pro." in answer.response
    assert "Smartphone iPhone 15 Pro is closer (11 km vs 116 km from Jakarta)." in answer.response


async def test_nothing_found_says_so_and_presents_alternatives() -> None:
    answer = await ask("laptop dibawah 2 juta")
    lines = answer.response.splitlines()
    assert lines[0] == "Maaf, tidak ada laptop dengan budget Rp 2.000.000 yang memenuhi semua kriteria."
    assert lines[1] == "Alternatif terdekat:"
    assert lines[2].startswith(
        "- Laptop Acer Aspire 5: Rp 7.999.000 (Rp 5.999.000 di atas budget), Computer World Medan"
    )


async def test_nothing_at_all_suggests_how_to_widen() -> None:
    answer = await ask("kulkas")
    assert "Coba naikkan budget" in answer.response


@pytest.mark.parametrize(
    "query",
    [
        "Saya butuh laptop gaming di Jakarta, budget 12 juta",
        "Apakah ada stok laptop gaming di Medan?",
        "bandingkan laptop asus dan lenovo di bawah 15 juta",
        "laptop dibawah 2 juta",
        "hp samsung yang paling murah",
        "iphone vs galaxy",
    ],
)
async def test_every_price_comes_from_the_products_or_the_budget(query: str) -> None:
    uow = await demo_unit_of_work()
    recommend = RecommendProducts(FakeLanguageModel("unused"), RecommendationSettings(answer_mode="template"))
    prepared = await recommend.prepare(uow, SearchCommand(await caller_for(uow, JOHN, Access.USER), query))
    answer = await recommend.answer(uow, prepared)
    listed = [p.price for p in prepared.products] + [a.product.price for a in prepared.alternatives]
    bounds = [b for b in (prepared.filters.min_price, prepared.filters.max_price) if b is not None]
    allowed = set(listed) | set(bounds) | {abs(a - b) for a in listed for b in [*listed, *bounds]}
    assert figures(answer.response) <= {format_rupiah(a) for a in allowed}
