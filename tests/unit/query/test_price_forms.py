"""Price forms of issue 8: approximate prices, "X jutaan" ranges, negated upper bounds, money words."""

from __future__ import annotations

import pytest

from core.query import parse_query


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("laptop sekitar 10 juta", 8_000_000, 12_000_000),
        ("hp sekitaran 3jt", 2_400_000, 3_600_000),
        ("monitor kisaran 5 juta", 4_000_000, 6_000_000),
        ("keyboard di kisaran 500 ribu", 400_000, 600_000),
        ("laptop kira-kira 7 juta", 5_600_000, 8_400_000),
        ("tablet kurang lebih 4 juta", 3_200_000, 4_800_000),
        ("a phone around 5 million", 4_000_000, 6_000_000),
        ("laptop for about 10 million", 8_000_000, 12_000_000),
        ("approximately Rp 2.000.000 printer", 1_600_000, 2_400_000),
        ("roughly 1 million headset", 800_000, 1_200_000),
    ],
)
def test_approximate_price_is_a_band(text: str, low: int, high: int) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == (low, high)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("laptop 5 jutaan", 5_000_000, 6_000_000),
        ("laptop 5 juta an", 5_000_000, 6_000_000),
        ("hp 2jtan", 2_000_000, 3_000_000),
        ("hp 2 jt an", 2_000_000, 3_000_000),
        ("hp 2jt-an", 2_000_000, 3_000_000),
        ("tablet 3 jutaan di Bandung", 3_000_000, 4_000_000),
        ("laptop 10 jutaan", 10_000_000, 11_000_000),
        ("hp 1,5 jutaan", 1_500_000, 2_000_000),
    ],
)
def test_jutaan_runs_to_the_next_million(text: str, low: int, high: int) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == (low, high)


@pytest.mark.parametrize(
    "text",
    [
        "laptop tidak lebih dari 10 juta",
        "laptop gak lebih dari 10 juta",
        "laptop ga lebih dari 10jt",
        "laptop nggak lebih dari 10 juta",
        "laptop enggak lebih dari 10 juta",
        "laptop tidak sampai 10 juta",
        "laptop ga sampai 10 juta",
        "laptop gak sampe 10jt",
        "laptop nggak nyampe 10 juta",
        "laptop ga nyampe 10jt",
        "laptop tak lewat 10 juta",
        "a laptop not more than 10 million",
        "a laptop no more than 10 million",
        "laptop not over 10 million",
    ],
)
def test_negated_upper_bound(text: str) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == (None, 10_000_000)
    assert not {"nyampe", "sampe", "lewat", "lebih"} & set(query.keywords)


@pytest.mark.parametrize(
    ("text", "high"),
    [
        ("duit 5 juta dapat laptop apa", 5_000_000),
        ("duitnya cuma 3 juta, hp apa ya", 3_000_000),
        ("uang saya cuma 3 juta", 3_000_000),
        ("punya uang 2 juta buat beli hp", 2_000_000),
        ("dana 8 juta untuk laptop kuliah", 8_000_000),
        ("modal 2jt mau beli hp", 2_000_000),
        ("modalnya 10 juta", 10_000_000),
        ("I have 5 million for a laptop", 5_000_000),
        ("my money is 3 million", 3_000_000),
    ],
)
def test_money_words_give_an_upper_bound(text: str, high: int) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == (None, high)
    assert not {"duit", "uang", "dana", "modal", "money"} & set(query.keywords)
