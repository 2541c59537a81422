"""Prices and budgets as people write them, in integer rupiah.

Accepted forms: "12 juta", "12jt", "Rp 12.000.000", "Rp12,5 juta", "1,5 juta", "1.5jt", "500rb", "500 ribu",
"500k", "2 miliar", "12 million", "15 mio", "Rp 12.000.000,-", "IDR 5,000,000", "12000000".

Separators: a "." or "," followed by exactly three digits groups thousands ("12.000.000", "5,000,000",
"1.500"); followed by one or two digits it is the decimal point ("1,5 juta", "1.5jt", "Rp 1.000.000,50").
When both appear, the last one is the decimal point.

Not prices: numbers glued to other letters ("16GB", "i7-1365U", "144Hz", "4K" alone, "2m" alone), short bare
numbers ("RTX 4060", "27 inch", "2023"), numbers with a leading zero (phone numbers). A bare number of at
least 1,000 is a price only right after a bound word ("under 500000", "max 5000"), and "m" is money only
after "Rp"/"IDR" or a bound word: miliar in Indonesian text, million in English text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.query.language import language_of_tokens
from core.query.model import Language
from core.query.text import Token, normalize, tokenize
from core.query.vocabulary import (
    AROUND_PHRASES,
    LOWER_BOUND_PHRASES,
    LOWER_SUFFIX_PHRASES,
    PRICE_FILLER,
    RANGE_START_WORDS,
    UPPER_BOUND_PHRASES,
    UPPER_SUFFIX_PHRASES,
)

AROUND_TOLERANCE = Decimal("0.2")
""""sekitar 10 juta" / "around 10 million" -> 8,000,000 .. 12,000,000 (plus or minus 20%)."""

MAX_BARE_AMOUNT = 100_000_000_000
"""Bare digit strings above Rp 100 miliar are ids or phone numbers, not budgets."""

_NUM = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?(?!\d)|\d+(?:[.,]\d+)?"
_MONEY = re.compile(rf"(?:\b(?P<cur>rp|idr)\.?[ \t]*|(?<![\w.,]))(?P<num>{_NUM})")
_UNIT = re.compile(
    r"[ \t]*(?P<unit>juta(?:[- \t]?an)?|jt(?:[- \t]?an)?|jta|jeti|ribu(?:[- \t]?an)?|rb(?:[- \t]?an)?|rebu|k|"
    r"miliar|milyar|"
    r"million|millions|mio|mln|billion|bn|thousand|m)(?![a-z])"
)
_DASH_TAIL = re.compile(r",-|,00(?!\d)|\.-")
_CONNECTOR = r"(?:-+|~|s/d|s\.d\.?|sd|sampai(?:[ \t]+dengan)?|sampe|hingga|to|until|till|(?P<and>dan|and))"
_BETWEEN = re.compile(rf"^[ \t]*{_CONNECTOR}[ \t]*$")
_LEFT_OF_RANGE = re.compile(rf"(?<![\w.,])(?P<num>{_NUM})[ \t]*{_CONNECTOR}[ \t]*(?:(?:rp|idr)\.?[ \t]*)?$")

_UNITS: dict[str, int] = {
    **dict.fromkeys(("juta", "jutaan", "jt", "jtan", "jta", "jeti", "million", "millions", "mio", "mln"), 10**6),
    **dict.fromkeys(("ribu", "ribuan", "rb", "rban", "rebu", "k", "thousand"), 10**3),
    **dict.fromkeys(("miliar", "milyar", "billion", "bn"), 10**9),
}
_APPROXIMATE_UNITS = frozenset({"jutaan", "jtan", "ribuan", "rban"})  # "5 jutaan", "5jt-an": 5-point-something


@dataclass(frozen=True, slots=True)
class PriceMention:
    """One price found in the text, with its character span."""

    start: int
    end: int
    amount: int
    unit: int | None  # 1_000_000 for "12 juta", None for "Rp 12.000.000"
    approximate: bool = False  # "5 jutaan"
    needs_context: bool = False  # only a price after a bound word or Rp


@dataclass(frozen=True, slots=True)
class PriceConstraints:
    """The price part of a query: bounds, the text spans used, the tokens consumed as bound words."""

    min_price: int | None = None
    max_price: int | None = None
    spans: tuple[tuple[int, int], ...] = ()
    consumed: frozenset[int] = frozenset()  # indices into the token list passed in


def format_rupiah(amount: int) -> str:
    """11999000 -> "Rp 11.999.000" (Indonesian thousands separator)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp {abs(int(amount)):,}".replace(",", ".")


def parse_price(text: str) -> int | None:
    """The first price in ``text`` in integer rupiah, or None. "Rp 12.000.000" -> 12000000,
    "1,5 juta" -> 1500000, "500k" -> 500000, "RAM 16GB" -> None, "5000" -> None, "max 5000" -> 5000."""
    normalized = normalize(text)
    tokens = tokenize(normalized)
    for mention in find_mentions(normalized, language_of_tokens([t.text for t in tokens])):
        if not mention.needs_context:
            return mention.amount
        kind, _ = _bound_before(tokens, _first_token_at_or_after(tokens, mention.start))
        if kind is not None:
            return mention.amount
    return None


def _decimal(number: str) -> Decimal | None:
    """ "12.000.000" -> 12000000, "1,5" -> 1.5, "5,000,000" -> 5000000, "1.500" -> 1500."""
    dot, comma = number.rfind("."), number.rfind(",")
    if dot >= 0 and comma >= 0:
        decimal_sep = "." if dot > comma else ","
        whole, _, fraction = number.rpartition(decimal_sep)
        whole = whole.replace(".", "").replace(",", "")
    elif dot >= 0 or comma >= 0:
        sep = "." if dot >= 0 else ","
        parts = number.split(sep)
        if len(parts) > 2 or len(parts[-1]) == 3:
            whole, fraction = "".join(parts), ""
        else:
            whole, fraction = parts
    else:
        whole, fraction = number, ""
    try:
        return Decimal(f"{whole}.{fraction}" if fraction else whole)
    except InvalidOperation:
        return None


def find_mentions(text: str, language: Language) -> list[PriceMention]:
    """Every price-like number in normalised ``text``; ``needs_context`` marks those that are prices only
    after a bound word ("max 5000", "budget 2m")."""
    mentions: list[PriceMention] = []
    for match in _MONEY.finditer(text):
        number = match.group("num")
        value = _decimal(number)
        if value is None:
            continue
        end = match.end()
        has_currency = match.group("cur") is not None
        unit_match = _UNIT.match(text, end)
        unit_word = re.sub(r"[- \t]", "", unit_match.group("unit")) if unit_match else None
        needs_context = False
        unit: int | None = None
        if unit_word is not None:
            if unit_word == "m":
                unit = 10**9 if language == "id" else 10**6
                needs_context = not has_currency
            else:
                unit = _UNITS[unit_word]
                # "4k monitor" is a resolution; "500k" is money.
                needs_context = unit_word == "k" and value < 10 and not has_currency
            assert unit_match is not None
            end = unit_match.end()
        else:
            following = text[end : end + 1]
            if following.isalpha() or following in {"%", '"', "'", "x", "/"}:
                continue  # 16gb, 144hz, 50%, 27"
            grouped = number.count(".") + number.count(",") > 0 and _decimal(number) == value
            if not has_currency:
                if number.startswith("0") or value > MAX_BARE_AMOUNT:
                    continue
                big = value >= 100_000 if grouped else len(number) >= 6
                if not big:
                    if value < 1000 or value != value.to_integral_value():
                        continue
                    needs_context = True
        tail = _DASH_TAIL.match(text, end)
        if tail:
            end = tail.end()
        amount = int((value * (unit or 1)).to_integral_value())
        if amount <= 0:
            continue
        mentions.append(
            PriceMention(
                start=match.start(),
                end=end,
                amount=amount,
                unit=unit,
                approximate=unit_word in _APPROXIMATE_UNITS,
                needs_context=needs_context,
            )
        )
    return mentions


_ALL_BEFORE: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    sorted(
        [(p, "max") for p in UPPER_BOUND_PHRASES]
        + [(p, "min") for p in LOWER_BOUND_PHRASES]
        + [(p, "around") for p in AROUND_PHRASES],
        key=lambda item: -len(item[0]),
    )
)
_ALL_AFTER: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    sorted(
        [(p, "max") for p in UPPER_SUFFIX_PHRASES] + [(p, "min") for p in LOWER_SUFFIX_PHRASES],
        key=lambda item: -len(item[0]),
    )
)
_LOOKBACK = 4


def _bound_before(tokens: list[Token], stop: int, floor: int = 0) -> tuple[str | None, list[int]]:
    """The bound word just before token index ``stop`` (skipping filler such as "harga", "saya"):
    ("max" | "min" | "around" | None, indices of the tokens it used)."""
    picked: list[int] = []
    index = stop - 1
    while index >= floor and len(picked) < _LOOKBACK:
        if tokens[index].text not in PRICE_FILLER:
            picked.append(index)
        index -= 1
    picked.reverse()
    words = [tokens[i].text for i in picked]
    for phrase, kind in _ALL_BEFORE:
        if len(phrase) <= len(words) and tuple(words[-len(phrase) :]) == phrase:
            return kind, picked[-len(phrase) :]
    return None, []


def _bound_after(tokens: list[Token], start: int, ceiling: int) -> tuple[str | None, list[int]]:
    words = [tokens[i].text for i in range(start, min(ceiling, start + 3))]
    for phrase, kind in _ALL_AFTER:
        if tuple(words[: len(phrase)]) == phrase:
            return kind, list(range(start, start + len(phrase)))
    return None, []


def _first_token_at_or_after(tokens: list[Token], position: int) -> int:
    for index, token in enumerate(tokens):
        if token.start >= position:
            return index
    return len(tokens)


def _with_range_partners(text: str, mentions: list[PriceMention]) -> list[PriceMention]:
    """Add the unit-less left side of "10-15 juta", "antara 5 dan 8 jt", "from 10 to 15 million"."""
    out: list[PriceMention] = []
    previous_end = 0
    for mention in mentions:
        if mention.unit is not None:
            window_start = max(previous_end, mention.start - 40)
            window = text[window_start : mention.start]
            left = _LEFT_OF_RANGE.search(window)
            if left is not None:
                value = _decimal(left.group("num"))
                needs_start_word = left.group("and") is not None
                starts_ok = not needs_start_word or _range_word_before(text, window_start + left.start())
                if value is not None and starts_ok:
                    amount = int((value * mention.unit).to_integral_value())
                    if 0 < amount < mention.amount:
                        start = window_start + left.start("num")
                        out.append(PriceMention(start, window_start + left.end("num"), amount, mention.unit))
        out.append(mention)
        previous_end = mention.end
    return out


def _bound_symbol(text: str, mention: PriceMention, previous_end: int) -> str | None:
    """ "<5jt", "≤ 5 juta" -> max; ">10jt", "15jt+" -> min."""
    before = text[previous_end : mention.start].rstrip()
    if before.endswith(("<", "≤", "<=")):
        return "max"
    if before.endswith((">", "≥", ">=")):
        return "min"
    if text[mention.end : mention.end + 2].lstrip().startswith("+"):
        return "min"
    return None


def _range_word_before(text: str, position: int) -> bool:
    words = [t.text for t in tokenize(text[max(0, position - 30) : position])]
    words = [w for w in words if w not in PRICE_FILLER]
    return bool(words) and words[-1] in RANGE_START_WORDS


def extract_prices(text: str, tokens: list[Token], language: Language) -> PriceConstraints:
    """Price bounds in normalised ``text`` (``tokens`` = ``tokenize(text)``).

    Rules: an explicit range ("antara 5 dan 8 juta", "10-15jt") sets both bounds; a bound word before or
    after a price sets one bound; "sekitar"/"around"/"kisaran" gives +-``AROUND_TOLERANCE``; "5 jutaan" is
    5 to 6 juta; a bare price ("laptop 12 juta") is an upper bound. Several explicit upper bounds: the
    lowest wins; several bare prices: the highest wins (an explicit bound beats a bare price). If the
    bounds cross they are swapped."""
    mentions = _with_range_partners(text, find_mentions(text, language))
    highs: list[int] = []
    lows: list[int] = []
    bare: list[int] = []
    spans: list[tuple[int, int]] = []
    consumed: set[int] = set()

    index = 0
    previous_end = 0
    while index < len(mentions):
        mention = mentions[index]
        first_token = _first_token_at_or_after(tokens, mention.start)
        floor = _first_token_at_or_after(tokens, previous_end)
        after_token = _first_token_at_or_after(tokens, mention.end)
        following = mentions[index + 1] if index + 1 < len(mentions) else None
        if following is not None and not mention.needs_context:
            between = _BETWEEN.match(text[mention.end : following.start])
            joined = between is not None and (between.group("and") is None or _range_word_before(text, mention.start))
            if joined and following.amount != mention.amount:
                low, high = sorted((mention.amount, following.amount))
                lows.append(low)
                highs.append(high)
                spans += [(mention.start, mention.end), (following.start, following.end)]
                _, used = _bound_before(tokens, first_token, floor)
                consumed.update(used)
                consumed.update(range(first_token, _first_token_at_or_after(tokens, following.end)))
                previous_end = following.end
                index += 2
                continue
        ceiling = _first_token_at_or_after(tokens, following.start) if following else len(tokens)
        kind, used = _bound_before(tokens, first_token, floor)
        if kind is None:
            kind, used = _bound_after(tokens, after_token, ceiling)
        if kind is None:
            kind = _bound_symbol(text, mention, previous_end)
        index += 1
        previous_end = mention.end
        if mention.needs_context and kind is None:
            continue
        spans.append((mention.start, mention.end))
        consumed.update(used)
        consumed.update(range(first_token, after_token))
        if mention.approximate and mention.unit == 10**6:
            lows.append(mention.amount)  # "5 jutaan": 5 juta up to the next million
            highs.append((mention.amount // mention.unit + 1) * mention.unit)
        elif kind == "around" or mention.approximate:
            lows.append(int(mention.amount * (1 - AROUND_TOLERANCE)))
            highs.append(int(mention.amount * (1 + AROUND_TOLERANCE)))
        elif kind == "max":
            highs.append(mention.amount)
        elif kind == "min":
            lows.append(mention.amount)
        else:
            bare.append(mention.amount)

    max_price = min(highs) if highs else (max(bare) if bare else None)
    min_price = max(lows) if lows else None
    if min_price is not None and max_price is not None and min_price > max_price:
        min_price, max_price = max_price, min_price
    return PriceConstraints(min_price, max_price, tuple(spans), frozenset(consumed))
