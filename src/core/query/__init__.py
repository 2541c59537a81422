"""Understanding a shopping request (Indonesian or English): category, budget, place, keywords.

Pure and deterministic: the standard library and the bundled gazetteer (``data/gazetteer.json``) only.

    >>> q = parse_query("Saya butuh laptop gaming di Jakarta, budget 12 juta")
    >>> (q.category, q.max_price, q.location.name, q.keywords, q.language)
    ('laptop', 12000000, 'DKI Jakarta', ('gaming',), 'id')
"""

from core.query.follow_up import merge_with_previous
from core.query.gazetteer import Gazetteer, GazetteerEntry
from core.query.language import detect_language
from core.query.model import Language, ParsedQuery, Place
from core.query.parser import parse_query
from core.query.prices import AROUND_TOLERANCE, format_rupiah, parse_price

__all__ = [
    "AROUND_TOLERANCE",
    "Gazetteer",
    "GazetteerEntry",
    "Language",
    "ParsedQuery",
    "Place",
    "detect_language",
    "format_rupiah",
    "merge_with_previous",
    "parse_price",
    "parse_query",
]
