"""Reading ``Authorization: Bearer <token>``."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _sep, token = connection.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
