"""Indonesian places: provinces, cities, regencies and districts with coordinates and aliases.

The default data (``data/gazetteer.json``, GeoNames CC BY 4.0 plus hand aliases) is built by
``scripts/build_gazetteer.py``. Matching is on whole words, case-insensitive, longest alias first.
Names that are also common words ("batu" = stone, "kota" = city, "palu" = hammer, and any name that is a
stop word, category or brand word) only count right after a preposition such as "di", "in", "near".
When several places appear, one after a preposition wins, then the longer name, then the earlier one.
When one name fits several places, a province beats a city of the same name ("Jambi", "Bengkulu", whose
coordinates are the same capital), then the larger population wins ("Depok" in West Java, not Sleman).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from core.query.model import Place, PlaceKind
from core.query.text import Token, normalize, normalize_city, tokenize
from core.query.vocabulary import (
    AROUND_PHRASES,
    BRANDS,
    CHEAP_WORDS,
    LOWER_BOUND_PHRASES,
    PLACE_PREPOSITIONS_STRONG,
    PLACE_PREPOSITIONS_WEAK,
    PRODUCT_LINES,
    STOPWORDS,
    STRONG_CATEGORY_WORDS,
    UPPER_BOUND_PHRASES,
    WEAK_CATEGORY_WORDS,
)

_KIND_RANK: dict[str, int] = {"province": 0, "city": 1, "regency": 2, "district": 3}


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    name: str
    kind: PlaceKind
    province: str
    latitude: float
    longitude: float
    aliases: tuple[str, ...] = ()
    population: int = 0
    parent: str | None = None
    needs_preposition: bool = False


class PlaceMatch(NamedTuple):
    place: Place
    start: int  # token index of the first word of the name
    end: int  # token index after the last word


def _common_words() -> frozenset[str]:
    words = set(STOPWORDS) | set(BRANDS) | set(PRODUCT_LINES) | set(CHEAP_WORDS)
    words |= {w for phrase in STRONG_CATEGORY_WORDS for w in phrase.split()}
    words |= set(WEAK_CATEGORY_WORDS)
    for phrases in (UPPER_BOUND_PHRASES, LOWER_BOUND_PHRASES, AROUND_PHRASES):
        words |= {w for phrase in phrases for w in phrase}
    return frozenset(words)


class Gazetteer:
    """Finds the place a query names. Build one from entries, or use ``Gazetteer.load_default()``."""

    def __init__(self, entries: Iterable[GazetteerEntry]) -> None:
        self._entries: tuple[GazetteerEntry, ...] = tuple(entries)
        common = _common_words()
        index: dict[tuple[str, ...], list[GazetteerEntry]] = {}
        self._guarded: set[tuple[str, ...]] = set()
        for entry in self._entries:
            for alias in (entry.name, *entry.aliases):
                key = tuple(t.text for t in tokenize(normalize(alias)))
                if not key:
                    continue
                bucket = index.setdefault(key, [])
                if entry not in bucket:
                    bucket.append(entry)
                if entry.needs_preposition and alias.lower() == entry.name.lower():
                    self._guarded.add(key)
                if len(key) == 1 and key[0] in common:
                    self._guarded.add(key)
        for bucket in index.values():
            bucket.sort(key=lambda e: (_KIND_RANK[e.kind], -e.population, e.name))
        self._index = index
        self._longest = max((len(k) for k in index), default=1)
        self._places: dict[GazetteerEntry, Place] = {}
        self.words: frozenset[str] = frozenset(w for key in index for w in key)
        """Every word of every name and alias (known words: never corrected as typos)."""
        self.typo_targets: tuple[str, ...] = tuple(
            sorted(
                {
                    w
                    for key, bucket in index.items()
                    if key not in self._guarded and any(e.kind != "district" for e in bucket)
                    for w in key
                    if len(w) >= 5 and w.isalpha()
                }
            )
        )
        """Words of unguarded city, regency and province names: what a misspelt place word is corrected to."""

    @classmethod
    def from_json(cls, data: bytes | str) -> Gazetteer:
        document: dict[str, Any] = json.loads(data)
        return cls(
            GazetteerEntry(
                name=row["name"],
                kind=row["kind"],
                province=row["province"],
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                aliases=tuple(row.get("aliases", ())),
                population=int(row.get("population", 0)),
                parent=row.get("parent"),
                needs_preposition=bool(row.get("needs_preposition", False)),
            )
            for row in document["places"]
        )

    @classmethod
    def load_default(cls) -> Gazetteer:
        """The bundled gazetteer, loaded once per process."""
        return _default_gazetteer()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, name: str) -> Place | None:
        """The place called ``name`` (an exact name or alias, "Kota"/"Kab." prefixes ignored), or None."""
        key = tuple(t.text for t in tokenize(normalize_city(name)))
        bucket = self._index.get(key)
        return self._place(bucket[0]) if bucket else None

    def find(self, text: str) -> Place | None:
        """The place a free-text query names ("laptop di Jaksel" -> Jakarta Selatan), or None."""
        match = self.match(tokenize(normalize(text)))
        return match.place if match else None

    def match(self, tokens: Sequence[Token], skip: frozenset[int] = frozenset()) -> PlaceMatch | None:
        """Best place in already tokenised text, ignoring token indices in ``skip`` (price words)."""
        words = [t.text for t in tokens]
        best: tuple[tuple[int, int, int], PlaceMatch] | None = None
        i = 0
        while i < len(words):
            if i in skip:
                i += 1
                continue
            found = None
            for length in range(min(self._longest, len(words) - i), 0, -1):
                if any(j in skip for j in range(i, i + length)):
                    continue
                key = tuple(words[i : i + length])
                bucket = self._index.get(key)
                if bucket:
                    found = (key, bucket[0], length)
                    break
            if found is None:
                i += 1
                continue
            key, entry, length = found
            before = words[i - 1] if i > 0 and (i - 1) not in skip else ""
            preposition = 2 if before in PLACE_PREPOSITIONS_STRONG else 1 if before in PLACE_PREPOSITIONS_WEAK else 0
            if preposition or key not in self._guarded:
                score = (preposition, length, -i)
                if best is None or score > best[0]:
                    best = (score, PlaceMatch(self._place(entry), i, i + length))
            i += length
        return best[1] if best else None

    def _place(self, entry: GazetteerEntry) -> Place:
        place = self._places.get(entry)
        if place is None:
            if entry.kind == "province":
                inside = [e for e in self._entries if e.province == entry.name and e is not entry]
            else:
                inside = [e for e in self._entries if e.parent == entry.name and e is not entry]
            members = [entry, *inside]
            names = {normalize_city(n) for e in members for n in (e.name, *e.aliases)}
            place = Place(
                name=entry.name,
                kind=entry.kind,
                province=entry.province,
                latitude=entry.latitude,
                longitude=entry.longitude,
                contained_cities=tuple(e.name for e in members),
                match_names=frozenset(n for n in names if n),
            )
            self._places[entry] = place
        return place


@cache
def _default_gazetteer() -> Gazetteer:
    data = (resources.files("core.query") / "data" / "gazetteer.json").read_bytes()
    return Gazetteer.from_json(data)
