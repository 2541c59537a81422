"""API keys: random bearer tokens stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SUPPLIER_KEY_PREFIX = "sk_sup_"
USER_KEY_PREFIX = "sk_usr_"


def new_api_key(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
