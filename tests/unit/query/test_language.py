"""Deterministic language detection: word-list scoring, ties go to Indonesian."""

from __future__ import annotations

import pytest

from core.query import detect_language, parse_query


@pytest.mark.parametrize(
    "text",
    [
        "Saya butuh laptop gaming di Jakarta, budget 12 juta",
        "cari hp samsung di bawah 5jt di Jaksel",
        "yang lebih murah?",
        "yang di Bandung?",
        "ada mouse wireless?",
        "laptop 12jt",
        "monitor 500rb",
        "laptop asus rog",  # no scoring word: tie -> id
        "",
        "laptop gaming 15 juta",
    ],
)
def test_indonesian(text: str) -> None:
    assert detect_language(text) == "id"


@pytest.mark.parametrize(
    "text",
    [
        "gaming laptop in Bandung under 15 million",
        "cheaper ones?",
        "I need a phone",
        "show me monitors near Surabaya",
        "what about the ones in Jakarta",
        "cheap printer",
        "looking for a keyboard",
    ],
)
def test_english(text: str) -> None:
    assert detect_language(text) == "en"


def test_parse_query_reports_the_language() -> None:
    assert parse_query("laptop murah di Bandung").language == "id"
    assert parse_query("cheap laptop in Bandung").language == "en"
