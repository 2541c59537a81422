"""OpenAI-compatible inference API (/v1)."""

from __future__ import annotations

from typing import Any

from entrypoints.http.openai.completions import TextCompletionController
from entrypoints.http.openai.controller import OpenAIController, TokenizeController

OPENAI_ROUTES: list[Any] = [OpenAIController, TokenizeController, TextCompletionController]
