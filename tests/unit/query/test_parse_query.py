"""Whole requests, as users type them, through ``parse_query``."""

from __future__ import annotations

import msgspec
import pytest

from core.query import ParsedQuery, parse_query


def test_indonesian_laptop_in_jakarta_with_budget() -> None:
    query = parse_query("Saya butuh laptop gaming di Jakarta, budget 12 juta")
    assert query.category == "laptop"
    assert (query.min_price, query.max_price) == (None, 12_000_000)
    assert query.location is not None and query.location.name == "DKI Jakarta"
    assert query.location.matches_city("Jakarta Selatan")
    assert query.keywords == ("gaming",)
    assert query.language == "id"
    assert not query.prefer_cheaper and not query.is_follow_up


def test_indonesian_phone_under_price_in_jaksel() -> None:
    query = parse_query("cari hp samsung di bawah 5jt di Jaksel")
    assert query.category == "smartphone"
    assert query.max_price == 5_000_000 and query.min_price is None
    assert query.location is not None and query.location.name == "Jakarta Selatan"
    assert query.keywords == () and query.brands == ("samsung",)
    assert query.language == "id"


def test_english_gaming_laptop_in_bandung() -> None:
    query = parse_query("gaming laptop in Bandung under 15 million")
    assert query.category == "laptop"
    assert query.max_price == 15_000_000
    assert query.location is not None and query.location.name == "Bandung"
    assert query.keywords == ("gaming",)
    assert query.language == "en"


def test_follow_up_cheaper() -> None:
    query = parse_query("yang lebih murah?")
    assert query.is_follow_up and query.comparison == "cheaper" and query.prefer_cheaper
    assert query.category is None and query.keywords == () and query.location is None


@pytest.mark.parametrize(
    ("text", "category", "min_price", "max_price", "place", "keywords"),
    [
        (
            "laptop HP pavilion 10-15 juta di jogja",
            "laptop",
            10_000_000,
            15_000_000,
            "DI Yogyakarta",
            ("pavilion",),
        ),
        ("HP laptop around 8 million", "laptop", 6_400_000, 9_600_000, None, ()),
        (
            "antara 5 dan 8 juta monitor 27 inch di Solo",
            "monitor",
            5_000_000,
            8_000_000,
            "Surakarta",
            ("27inch",),
        ),
        ("Rp 12.000.000,- printer di Surabaya", "printer", None, 12_000_000, "Surabaya", ()),
        ("IDR 5,000,000 phone near South Jakarta", "smartphone", None, 5_000_000, "Jakarta Selatan", ()),
        ("keyboard mechanical di kisaran 500 ribu", "keyboard", 400_000, 600_000, None, ("mechanical",)),
        (
            "tablet samsung di atas 5 juta di bawah 10 juta di Medan",
            "tablet",
            5_000_000,
            10_000_000,
            "Medan",
            (),
        ),
        (
            "mau beli hp xiaomi 2 jutaan daerah bekasi",
            "smartphone",
            2_000_000,
            3_000_000,
            "Bekasi",
            (),
        ),
        ("headset gaming max 500k di Makassar", "headphone", None, 500_000, "Makassar", ("gaming",)),
        ("need a printer in Denpasar, budget Rp 3.500.000", "printer", None, 3_500_000, "Denpasar", ()),
        ("monitor 24 inch murah di Semarang", "monitor", None, None, "Semarang", ("24inch",)),
        ("laptop asus rog minimal 20jt jakbar", "laptop", 20_000_000, None, "Jakarta Barat", ("rog",)),
    ],
)
def test_examples(
    text: str,
    category: str | None,
    min_price: int | None,
    max_price: int | None,
    place: str | None,
    keywords: tuple[str, ...],
) -> None:
    query = parse_query(text)
    assert query.category == category
    assert (query.min_price, query.max_price) == (min_price, max_price)
    assert (query.location.name if query.location else None) == place
    assert query.keywords == keywords


@pytest.mark.parametrize(
    "text",
    ["", "   ", "???", "asdf qwerty zxcv", "12345", "!!! $$$ ###", "\u200b\u200b", "🙂🙂 laptop 🙂"],
)
def test_nonsense_does_not_fail(text: str) -> None:
    query = parse_query(text)
    assert isinstance(query, ParsedQuery)
    assert query.min_price is None and query.max_price is None and query.location is None


def test_very_long_input_is_cut_and_still_parsed() -> None:
    text = "laptop gaming di Bandung budget 10 juta " + "sangat bagus sekali " * 20_000
    query = parse_query(text)
    assert query.category == "laptop"
    assert query.max_price == 10_000_000
    assert query.location is not None and query.location.name == "Bandung"
    assert len(query.keywords) <= 12


def test_pathological_digits_and_separators() -> None:
    query = parse_query("1." * 3000 + "5" + " ,,,..." * 1000 + "9" * 5000)
    assert query.max_price is None


@pytest.mark.parametrize(
    ("text", "follow_up"),
    [
        ("yang lebih murah?", True),
        ("cheaper ones?", True),
        ("yang di Bandung?", True),
        ("kalau yang asus?", True),
        ("what about in Surabaya?", True),
        ("ada yang lain?", True),
        ("any other options?", True),
        ("yang lebih mahal", True),
        ("Saya butuh laptop gaming di Jakarta", False),
        ("cari hp samsung", False),
        ("gaming laptop in Bandung", False),
    ],
)
def test_follow_up_detection(text: str, follow_up: bool) -> None:
    assert parse_query(text).is_follow_up is follow_up


def test_parsed_query_is_frozen_and_serialisable() -> None:
    query = parse_query("laptop di Jaksel budget 12 juta")
    with pytest.raises(AttributeError):
        query.category = "mouse"  # type: ignore[misc]
    encoded = msgspec.json.decode(msgspec.json.encode(query))
    assert encoded["category"] == "laptop"
    assert encoded["location"]["name"] == "Jakarta Selatan"


def test_parsing_is_deterministic() -> None:
    text = "cari hp samsung di bawah 5jt di Jaksel"
    assert parse_query(text) == parse_query(text)
