"""Values produced by query understanding: a parsed shopping request and the place it names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.query.text import normalize_city

Language = Literal["id", "en"]
PlaceKind = Literal["province", "city", "regency", "district"]
Comparison = Literal["cheaper", "pricier"]
Sort = Literal["nearest", "price_asc", "price_desc"]
Intent = Literal["availability", "compare", "recommend"]

_DIRECTIONS = frozenset(
    {"utara", "selatan", "barat", "timur", "tengah", "pusat", "north", "south", "east", "west", "central"}
)


@dataclass(frozen=True, slots=True)
class Place:
    """A place from the gazetteer. Distance from (latitude, longitude) is the main ranking signal;
    ``matches_city`` says whether a supplier's free-text city lies inside this place."""

    name: str
    kind: PlaceKind
    province: str
    latitude: float
    longitude: float
    contained_cities: tuple[str, ...] = ()
    """Display names of this place and the gazetteer places inside it (a province lists its cities)."""
    match_names: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    """Normalised names and aliases of this place and of everything inside it."""

    def matches_city(self, city: str) -> bool:
        """True when ``city`` (a supplier's city as typed: "Jakarta Selatan", "Kota Bandung", "Jaksel",
        "Kab. Sleman") is this place, inside it, or a compass part of it ("Bandung Barat",
        "South Tangerang" for Tangerang)."""
        names = self.match_names or frozenset({normalize_city(self.name)})
        normalized = normalize_city(city)
        if not normalized:
            return False
        if normalized in names:
            return True
        words = normalized.split(" ")
        if len(words) >= 2:
            if words[-1] in _DIRECTIONS and " ".join(words[:-1]) in names:
                return True
            if words[0] in _DIRECTIONS and " ".join(words[1:]) in names:
                return True
        return False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """What a shopping request asks for. Prices are integer rupiah, bounds inclusive."""

    category: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    prefer_cheaper: bool = False
    location: Place | None = None
    keywords: tuple[str, ...] = ()
    language: Language = "id"
    is_follow_up: bool = False
    comparison: Comparison | None = None
    """Set by "yang lebih murah?" / "cheaper ones?" (or "lebih mahal"): relative to the previous turn."""
    brands: tuple[str, ...] = ()
    """Brands asked for, lower case, from brand words and the product lines that imply them (iPad -> apple)."""
    exclude_brands: tuple[str, ...] = ()
    """Brands ruled out: "selain asus", "bukan samsung", "except apple"."""
    sort: Sort | None = None
    """Stated order ("termurah" -> price_asc, "termahal" -> price_desc, "terdekat" -> nearest); None: not stated
    (the search orders nearest first)."""
    intent: Intent | None = None
    """Stated intent (availability question, comparison); None: not stated (a recommendation)."""

    @property
    def effective_sort(self) -> Sort:
        return self.sort or "nearest"

    @property
    def effective_intent(self) -> Intent:
        return self.intent or "recommend"
