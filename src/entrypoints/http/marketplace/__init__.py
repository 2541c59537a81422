"""Marketplace REST API: suppliers, products, users."""

from __future__ import annotations

from typing import Any

from entrypoints.http.marketplace.controllers import ProductController, SupplierController, UserController

MARKETPLACE_ROUTES: list[Any] = [SupplierController, ProductController, UserController]
