"""Deterministic language guess for a shopping query: Indonesian ("id") or English ("en").

Each token scores a point for the language whose word list holds it (brands, product and place names
score for neither). The higher score wins. On a tie (including no scoring words at all, e.g. "asus rog
strix"), the answer is "id": this is an Indonesian marketplace, and Indonesian money words such as "juta",
"jt", "rb" are counted with double weight because English speakers do not write them.
"""

from __future__ import annotations

from core.query.model import Language
from core.query.text import normalize, tokenize
from core.query.vocabulary import INDONESIAN_MONEY_WORDS, LANGUAGE_WORDS_EN, LANGUAGE_WORDS_ID


def detect_language(text: str) -> Language:
    """Return "id" or "en" for ``text``; ties go to "id" (see the module docstring)."""
    return language_of_tokens([token.text for token in tokenize(normalize(text))])


def language_of_tokens(words: list[str]) -> Language:
    indonesian = english = 0
    for word in words:
        stem = word[:-3] if word.endswith("nya") and len(word) > 5 else word
        if word in INDONESIAN_MONEY_WORDS:
            indonesian += 2
        elif word in LANGUAGE_WORDS_ID or stem in LANGUAGE_WORDS_ID:
            indonesian += 1
        elif word in LANGUAGE_WORDS_EN:
            english += 1
        elif word[:1].isdigit():
            # "12jt", "500rb", "15mio", "12million" written without a space
            if word.endswith(("jt", "juta", "rb", "ribu", "jtan", "jutaan")):
                indonesian += 2
            elif word.endswith(("million", "mil", "thousand")):
                english += 1
    return "en" if english > indonesian else "id"
