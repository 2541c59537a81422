"""Brands asked for and ruled out (``brands``, ``exclude_brands``), and product lines that imply them."""

from __future__ import annotations

import pytest

from core.query import parse_query


@pytest.mark.parametrize(
    ("text", "brands"),
    [
        ("hp samsung", ("samsung",)),
        ("cari laptop asus dong", ("asus",)),
        ("Saya mencari laptop Lenovo untuk kantor", ("lenovo",)),
        ("mouse logitech yang bagus", ("logitech",)),
        ("I need a Samsung phone", ("samsung",)),
        ("looking for a logitech mouse", ("logitech",)),
        ("laptop HP pavilion", ("hp",)),
        ("merk xiaomi aja", ("xiaomi",)),
        ("brand acer please", ("acer",)),
        ("printer epson", ("epson",)),
        ("laptop asus atau lenovo", ("asus", "lenovo")),
        ("hp Samsung, Xiaomi, atau Oppo", ("samsung", "xiaomi", "oppo")),
    ],
)
def test_brand_words(text: str, brands: tuple[str, ...]) -> None:
    query = parse_query(text)
    assert query.brands == brands
    assert not set(brands) & set(query.keywords), "a brand is a filter, not a keyword"


@pytest.mark.parametrize(
    ("text", "brands", "category", "line"),
    [
        ("iPhone 15 pro", ("apple",), "smartphone", "iphone"),
        ("ipad murah", ("apple",), "tablet", "ipad"),
        ("iPad Air buat kuliah", ("apple",), "tablet", "ipad"),
        ("macbook air m3", ("apple",), "laptop", "macbook"),
        ("ROG strix", ("asus",), None, "rog"),
        ("laptop ROG", ("asus",), "laptop", "rog"),
        ("galaxy s24", ("samsung",), None, "galaxy"),
        ("hp galaxy", ("samsung",), "smartphone", "galaxy"),
        ("thinkpad bekas", ("lenovo",), "laptop", "thinkpad"),
        ("ThinkPad X1 Carbon", ("lenovo",), "laptop", "thinkpad"),
        ("redmi note 13", ("xiaomi",), None, "redmi"),
        ("hp redmi murah", ("xiaomi",), "smartphone", "redmi"),
        ("poco f6", ("xiaomi",), "smartphone", "poco"),
        ("legion 5 pro", ("lenovo",), "laptop", "legion"),
        ("predator helios", ("acer",), "laptop", "predator"),
        ("playstation 5", ("sony",), "console", "playstation"),
        ("printer ecotank", ("epson",), "printer", "ecotank"),
    ],
)
def test_product_lines_imply_brand_and_category(
    text: str, brands: tuple[str, ...], category: str | None, line: str
) -> None:
    query = parse_query(text)
    assert query.brands == brands
    assert query.category == category
    assert line in query.keywords, "the line narrows the search"


def test_a_category_word_beats_the_line_category() -> None:
    query = parse_query("keyboard buat macbook")
    assert query.category == "keyboard" and query.brands == ("apple",)


@pytest.mark.parametrize(
    ("text", "excluded", "brands"),
    [
        ("laptop selain asus", ("asus",), ()),
        ("hp bukan samsung", ("samsung",), ()),
        ("laptop gaming kecuali acer", ("acer",), ()),
        ("mouse tanpa logitech", ("logitech",), ()),
        ("laptop bukan asus dan bukan lenovo", ("asus", "lenovo"), ()),
        ("hp selain samsung atau apple", ("samsung", "apple"), ()),
        ("laptop selain merk asus", ("asus",), ()),
        ("laptop yang bukan asus tapi lenovo", ("asus",), ("lenovo",)),
        ("a laptop except asus", ("asus",), ()),
        ("phone other than apple", ("apple",), ()),
        ("gaming laptop, not asus", ("asus",), ()),
        ("any phone excluding samsung and xiaomi", ("samsung", "xiaomi"), ()),
        ("hp android selain iphone", ("apple",), ()),
        ("laptop gak mau asus", ("asus",), ()),
    ],
)
def test_exclusions(text: str, excluded: tuple[str, ...], brands: tuple[str, ...]) -> None:
    query = parse_query(text)
    assert query.exclude_brands == excluded
    assert query.brands == brands
    assert not {"selain", "bukan", "kecuali", "tanpa", "except", "other", "than", "not"} & set(query.keywords)
    assert "iphone" not in query.keywords


def test_an_exclusion_is_not_a_follow_up_or_a_comparison() -> None:
    for text in ("phone other than apple", "hp selain samsung atau apple"):
        query = parse_query(text)
        assert not query.is_follow_up and query.intent is None


def test_not_before_a_non_brand_excludes_nothing() -> None:
    query = parse_query("laptop not too heavy")
    assert query.exclude_brands == () and query.brands == ()
