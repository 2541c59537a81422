"""The grounding check on model sentences: named products must be listed, figures must match them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.domain.marketplace import GeoPoint, Product
from core.recommendation.answer import AnswerContext
from core.recommendation.grounding import GroundedSentences, check_sentence, grounded_text, split_sentences


def product(pid: int, name: str, price: int, stock: int, shop: str, city: str, km: float, tags: str) -> Product:
    return Product(
        id=pid,
        supplier_id=pid,
        supplier_name=shop,
        name=name,
        description=None,
        price=price,
        stock_quantity=stock,
        category="laptop",
        tags=tags,
        sku=f"S{pid}",
        is_available=True,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        city=city,
        location=GeoPoint(-7.25, 112.75),
        distance_km=km,
    )


HP = product(1, "Laptop HP Pavilion Gaming", 11_999_000, 7, "Tech Store Surabaya", "Surabaya", 662.6, "gaming,hp")
ACER = product(2, "Laptop Acer Aspire 5", 7_999_000, 12, "Computer World Medan", "Medan", 1418.2, "laptop,acer")
CONTEXT = AnswerContext(language="id", products=[HP, ACER], max_price=12_000_000, location_name="DKI Jakarta")


@pytest.mark.parametrize(
    "sentence",
    [
        "Laptop HP Pavilion Gaming seharga Rp 11.999.000 adalah pilihan terbaik.",
        "Saya sarankan HP Pavilion dari Tech Store Surabaya, stok 7 unit.",
        "The Pavilion costs Rp 11,999,000 and is 663 km away.",
        "Acer Aspire 5 hanya Rp 7.999.000, Rp 4.001.000 di bawah budget Anda.",
        "Acer Aspire 5 lebih murah Rp 4.000.000 dari HP Pavilion.",
        "Pavilion kira-kira Rp 12 juta.",
        "Berikut pilihan untuk Anda.",
        "Acer Aspire 5 ada di Medan.",
    ],
)
def test_grounded_sentences_pass(sentence: str) -> None:
    assert check_sentence(sentence, CONTEXT).passes


@pytest.mark.parametrize(
    "sentence",
    [
        "Laptop HP Pavilion Gaming costs Rp 1.",
        "HP Pavilion seharga Rp 9.999.000.",
        "Acer Aspire 5 seharga Rp 11.999.000.",  # another product's price
        "Coba MacBook Pro yang lebih bagus.",  # not listed
        "Beli saja kulkas Samsung terbaru.",
        "HP Pavilion stok 20 unit.",
        "Acer Aspire 5 berjarak 5 km dari Anda.",
        "Acer Aspire 5 dijual oleh Tech Store Surabaya.",  # another product's shop
        "HP Pavilion ada di Medan.",  # another product's city
        "Harganya Rp 5.000.000 saja.",  # a price with no product named
    ],
)
def test_ungrounded_sentences_fail(sentence: str) -> None:
    assert not check_sentence(sentence, CONTEXT).passes


def test_a_sentence_naming_nothing_is_checked_against_the_previous_one() -> None:
    assert check_sentence("Harganya Rp 11.999.000.", CONTEXT, previous=(HP,)).passes
    assert not check_sentence("Harganya Rp 7.999.000.", CONTEXT, previous=(HP,)).passes


def test_sentences_split_at_ends_but_not_inside_numbers() -> None:
    sentences, rest = split_sentences("HP Rp 11.999.000 bagus. Layar 15.6 inch! Sisa")
    assert sentences == ["HP Rp 11.999.000 bagus. ", "Layar 15.6 inch! "]
    assert rest == "Sisa"


def test_failing_sentences_are_dropped_and_the_rest_is_kept() -> None:
    text = "Pilihan terbaik: HP Pavilion Gaming seharga Rp 11.999.000. Harganya cuma Rp 1! Stoknya 7 unit."
    assert grounded_text(text, CONTEXT) == "Pilihan terbaik: HP Pavilion Gaming seharga Rp 11.999.000. Stoknya 7 unit."


def test_nothing_is_released_before_a_listed_product_is_named() -> None:
    check = GroundedSentences(CONTEXT)
    assert check.feed("Berikut saran saya. ") == []
    assert check.feed("Ambil Acer Aspire 5 seharga Rp 7.999.000. Stok") == [
        "Berikut saran saya.",
        " Ambil Acer Aspire 5 seharga Rp 7.999.000.",
    ]
    assert grounded_text("Berikut saran saya. Semoga membantu.", CONTEXT) == ""


def test_a_loop_is_stopped_and_repeats_are_dropped() -> None:
    check = GroundedSentences(CONTEXT)
    shown = check.feed("HP Pavilion bagus. " + "HP Pavilion bagus. " * 5)
    assert shown == ["HP Pavilion bagus."] and check.looping


def test_newlines_between_kept_sentences_are_kept() -> None:
    assert grounded_text("HP Pavilion Gaming: Rp 11.999.000.\nAcer Aspire 5: Rp 7.999.000.", CONTEXT) == (
        "HP Pavilion Gaming: Rp 11.999.000.\nAcer Aspire 5: Rp 7.999.000."
    )
