"""The one text normalisation fed to every full-text index and applied to every text query."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^0-9a-z]+")
MAX_QUERY_TERMS = 12


def normalise(text: str | None) -> str:
    """Lower-case ASCII words separated by single spaces ("Laptop ASUS ROG-G15!" -> "laptop asus rog g15")."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return _NON_WORD.sub(" ", folded).strip()


def product_search_text(name: str, description: str | None, tags: str | None, category: str) -> str:
    return normalise(" ".join(part for part in (name, description, tags, category) if part))


def query_terms(text: str | None) -> list[str]:
    """Distinct words of a query, in order, at most ``MAX_QUERY_TERMS``."""
    seen: dict[str, None] = {}
    for word in normalise(text).split():
        seen.setdefault(word, None)
    return list(seen)[:MAX_QUERY_TERMS]
