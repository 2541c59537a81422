"""The deterministic answer composer: a bilingual answer for each intent from the listed products alone.

Every figure it writes (price, km, stock, shop) is a field of a listed product or alternative, or a
difference computed from those and the stated budget; supplier text (descriptions) is never quoted.

* recommend: which product fits best and why in the data's terms (how far under the budget, distance,
  stock, the query's words it matches), then the other options.
* availability: a plain yes or no first, then the nearest stock.
* compare: the named products side by side (price, distance, stock, shop, key tags), which is cheaper
  and which is closer.
* nothing found: says so and presents the alternatives with the reason each one missed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from core.domain.marketplace import Product
from core.query import Language, Place, format_rupiah
from core.query.brands import brand_of
from core.query.model import Intent, Sort
from core.recommendation.figures import format_km, is_in_place
from core.recommendation.retrieval import Alternative, MatchTier, brand_terms, product_words

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_TAGS = 3


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """What the composer (and the grounding check) may draw on."""

    language: Language
    products: Sequence[Product]
    alternatives: Sequence[Alternative] = ()
    intent: Intent = "recommend"
    sort: Sort = "nearest"
    prefer_cheaper: bool = False
    category: str | None = None
    keywords: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    min_price: int | None = None
    max_price: int | None = None
    place: Place | None = None
    """The place the query named (availability answers say whether stock is there)."""
    location_name: str | None = None
    """Where distances are measured from (the named place or the user's saved city)."""
    tier: MatchTier = "all_keywords"
    listed: tuple[Product, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "listed", (*self.products, *(a.product for a in self.alternatives)))


def compose_answer(context: AnswerContext) -> str:
    if context.intent == "compare" and context.listed:
        return _compare(context) if len(context.listed) >= 2 else _compare_one(context)
    if context.intent == "availability":
        return _availability(context)
    if not context.products:
        return _nothing_found(context)
    return _recommend(context)


def text_chunks(text: str) -> Iterator[str]:
    """The composed text as stream deltas (line by line); they concatenate to ``text`` exactly."""
    yield from text.splitlines(keepends=True)


# --- pieces -------------------------------------------------------------------------------------------


def _id(context: AnswerContext) -> bool:
    return context.language == "id"


def _stock(product: Product, context: AnswerContext) -> str:
    return f"stok {product.stock_quantity}" if _id(context) else f"stock {product.stock_quantity}"


def _km(product: Product, context: AnswerContext) -> str | None:
    return format_km(product.distance_km, context.language) if product.distance_km is not None else None


def _shop(product: Product) -> str:
    return f"{product.supplier_name} ({product.city})"


def _line(product: Product, context: AnswerContext, reason: str | None = None) -> str:
    parts = [f"{format_rupiah(product.price)}" + (f" ({reason})" if reason else ""), _shop(product)]
    km = _km(product, context)
    if km:
        parts.append(km)
    parts.append(_stock(product, context))
    return f"- {product.name}: " + ", ".join(parts)


def _what(context: AnswerContext) -> str:
    implied = {brand_of(k) for k in context.keywords}
    brands = [b for b in context.brands if b not in implied]
    words = [w for w in (context.category, *context.keywords, *brands) if w]
    words = list(dict.fromkeys(words))
    if words:
        return " ".join(words)
    return "produk" if _id(context) else "products"


def _matched_words(product: Product, context: AnswerContext) -> list[str]:
    text = set(_WORD.findall(f"{product.name} {product.tags or ''} {product.description or ''}".lower()))
    return [k for k in context.keywords if k in text]


def _budget_note(product: Product, context: AnswerContext) -> str | None:
    if context.max_price is None:
        return None
    gap = context.max_price - product.price
    if gap > 0:
        money = format_rupiah(gap)
        return f"{money} di bawah budget Anda" if _id(context) else f"{money} under your budget"
    if gap == 0:
        return "tepat sebesar budget Anda" if _id(context) else "exactly your budget"
    return None


def _from_where(context: AnswerContext) -> str:
    if not context.location_name:
        return ""
    return f" dari {context.location_name}" if _id(context) else f" from {context.location_name}"


def _tiers_note(context: AnswerContext) -> str | None:
    if context.tier == "all_keywords" or not context.keywords:
        return None
    words = ", ".join(context.keywords)
    if _id(context):
        return f"Tidak ada yang cocok dengan semua kata ({words}); ini yang paling mendekati."
    return f"Nothing matches every word ({words}); these are the closest."


# --- intents ------------------------------------------------------------------------------------------


def _recommend(context: AnswerContext) -> str:
    best, others = context.products[0], context.products[1:]
    id_ = _id(context)
    why: list[str] = []
    count = len(context.products)
    if context.sort == "price_asc" and count > 1:
        why.append(f"termurah dari {count} produk yang cocok" if id_ else f"the cheapest of {count} matching products")
    elif context.sort == "price_desc" and count > 1:
        why.append(f"termahal dari {count} produk yang cocok" if id_ else f"the most expensive of {count} matches")
    elif context.prefer_cheaper and count > 1:
        why.append("harga terendah di antara yang cocok" if id_ else "the lowest price among the matches")
    budget = _budget_note(best, context)
    if budget:
        why.append(budget)
    km = _km(best, context)
    if km:
        nearest = context.sort == "nearest" and not context.prefer_cheaper and count > 1
        if id_:
            why.append(f"{'paling dekat, ' if nearest else ''}{km}{_from_where(context)}")
        else:
            why.append(f"{'the closest, ' if nearest else ''}{km}{_from_where(context)}")
    why.append(_stock(best, context))
    matched = _matched_words(best, context)
    if matched:
        why.append(("cocok dengan: " if id_ else "matches: ") + ", ".join(matched))
    head = "Pilihan terbaik" if id_ else "Best fit"
    price = f"seharga {format_rupiah(best.price)}" if id_ else f"at {format_rupiah(best.price)}"
    lines = [
        f"{head}: {best.name} di {_shop(best)} {price} ({'; '.join(why)})."
        if id_
        else f"{head}: {best.name} from {_shop(best)} {price} ({'; '.join(why)})."
    ]
    note = _tiers_note(context)
    if note:
        lines.append(note)
    if others:
        lines.append("Pilihan lain:" if id_ else "Other options:")
        lines.extend(_line(p, context) for p in others)
    return "\n".join(lines)


def _availability(context: AnswerContext) -> str:
    id_ = _id(context)
    what = _what(context)
    place = context.place
    local = [p for p in context.products if is_in_place(p, place)]
    if local:
        best = local[0]
        where = f" di {place.name}" if place and id_ else f" in {place.name}" if place else ""
        head = f"Ya, ada stok {what}{where}." if id_ else f"Yes, {what} is in stock{where}."
        first = (
            f"Terdekat: {best.name} di {_shop(best)}, {_stock(best, context)}, {format_rupiah(best.price)}"
            if id_
            else f"Nearest: {best.name} from {_shop(best)}, {_stock(best, context)}, {format_rupiah(best.price)}"
        )
        km = _km(best, context)
        lines = [head, first + (f", {km}{_from_where(context)}." if km else ".")]
        rest = [p for p in context.products if p is not best]
        if rest:
            lines.append("Lainnya:" if id_ else "Also:")
            lines.extend(_line(p, context) for p in rest)
        return "\n".join(lines)
    if context.products:
        assert place is not None
        best = context.products[0]
        head = (
            f"Tidak, tidak ada stok {what} di {place.name}."
            if id_
            else f"No, there is no {what} in stock in {place.name}."
        )
        km = _km(best, context)
        nearest = (
            f"Stok terdekat: {best.name} di {_shop(best)}"
            if id_
            else f"The nearest stock: {best.name} from {_shop(best)}"
        )
        nearest += f", {km}" if km else ""
        nearest += f", {_stock(best, context)}, {format_rupiah(best.price)}."
        lines = [head, nearest]
        rest = context.products[1:]
        if rest:
            lines.append("Lainnya:" if id_ else "Also:")
            lines.extend(_line(p, context) for p in rest)
        return "\n".join(lines)
    where = f" di {place.name}" if place and id_ else f" in {place.name}" if place else ""
    head = (
        f"Tidak, saat ini tidak ada stok {what}{where} yang memenuhi semua kriteria."
        if id_
        else f"No, there is no {what} in stock{where} that meets every criterion right now."
    )
    return _with_alternatives(head, context)


def _nothing_found(context: AnswerContext) -> str:
    id_ = _id(context)
    what = _what(context)
    budget = ""
    if context.max_price is not None:
        budget = (
            f" dengan budget {format_rupiah(context.max_price)}"
            if id_
            else f" within {format_rupiah(context.max_price)}"
        )
    head = (
        f"Maaf, tidak ada {what}{budget} yang memenuhi semua kriteria."
        if id_
        else f"Sorry, no {what}{budget} meets every criterion."
    )
    return _with_alternatives(head, context)


def _with_alternatives(head: str, context: AnswerContext) -> str:
    id_ = _id(context)
    if not context.alternatives:
        tip = (
            "Coba naikkan budget, ganti kategori, atau cari di kota lain."
            if id_
            else "Try a higher budget, another category, or another city."
        )
        return f"{head} {tip}"
    lines = [head, "Alternatif terdekat:" if id_ else "Closest alternatives:"]
    lines.extend(_line(a.product, context, a.reason) for a in context.alternatives)
    return "\n".join(lines)


def _key_tags(product: Product, context: AnswerContext) -> list[str]:
    skip = {product.category, *(w for b in context.brands for w in brand_terms(b))}
    skip |= set(_WORD.findall(product.name.lower()))
    tags = [t.strip() for t in (product.tags or "").lower().split(",") if t.strip()]
    return [t for t in tags if t not in skip][:MAX_TAGS]


def _compare(context: AnswerContext) -> str:
    id_ = _id(context)
    reasons = {a.product.id: a.reason for a in context.alternatives}
    items = list(context.listed)
    if context.brands:

        def order(product: Product) -> int:
            words = product_words(product)
            return next((i for i, b in enumerate(context.brands) if words & brand_terms(b)), len(context.brands))

        items.sort(key=order)
    lines = ["Perbandingan:" if id_ else "Comparison:"]
    for product in items:
        line = _line(product, context, reasons.get(product.id))
        tags = _key_tags(product, context)
        if tags:
            line += (", tag: " if id_ else ", tags: ") + ", ".join(tags)
        lines.append(line)
    cheapest = min(items, key=lambda p: (p.price, p.id))
    others = [p for p in items if p is not cheapest]
    if len(items) == 2:
        other = others[0]
        gap = other.price - cheapest.price
        if gap > 0:
            money = format_rupiah(gap)
            lines.append(
                f"{cheapest.name} lebih murah {money} dari {other.name}."
                if id_
                else f"{cheapest.name} is {money} cheaper than {other.name}."
            )
        else:
            lines.append("Harganya sama." if id_ else "They cost the same.")
    else:
        lines.append(f"Termurah: {cheapest.name}." if id_ else f"Cheapest: {cheapest.name}.")
    located = [p for p in items if p.distance_km is not None]
    if len(located) >= 2:
        closest = min(located, key=lambda p: (p.distance_km, p.id))  # type: ignore[arg-type,return-value]
        far = [p for p in located if p is not closest]
        if len(located) == 2 and round(far[0].distance_km or 0) != round(closest.distance_km or 0):
            a, b = _km(closest, context), _km(far[0], context)
            lines.append(
                f"{closest.name} lebih dekat ({a} vs {b}{_from_where(context)})."
                if id_
                else f"{closest.name} is closer ({a} vs {b}{_from_where(context)})."
            )
        elif len(located) > 2:
            lines.append(f"Terdekat: {closest.name}." if id_ else f"Closest: {closest.name}.")
    if not context.products and context.max_price is not None:
        budget = format_rupiah(context.max_price)
        lines.append(
            f"Tidak ada yang masuk budget {budget}." if id_ else f"None of them is within the {budget} budget."
        )
    return "\n".join(lines)


def _compare_one(context: AnswerContext) -> str:
    only = context.listed[0]
    id_ = _id(context)
    reasons = {a.product.id: a.reason for a in context.alternatives}
    head = "Hanya satu produk yang ditemukan untuk dibandingkan:" if id_ else "Only one product was found to compare:"
    return "\n".join([head, _line(only, context, reasons.get(only.id))])
