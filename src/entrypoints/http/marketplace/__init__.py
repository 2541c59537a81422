"""Marketplace REST API: suppliers, products, users."""

from __future__ import annotations

from typing import Any

MARKETPLACE_ROUTES: list[Any] = []
