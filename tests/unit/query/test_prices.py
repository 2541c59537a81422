"""Prices as people write them -> integer rupiah; numbers that are not prices stay out."""

from __future__ import annotations

import pytest

from core.query import format_rupiah, parse_price, parse_query


@pytest.mark.parametrize(
    ("text", "rupiah"),
    [
        ("12 juta", 12_000_000),
        ("12jt", 12_000_000),
        ("12 jt", 12_000_000),
        ("12 JT", 12_000_000),
        ("Rp 12.000.000", 12_000_000),
        ("Rp12.000.000", 12_000_000),
        ("Rp. 750.000", 750_000),
        ("Rp12,5 juta", 12_500_000),
        ("1,5 juta", 1_500_000),
        ("1.5jt", 1_500_000),
        ("2,5jt", 2_500_000),
        ("500rb", 500_000),
        ("500 ribu", 500_000),
        ("500 rebu", 500_000),
        ("rp 750rb", 750_000),
        ("500k", 500_000),
        ("2 miliar", 2_000_000_000),
        ("2 milyar", 2_000_000_000),
        ("Rp 2 M", 2_000_000_000),
        ("rp2m", 2_000_000_000),
        ("12 million", 12_000_000),
        ("1.5 million", 1_500_000),
        ("3 billion", 3_000_000_000),
        ("10 thousand", 10_000),
        ("15 mio", 15_000_000),
        ("Rp 12.000.000,-", 12_000_000),
        ("Rp 12.000.000,00", 12_000_000),
        ("IDR 5,000,000", 5_000_000),
        ("IDR 5.000.000", 5_000_000),
        ("12000000", 12_000_000),
        ("harga 1.250.000", 1_250_000),
        ("1.500 juta", 1_500_000_000),
        ("max 5000", 5_000),
        ("under 750000", 750_000),
        ("5 jeti", 5_000_000),
    ],
)
def test_price_forms(text: str, rupiah: int) -> None:
    assert parse_price(text) == rupiah


@pytest.mark.parametrize(
    "text",
    [
        "RAM 16GB",
        "RTX 4060",
        "27 inch",
        '27"',
        "i7-1365U",
        "4k monitor",
        "144Hz",
        "2023",
        "1920x1080",
        "diskon 50%",
        "2m",  # metres or millions? ambiguous without Rp or a bound word
        "5000",  # too small to be a budget without a bound word
        "081234567890",  # a phone number
        "ssd 512 gb",
        "laptop gaming",
        "",
    ],
)
def test_not_prices(text: str) -> None:
    assert parse_price(text) is None


def test_m_means_miliar_in_indonesian_and_million_in_english() -> None:
    assert parse_query("budget saya 2m").max_price == 2_000_000_000
    assert parse_query("my budget is 2m").max_price == 2_000_000


@pytest.mark.parametrize(
    ("amount", "text"),
    [(11_999_000, "Rp 11.999.000"), (0, "Rp 0"), (500, "Rp 500"), (1_000, "Rp 1.000"), (-5_000, "-Rp 5.000")],
)
def test_format_rupiah(amount: int, text: str) -> None:
    assert format_rupiah(amount) == text


@pytest.mark.parametrize(
    "text",
    [
        "budget 12 juta",
        "budgetnya 12jt",
        "budget saya 12 juta",
        "dana 12 juta",
        "anggaran 12 juta",
        "di bawah 12 juta",
        "dibawah 12jt",
        "kurang dari Rp 12.000.000",
        "maksimal 12 juta",
        "maks 12jt",
        "max 12jt",
        "harga maksimal 12 juta",
        "sampai 12 juta",
        "tidak lebih dari 12 juta",
        "12 juta ke bawah",
        "12jt kebawah",
        "laptop 12 juta",
        "under 12 million",
        "below 12 million",
        "less than 12 million",
        "up to 12 million",
        "no more than 12 million",
        "at most 12 million",
        "12 million or less",
        "budget of 12 million",
        "under IDR 12,000,000",
    ],
)
def test_upper_bound(text: str) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == (None, 12_000_000)


@pytest.mark.parametrize(
    "text",
    [
        "di atas 5 juta",
        "diatas 5jt",
        "lebih dari 5 juta",
        "minimal 5 juta",
        "min 5jt",
        "mulai dari 5 juta",
        "5 juta ke atas",
        "5jt keatas",
        "above 5 million",
        "over 5 million",
        "at least 5 million",
        "more than 5 million",
        "5 million or more",
    ],
)
def test_lower_bound(text: str) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == (5_000_000, None)


@pytest.mark.parametrize(
    "text",
    [
        "antara 5 dan 8 juta",
        "antara 5 juta dan 8 juta",
        "5-8 juta",
        "5 - 8jt",
        "5jt - 8jt",
        "5 sampai 8 juta",
        "dari 5 sampai 8 juta",
        "5 s/d 8 juta",
        "kisaran 5-8 juta",
        "Rp 5.000.000 - Rp 8.000.000",
        "between 5 and 8 million",
        "between 5 million and 8 million",
        "from 5 to 8 million",
        "5 to 8 million",
        "di atas 5 juta di bawah 8 juta",
        "minimal 5 juta maksimal 8 juta",
        "under 8 million and over 5 million",
    ],
)
def test_range(text: str) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == (5_000_000, 8_000_000)


@pytest.mark.parametrize(
    "text",
    ["sekitar 10 juta", "kisaran 10jt", "kurang lebih 10 juta", "around 10 million", "about 10 million"],
)
def test_around_is_a_range_of_twenty_percent(text: str) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == (8_000_000, 12_000_000)


def test_jutaan_means_that_many_millions_and_change() -> None:
    query = parse_query("laptop 5 jutaan")
    assert (query.min_price, query.max_price) == (5_000_000, 6_000_000)


def test_no_price() -> None:
    query = parse_query("laptop gaming asus di Bandung")
    assert (query.min_price, query.max_price) == (None, None)


def test_two_bare_prices_keep_the_higher_as_budget() -> None:
    assert parse_query("laptop 10 juta atau 12 juta").max_price == 12_000_000


def test_two_explicit_upper_bounds_keep_the_lower() -> None:
    assert parse_query("di bawah 10 juta, maksimal 8 juta").max_price == 8_000_000


def test_crossed_bounds_are_swapped() -> None:
    query = parse_query("di atas 10 juta di bawah 5 juta")
    assert (query.min_price, query.max_price) == (5_000_000, 10_000_000)


@pytest.mark.parametrize(
    "text",
    [
        "laptop RAM 16GB RTX 4060",
        "monitor 27 inch 144Hz",
        "laptop i7-1365U 512 GB",
        "monitor 4k 32 inch",
        "hp 5G 8/256",
        "laptop tahun 2023",
    ],
)
def test_specs_are_not_prices(text: str) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == (None, None)


def test_specs_next_to_a_budget_leave_the_budget_alone() -> None:
    query = parse_query("laptop RAM 16GB RTX 4060 i7-1365U budget 20 juta")
    assert (query.min_price, query.max_price) == (None, 20_000_000)
    assert {"16gb", "rtx", "4060", "i7-1365u"} <= set(query.keywords)


@pytest.mark.parametrize(
    ("text", "cheap"),
    [
        ("laptop murah", True),
        ("hp termurah", True),
        ("cheap laptop", True),
        ("affordable phone", True),
        ("laptop terjangkau", True),
        ("budget laptop", True),  # "budget" as an adjective
        ("laptop budget 10 juta", False),  # "budget" introducing a price
        ("laptop gaming", False),
    ],
)
def test_prefer_cheaper(text: str, cheap: bool) -> None:
    assert parse_query(text).prefer_cheaper is cheap


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("<5jt", (None, 5_000_000)),
        ("≤ 5 juta", (None, 5_000_000)),
        ("laptop >10jt", (10_000_000, None)),
        ("≥ 2 juta", (2_000_000, None)),
        ("15jt+", (15_000_000, None)),
        ("laptop 10jt-an", (10_000_000, 11_000_000)),
        ("laptop 500rb-an", (400_000, 600_000)),
        ("budget 10 sampai 15 juta", (10_000_000, 15_000_000)),
        ("butuh laptop untuk kuliah, dana 7-8 jt", (7_000_000, 8_000_000)),
    ],
)
def test_symbols_and_suffixes(text: str, bounds: tuple[int | None, int | None]) -> None:
    query = parse_query(text)
    assert (query.min_price, query.max_price) == bounds
