"""Real-model fixtures for the engine tests.

The model itself is the session-scoped ``real_model`` fixture of ``tests/integration/conftest.py``: the
embedded SmolLM2-135M-Instruct, converted once into ``<repo>/.model-cache`` (git-ignored) and loaded ONCE
per test session (about 2 s after the first conversion), shared by every test that asks for it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from core.domain.generation import (
    ChatMessage,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    SamplingParams,
    TokenGenerated,
)


def chat(prompt: str, *, max_tokens: int = 8, **sampling: object) -> GenerationRequest:
    return GenerationRequest((ChatMessage("user", prompt),), SamplingParams(max_tokens=max_tokens, **sampling))  # type: ignore[arg-type]


async def run(model, request: GenerationRequest) -> list[GenerationEvent]:  # type: ignore[no-untyped-def]
    return [event async for event in model.generate(request)]


def text_of(events: list[GenerationEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TokenGenerated))


def finish_of(events: list[GenerationEvent]) -> GenerationFinished:
    last = events[-1]
    assert isinstance(last, GenerationFinished)
    return last


async def wait_until_idle(model, limit_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Until the engine runs nothing and queues nothing."""
    deadline = time.monotonic() + limit_s
    while model.load_stats() != (0, 0):
        assert time.monotonic() < deadline, f"engine still busy: {model.load_stats()}"
        await asyncio.sleep(0.01)


@pytest.fixture
def model(real_model):  # type: ignore[no-untyped-def]
    """The shared real model, checked to be ready."""
    assert real_model.info().ready, real_model.info().error
    return real_model
