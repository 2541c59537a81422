"""Text normalisation and tokenising shared by the query parsers."""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

MAX_QUERY_CHARS = 1000
"""Queries are cut to this many characters: a shopping request is short, and the cap bounds parse time."""

# Words: letters/digits, optionally joined by single hyphens or apostrophes ("i7-1365u", "bau-bau").
_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_CITY_PREFIX = re.compile(
    r"^(?:kota administrasi|kabupaten administrasi|kota adm|kab adm|kotamadya|kota|kabupaten|kab|"
    r"city of|regency of|provinsi|propinsi|prov)\s+"
)
_CITY_SUFFIX = re.compile(r"\s+(?:city|regency|province)$")
_NON_WORD = re.compile(r"[^a-z0-9\- ]+")
_SPACES = re.compile(r"\s+")


class Token(NamedTuple):
    text: str
    start: int
    end: int


def normalize(text: str) -> str:
    """NFKC, lowercase, curly quotes and dashes made plain, cut to ``MAX_QUERY_CHARS``."""
    text = unicodedata.normalize("NFKC", text[: MAX_QUERY_CHARS * 2])[:MAX_QUERY_CHARS]
    return text.lower().replace("–", "-").replace("—", "-").replace("’", "'")


def tokenize(text: str) -> list[Token]:
    """Word tokens of already-normalised text, with their character spans."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def normalize_city(city: str) -> str:
    """A city as typed by a person -> comparable key: "Kota Adm. Jakarta Selatan" -> "jakarta selatan",
    "Kab. Sleman" -> "sleman", "Bandung City" -> "bandung"."""
    text = normalize(city).replace(".", " ").replace(",", " ")
    text = _SPACES.sub(" ", _NON_WORD.sub(" ", text)).strip()
    text = _CITY_SUFFIX.sub("", _CITY_PREFIX.sub("", text))
    return text.strip()
