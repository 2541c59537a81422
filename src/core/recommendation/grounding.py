"""The grounding check: which sentences of a model's answer may be shown.

A sentence passes when every product it names is a listed product (fuzzy name match), every brand or
product line it names belongs to a product it names, and every price, distance, stock figure and shop it
states matches a product it names (or, when it names none, the products of the sentence before it).
Allowed prices also include the stated budget and differences computed from the named products and the
budget. Product text is data: an instruction inside a description cannot make a wrong price pass.

``GroundedSentences`` applies the check while text streams in: a sentence is released as soon as it
is complete and passes, but only once some passing sentence has named a listed product (so an answer
that names nothing is never shown). Repeated sentences are dropped; a model stuck in a loop is stopped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from core.domain.marketplace import Product
from core.query.brands import brand_of
from core.query.prices import find_mentions
from core.query.text import normalize
from core.recommendation.answer import AnswerContext
from core.recommendation.retrieval import product_words

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_GENERIC = frozenset(
    {"laptop", "smartphone", "tablet", "monitor", "keyboard", "mouse", "printer", "headphone", "speaker",
     "camera", "console", "smartwatch", "gaming", "pro", "air", "max", "plus", "mini", "ultra", "lite",
     "with", "and", "the", "new", "inch", "dan"}
)  # fmt: skip
_KM = re.compile(r"(\d+(?:[.,]\d+)*)\s*(?:km|kilometer|kilometres|kilometers)\b")
_STOCK_BEFORE = re.compile(r"\b(?:stok|stock|sisa|tersisa|persediaan|stoknya)\D{0,12}?(\d+)")
_STOCK_AFTER = re.compile(r"\b(\d+)\s*(?:unit|units|pcs|buah|biji|in stock|tersedia|left|available)\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
PRICE_TOLERANCE = 0.005
"""A stated price may differ from the product's by 0.5% ("Rp 12 juta" for Rp 11.999.000)."""
MAX_REPEATS = 2
"""Repeated sentences are dropped; after this many repeats the model is looping and is stopped."""


@dataclass(frozen=True, slots=True)
class Verdict:
    passes: bool
    named: tuple[Product, ...]


def _name_tokens(product: Product) -> list[str]:
    return [w for w in _WORD.findall(product.name.lower()) if w not in _GENERIC and (len(w) >= 3 or w.isdigit())]


def _token_in(token: str, words: set[str]) -> bool:
    if token in words:
        return True
    if len(token) >= 5:
        return any(len(w) >= 4 and fuzz.ratio(token, w) >= 85 for w in words)
    return False


def named_products(sentence: str, listed: Sequence[Product]) -> tuple[Product, ...]:
    """Listed products the sentence names: two of their distinctive name words, or one word no other
    listed product shares ("Pavilion", "Galaxy")."""
    words = set(_WORD.findall(normalize(sentence)))
    counts: dict[str, int] = {}
    for product in listed:
        for token in set(_name_tokens(product)):
            counts[token] = counts.get(token, 0) + 1
    named = []
    for product in listed:
        tokens = _name_tokens(product)
        matched = [t for t in dict.fromkeys(tokens) if _token_in(t, words)]
        if len(matched) >= 2 or (
            matched and (len(tokens) == 1 or any(counts[t] == 1 and len(t) >= 4 for t in matched))
        ):
            named.append(product)
    return tuple(named)


def _close(value: float, target: float, tolerance: float) -> bool:
    return abs(value - target) <= max(tolerance * abs(target), 0.0)


def _number(text: str) -> float | None:
    cleaned = text
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", cleaned):
        cleaned = cleaned.replace(".", "").replace(",", "")
    else:
        cleaned = cleaned.replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return None


def _price_allowed(amount: int, named: Sequence[Product], context: AnswerContext) -> bool:
    """A named product's price (within ``PRICE_TOLERANCE``), or exactly the budget or a difference
    computed from the named products' prices and the budget."""
    prices = [p.price for p in named]
    if any(_close(amount, price, PRICE_TOLERANCE) for price in prices):
        return True
    bounds = [b for b in (context.min_price, context.max_price) if b is not None]
    derived = set(bounds) | {abs(p - b) for p in prices for b in bounds} | {abs(a - b) for a in prices for b in prices}
    return amount in derived - {0}


def check_sentence(sentence: str, context: AnswerContext, previous: Sequence[Product] = ()) -> Verdict:
    text = normalize(sentence)
    listed = context.listed
    named = named_products(sentence, listed)
    words = set(_WORD.findall(text))
    # brands and product lines must belong to a product the sentence names (or, failing that, any listed one)
    scope = named or tuple(previous)
    for word in words:
        brand = brand_of(word)
        if brand is None or (word == "hp" and not any("hp" in product_words(p) for p in listed)):
            continue
        if not any(word in product_words(p) or brand in product_words(p) for p in (scope or listed)):
            return Verdict(False, named)
        if not scope:
            return Verdict(False, named)  # a brand with no listed product named: not checkable
    about = scope
    prices = [m for m in find_mentions(text, context.language) if not m.needs_context]
    if not all(_price_allowed(m.amount, about, context) for m in prices):
        return Verdict(False, named)
    for match in _KM.finditer(text):
        value = _number(match.group(1))
        distances = [p.distance_km for p in about if p.distance_km is not None]
        distances += [abs(a - b) for a in distances for b in distances if a != b]
        if value is None or not any(abs(value - d) <= max(1.0, 0.02 * d) for d in distances):
            return Verdict(False, named)
    for pattern in (_STOCK_BEFORE, _STOCK_AFTER):
        for match in pattern.finditer(text):
            if not any(int(match.group(1)) == p.stock_quantity for p in about):
                return Verdict(False, named)
    for product in listed:
        shop = normalize(product.supplier_name)
        if shop in text or (len(shop) >= 8 and fuzz.partial_ratio(shop, text) >= 92):
            if not any(p.supplier_name == product.supplier_name for p in about):
                return Verdict(False, named)
    cities = {normalize(p.city) for p in listed}
    allowed_cities = {normalize(p.city) for p in about}
    if context.location_name:
        allowed_cities.add(normalize(context.location_name))
    if context.place is not None:
        allowed_cities.add(normalize(context.place.name))
    for city in cities - allowed_cities:
        if re.search(rf"\b{re.escape(city)}\b", text) and not any(city in c for c in allowed_cities):
            return Verdict(False, named)
    return Verdict(True, named)


def split_sentences(text: str) -> tuple[list[str], str]:
    """Complete sentences (each with the whitespace that follows it) and the unfinished rest.
    A dot inside a number ("Rp 11.999.000", "15.6 inch") does not end a sentence."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() >= len(text):
            break  # the whitespace may continue; wait for more text
        sentences.append(text[start : match.end()])
        start = match.end()
    return sentences, text[start:]


@dataclass
class GroundedSentences:
    """Feed model text in; take out the text that may be shown, sentence by sentence."""

    context: AnswerContext
    shown: list[str] = field(default_factory=list)
    _buffer: str = ""
    _pending: list[tuple[str, str]] = field(default_factory=list)
    _separator: str = " "  # the whitespace after the last sentence read: what a kept sentence follows
    _named_any: bool = False
    _seen: set[str] = field(default_factory=set)
    _repeats: int = 0
    _previous: tuple[Product, ...] = ()

    @property
    def looping(self) -> bool:
        return self._repeats >= MAX_REPEATS

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        sentences, self._buffer = split_sentences(self._buffer)
        return self._release(sentences)

    def finish(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        return self._release([rest] if rest.strip() else [])

    def _release(self, sentences: Iterable[str]) -> list[str]:
        out: list[str] = []
        for raw in sentences:
            sentence = raw.strip()
            separator, self._separator = self._separator, raw[len(raw.rstrip()) :] or " "
            key = " ".join(_WORD.findall(normalize(sentence)))
            if not key or self.looping:
                continue
            if key in self._seen:
                self._repeats += 1
                continue
            self._seen.add(key)
            verdict = check_sentence(sentence, self.context, self._previous)
            if not verdict.passes:
                continue
            if verdict.named:
                self._previous = verdict.named
                self._named_any = True
            self._pending.append((separator, sentence))
            if self._named_any:
                for before, item in self._pending:
                    text = item if not self.shown else before + item
                    self.shown.append(text)
                    out.append(text)
                self._pending.clear()
        return out


def grounded_text(text: str, context: AnswerContext) -> str:
    """The part of a whole model answer that may be shown ("" when nothing may)."""
    check = GroundedSentences(context)
    check.feed(text)
    check.finish()
    return "".join(check.shown)
