"""OpenAI-compatible inference API (/v1)."""

from __future__ import annotations

from typing import Any

from entrypoints.http.openai.controller import OpenAIController

OPENAI_ROUTES: list[Any] = [OpenAIController]
