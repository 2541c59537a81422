"""Misspelt category words, brands and places (5+ letters) are understood; short or known words are not
"corrected"."""

from __future__ import annotations

import pytest

from core.query import parse_query


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("leptop gaming", "laptop"),
        ("cari laptpo murah", "laptop"),
        ("handphon samsung", "smartphone"),
        ("smarphone murah", "smartphone"),
        ("smartpone xiaomi", "smartphone"),
        ("monitr 27 inch", "monitor"),
        ("keybord mechanical", "keyboard"),
        ("printr epson", "printer"),
        ("headphon bluetooth", "headphone"),
        ("tablte buat anak", "tablet"),
        ("a cheap notebok", "laptop"),
    ],
)
def test_misspelt_category(text: str, category: str) -> None:
    query = parse_query(text)
    assert query.category == category


@pytest.mark.parametrize(
    ("text", "brand"),
    [
        ("hp samsun", "samsung"),
        ("hp samsnug", "samsung"),
        ("laptop lenova", "lenovo"),
        ("hp xiomi", "xiaomi"),
        ("mouse logitec", "logitech"),
        ("thinkpda", "lenovo"),
    ],
)
def test_misspelt_brand(text: str, brand: str) -> None:
    assert parse_query(text).brands == (brand,)


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("laptop di Surabya", "Surabaya"),
        ("leptop gaming di Surabya", "Surabaya"),
        ("hp murah di Bandng", "Bandung"),
        ("monitor di Yogyakrta", "Yogyakarta"),
        ("printer in Semarnag", "Semarang"),
    ],
)
def test_misspelt_place_after_a_preposition(text: str, place: str) -> None:
    query = parse_query(text)
    assert query.location is not None and place in query.location.name


@pytest.mark.parametrize(
    "text",
    ["laptop gaming", "mouse wireless", "keyboard mechanical", "laptop untuk kuliah", "hp buat foto"],
)
def test_ordinary_words_are_left_alone(text: str) -> None:
    query = parse_query(text)
    assert query.location is None and query.brands == ()
    assert set(query.keywords) <= set(text.split())


def test_short_words_are_not_corrected() -> None:
    assert parse_query("lptp").category is None  # 4 letters
    assert parse_query("hp asis").brands == ()
