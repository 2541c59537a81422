"""Input rules of the marketplace: text limits, email and phone shape, money and stock bounds.

The HTTP wire Structs reuse these limits so OpenAPI documents them and bad input fails early; the use
cases apply them again (and normalise: trim, lower-case emails and categories) because core trusts no
edge. Every failure is ``InvalidInput`` naming the field.
"""

from __future__ import annotations

import math
import re

from core.domain.errors import InvalidInput, NotFound
from core.domain.marketplace import GeoPoint

# Lengths match the database columns (src/adapters/db/tables.py).
MAX_NAME = 200
MAX_EMAIL = 254
MAX_PHONE = 40
MAX_ADDRESS = 500
MAX_CITY = 100
MAX_PROVINCE = 100
MAX_DESCRIPTION = 5000
MAX_CATEGORY = 60
MAX_TAGS = 500
MAX_SKU = 64
MAX_QUERY = 200

# Integer rupiah and units: far above any real listing, far below the 64/32-bit columns.
MAX_PRICE = 1_000_000_000_000
MAX_STOCK = 1_000_000_000
# Half the Earth's circumference: every point is within it.
MAX_RADIUS_KM = 20_038.0
# Ids are 64-bit signed integers in every database we run on.
MAX_ID = 2**63 - 1

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ()\-.]*$"
_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
# Control characters break databases (PostgreSQL rejects NUL) and have no place in names.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def required_text(value: str, field: str, max_length: int) -> str:
    """Trimmed, non-empty, single-line text of at most ``max_length`` characters."""
    cleaned = _checked(value, field, max_length, multiline=False)
    if not cleaned:
        raise InvalidInput(f"{field} must not be empty", field=field)
    return cleaned


def optional_text(value: str | None, field: str, max_length: int, *, multiline: bool = False) -> str | None:
    """Trimmed text, or ``None`` when absent or blank."""
    if value is None:
        return None
    return _checked(value, field, max_length, multiline=multiline) or None


def email(value: str) -> str:
    cleaned = required_text(value, "email", MAX_EMAIL).lower()
    if not _EMAIL.match(cleaned):
        raise InvalidInput(f"email is not a valid email address: {value!r}", field="email")
    return cleaned


def phone(value: str | None) -> str | None:
    cleaned = optional_text(value, "phone", MAX_PHONE)
    if cleaned is not None and not _PHONE.match(cleaned):
        raise InvalidInput("phone may hold only digits, spaces, '+', '-', '.', '(' and ')'", field="phone")
    return cleaned


def category(value: str, field: str = "category") -> str:
    """Categories are stored lower-case and trimmed."""
    return required_text(value, field, MAX_CATEGORY).lower()


def tags(value: str | None) -> str | None:
    """Comma-separated tags, each trimmed; blank tags dropped."""
    cleaned = optional_text(value, "tags", MAX_TAGS)
    if cleaned is None:
        return None
    return ",".join(tag.strip() for tag in cleaned.split(",") if tag.strip()) or None


def price(value: int, field: str = "price") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer number of rupiah", field=field)
    if value <= 0:
        raise InvalidInput(f"{field} must be greater than 0", field=field)
    if value > MAX_PRICE:
        raise InvalidInput(f"{field} must be at most {MAX_PRICE}", field=field)
    return value


def price_bound(value: int | None, field: str) -> int | None:
    """A filter bound: 0 allowed, absent allowed."""
    if value is None:
        return None
    if value < 0:
        raise InvalidInput(f"{field} must be >= 0", field=field)
    return min(value, MAX_PRICE + 1)


def stock(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("stock_quantity must be an integer", field="stock_quantity")
    if value < 0:
        raise InvalidInput("stock_quantity must not be negative", field="stock_quantity")
    if value > MAX_STOCK:
        raise InvalidInput(f"stock_quantity must be at most {MAX_STOCK}", field="stock_quantity")
    return value


def query_text(value: str | None, field: str, max_length: int) -> str | None:
    """A free-text query parameter: trimmed, ``None`` when blank, no control characters."""
    return optional_text(value, field, max_length)


def existing_id(value: int, what: str, field: str) -> int:
    """Ids outside the 64-bit range cannot exist; say 404 instead of letting the database overflow."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"{what} {value} does not exist", field=field)
    return value


def coordinate(value: float, field: str, limit: float) -> float:
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise InvalidInput(f"{field} must be within [-{limit:g}, {limit:g}], got {value}", field=field)
    return value


def location(
    latitude: float | None,
    longitude: float | None,
    *,
    required: bool,
    lat_field: str = "latitude",
    lon_field: str = "longitude",
) -> GeoPoint | None:
    """Both coordinates or (when not ``required``) neither; errors name the missing or bad one."""
    if latitude is None and longitude is None and not required:
        return None
    if latitude is None:
        raise InvalidInput(f"{lat_field} is required together with {lon_field}", field=lat_field)
    if longitude is None:
        raise InvalidInput(f"{lon_field} is required together with {lat_field}", field=lon_field)
    return GeoPoint(coordinate(latitude, lat_field, 90.0), coordinate(longitude, lon_field, 180.0))


def _checked(value: str, field: str, max_length: int, *, multiline: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    cleaned = value.strip()
    if len(cleaned) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field=field)
    pattern = _CONTROL_EXCEPT_LINES if multiline else _CONTROL
    if pattern.search(cleaned):
        raise InvalidInput(f"{field} must not contain control characters", field=field)
    try:
        cleaned.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        raise InvalidInput(f"{field} is not valid Unicode text", field=field) from None
    return cleaned
