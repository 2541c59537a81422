"""Category from words and synonyms; HP the brand versus "hp" the phone; keywords."""

from __future__ import annotations

import pytest

from core.query import parse_query


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("laptop", "laptop"),
        ("notebook tipis", "laptop"),
        ("ultrabook", "laptop"),
        ("macbook air m2", "laptop"),
        ("laptops for students", "laptop"),
        ("hp", "smartphone"),
        ("handphone", "smartphone"),
        ("ponsel android", "smartphone"),
        ("smartphone 5g", "smartphone"),
        ("phone with good camera", "smartphone"),
        ("telepon genggam", "smartphone"),
        ("iphone 15", "smartphone"),
        ("hape murah", "smartphone"),
        ("android murah", "smartphone"),
        ("tablet", "tablet"),
        ("ipad pro", "tablet"),
        ("samsung galaxy tab", "tablet"),
        ("monitor", "monitor"),
        ("layar 24 inch", "monitor"),
        ("keyboard mechanical", "keyboard"),
        ("papan ketik", "keyboard"),
        ("mouse wireless", "mouse"),
        ("tetikus", "mouse"),
        ("printer", "printer"),
        ("pencetak", "printer"),
        ("headset gaming", "headphone"),
        ("earphone", "headphone"),
        ("tws murah", "headphone"),
        ("speaker bluetooth", "speaker"),
        ("kamera mirrorless", "camera"),
        ("camera", "camera"),
        ("smartwatch", "smartwatch"),
        ("jam tangan pintar", "smartwatch"),
        ("ps5", "console"),
        ("konsol game", "console"),
        ("nintendo switch", "console"),
        ("keyboard untuk laptop", "keyboard"),  # the first product named is the one wanted
        ("laptop dengan layar 15 inch", "laptop"),  # "layar" is weak next to "laptop"
        ("laptopnya yang gaming", "laptop"),
    ],
)
def test_category(text: str, category: str) -> None:
    assert parse_query(text).category == category


@pytest.mark.parametrize("text", ["gaming", "asus rog", "yang lebih murah?", "", "tas laptop", "mouse pad"])
def test_no_category(text: str) -> None:
    assert parse_query(text).category is None


@pytest.mark.parametrize(
    "text",
    [
        "laptop HP",
        "HP laptop",
        "laptop gaming HP",
        "HP Pavilion 14",
        "notebook hp",
        "printer hp deskjet",
        "HP Victus",
        "hp elitebook bekas",
    ],
)
def test_hp_next_to_a_computer_word_is_the_brand(text: str) -> None:
    query = parse_query(text)
    assert query.category != "smartphone"
    assert query.brands == ("hp",)
    assert "hp" not in query.keywords


@pytest.mark.parametrize("text", ["hp samsung", "hp murah", "beli hp", "hp xiaomi 2 jutaan", "cari hp di Jaksel"])
def test_hp_alone_is_a_phone(text: str) -> None:
    query = parse_query(text)
    assert query.category == "smartphone"
    assert "hp" not in query.keywords and "hp" not in query.brands


def test_hp_brand_laptop_categories() -> None:
    assert parse_query("HP Pavilion").category == "laptop"  # the Pavilion line implies a laptop
    assert parse_query("laptop HP").category == "laptop"
    assert parse_query("printer hp").category == "printer"


@pytest.mark.parametrize(
    ("text", "keywords"),
    [
        ("Saya butuh laptop gaming asus", ("gaming",)),
        ("I need a mechanical keyboard", ("mechanical",)),
        ("cari hp samsung", ()),
        ("iphone 15 pro", ("iphone", "15", "pro")),
        ("laptop RAM 16 GB SSD 512GB", ("ram", "16gb", "ssd", "512gb")),
        ("monitor 27 inch 144hz", ("27inch", "144hz")),
        ("tolong carikan laptop lenovo thinkpad untuk kerja ya kak", ("thinkpad", "kerja")),
        ("show me the best gaming laptops please", ("gaming",)),
        ("hp oppo reno 8 berapa harganya", ("reno", "8")),
        (
            "Laptop ASUS ROG Strix G16 (RTX 4060, 16GB)",
            ("rog", "strix", "g16", "rtx", "4060", "16gb"),
        ),
    ],
)
def test_keywords_keep_useful_words_in_order(text: str, keywords: tuple[str, ...]) -> None:
    assert parse_query(text).keywords == keywords


def test_keywords_have_no_place_price_or_stop_words() -> None:
    query = parse_query("Saya butuh laptop gaming di Jakarta Selatan, budget maksimal 12 juta yang murah")
    assert query.keywords == ("gaming",)
