"""OpenAI-compatible inference API (/v1)."""

from __future__ import annotations

from typing import Any

OPENAI_ROUTES: list[Any] = []
