"""How figures are written in answers, and the reasons an alternative missed the filters.

One place for these formats, so the composer, the alternatives' reasons and the grounding check agree."""

from __future__ import annotations

from core.domain.marketplace import Product
from core.query import Language, Place, format_rupiah

LOCAL_RADIUS_KM = 30.0
"""A product counts as in the named place when its city is inside it or its shop is this close to it."""


def format_km(distance_km: float, language: Language) -> str:
    """412.4 -> "412 km"; 1412.0 -> "1.412 km" (id) / "1,412 km" (en)."""
    text = f"{round(distance_km):,}"
    return (text.replace(",", ".") if language == "id" else text) + " km"


def is_in_place(product: Product, place: Place | None) -> bool:
    if place is None:
        return True
    if place.matches_city(product.city):
        return True
    return product.distance_km is not None and product.distance_km <= LOCAL_RADIUS_KM


def over_budget(amount: int, language: Language) -> str:
    money = format_rupiah(amount)
    return f"{money} di atas budget" if language == "id" else f"{money} over budget"


def under_minimum(amount: int, language: Language) -> str:
    money = format_rupiah(amount)
    return f"{money} di bawah harga minimum" if language == "id" else f"{money} below your minimum"


def other_brand(language: Language) -> str:
    return "merk lain" if language == "id" else "another brand"


def miss_reason(
    product: Product,
    *,
    min_price: int | None,
    max_price: int | None,
    brand_missed: bool,
    place: Place | None,
    language: Language,
) -> str:
    """Why ``product`` is only an alternative: "Rp 999.000 di atas budget", "merk lain", "412 km"."""
    parts: list[str] = []
    if max_price is not None and product.price > max_price:
        parts.append(over_budget(product.price - max_price, language))
    if min_price is not None and product.price < min_price:
        parts.append(under_minimum(min_price - product.price, language))
    if brand_missed:
        parts.append(other_brand(language))
    if place is not None and product.distance_km is not None and not is_in_place(product, place):
        parts.append(format_km(product.distance_km, language))
    return ", ".join(parts)
