"""``intent`` (availability, compare, recommend) and ``sort`` (nearest, price_asc, price_desc)."""

from __future__ import annotations

import pytest

from core.query import parse_query


@pytest.mark.parametrize(
    "text",
    [
        "Apakah ada stok laptop gaming di Jakarta?",
        "apakah ada laptop asus di Bandung",
        "ada gak mouse logitech?",
        "ada ga keyboard mechanical di surabaya",
        "ada nggak hp samsung di bawah 5 juta?",
        "masih ada ipad air?",
        "laptop rog ready?",
        "ready stok printer epson?",
        "monitor 27 inch tersedia di Jakarta?",
        "stok iphone 15 pro?",
        "ada laptop gaming?",
        "adakah tablet murah di Medan",
        "Is there a gaming laptop in Jakarta?",
        "is the macbook air in stock?",
        "gaming mouse available in Bandung?",
        "do you have a samsung phone under 5 million?",
        "Are there any printers in Surabaya?",
    ],
)
def test_availability(text: str) -> None:
    assert parse_query(text).intent == "availability"


@pytest.mark.parametrize(
    ("text", "brands"),
    [
        ("bandingkan laptop asus dan lenovo di bawah 15 juta", ("asus", "lenovo")),
        ("banding iphone sama galaxy", ("apple", "samsung")),
        ("perbandingan macbook vs thinkpad", ("apple", "lenovo")),
        ("asus vs lenovo", ("asus", "lenovo")),
        ("rog versus legion", ("asus", "lenovo")),
        ("laptop asus atau lenovo?", ("asus", "lenovo")),
        ("bagus mana, samsung atau xiaomi?", ("samsung", "xiaomi")),
        ("mana yang lebih bagus, iphone atau galaxy", ("apple", "samsung")),
        ("compare the asus and lenovo laptops", ("asus", "lenovo")),
        ("which is better, rog or thinkpad?", ("asus", "lenovo")),
        ("iphone or galaxy?", ("apple", "samsung")),
    ],
)
def test_compare(text: str, brands: tuple[str, ...]) -> None:
    query = parse_query(text)
    assert query.intent == "compare"
    assert query.brands == brands
    assert not {"bandingkan", "banding", "vs", "versus", "compare", "mana"} & set(query.keywords)


@pytest.mark.parametrize(
    "text",
    [
        "Saya butuh laptop gaming di Jakarta, budget 12 juta",
        "I need a cheap gaming mouse in Bandung",
        "ada yang lebih murah?",
        "hp samsung yang paling murah",
        "laptop asus",
    ],
)
def test_everything_else_is_a_recommendation(text: str) -> None:
    query = parse_query(text)
    assert query.intent is None and query.effective_intent == "recommend"


@pytest.mark.parametrize(
    ("text", "sort"),
    [
        ("hp samsung yang paling murah", "price_asc"),
        ("laptop termurah di Jakarta", "price_asc"),
        ("mouse gaming harga terendah", "price_asc"),
        ("cheapest samsung phone", "price_asc"),
        ("the lowest price gaming laptop", "price_asc"),
        ("laptop termahal", "price_desc"),
        ("hp yang paling mahal", "price_desc"),
        ("most expensive monitor in Surabaya", "price_desc"),
        ("laptop terdekat", "nearest"),
        ("nearest gaming mouse", "nearest"),
    ],
)
def test_sort(text: str, sort: str) -> None:
    query = parse_query(text)
    assert query.sort == sort and query.effective_sort == sort
    assert not {"termurah", "termahal", "cheapest", "paling"} & set(query.keywords)


@pytest.mark.parametrize("text", ["hp murah", "cheap gaming mouse", "laptop murah di Medan", "affordable phone"])
def test_cheap_alone_prefers_cheaper_without_sorting(text: str) -> None:
    query = parse_query(text)
    assert query.prefer_cheaper and query.sort is None and query.effective_sort == "nearest"


def test_paling_murah_or_mahal_before_a_price_is_a_bound_not_a_sort() -> None:
    assert parse_query("laptop paling mahal 10 juta").max_price == 10_000_000
    assert parse_query("laptop paling mahal 10 juta").sort is None
    assert parse_query("laptop paling murah 5 juta").min_price == 5_000_000
