"""The metered language model reports each generation the way the API reports it."""

from __future__ import annotations

import contextlib
import itertools

import pytest

from core.domain.errors import Overloaded
from core.domain.generation import ChatMessage, GenerationRequest, SamplingParams
from core.inference.metered import MeteredLanguageModel
from core.use_cases.complete_chat import ChatCommand, CompleteChat, CompletionDefaults
from tests.fakes.language_model import FakeLanguageModel
from tests.fakes.metrics import FakeMetrics

MESSAGES = (ChatMessage("user", "hello there"),)


def ticking_clock(step: float = 0.5):  # type: ignore[no-untyped-def]
    counter = itertools.count()
    return lambda: next(counter) * step


def metered(model: FakeLanguageModel, metrics: FakeMetrics) -> MeteredLanguageModel:
    return MeteredLanguageModel(model, metrics, clock=ticking_clock())


async def test_a_whole_generation_reports_ttft_gaps_latency_and_the_usage_tokens() -> None:
    metrics = FakeMetrics()
    chat = CompleteChat(metered(FakeLanguageModel("one two three"), metrics), CompletionDefaults(16, 0.0))
    result = await chat.complete(await chat.prepare(ChatCommand(MESSAGES)))
    assert len(metrics.first_tokens) == 1 and metrics.first_tokens[0] > 0
    assert len(metrics.inter_tokens) == 2  # three tokens, two gaps
    assert len(metrics.finished) == 1
    assert metrics.prompt_tokens == result.prompt_tokens
    assert metrics.generated_tokens == result.completion_tokens == 3
    assert metrics.cancelled == 0 and metrics.rejections == []


async def test_choices_share_the_prompt_so_it_is_counted_once_like_usage() -> None:
    metrics = FakeMetrics()
    chat = CompleteChat(metered(FakeLanguageModel("a b c d"), metrics), CompletionDefaults(16, 0.0))
    result = await chat.complete(await chat.prepare(ChatCommand(MESSAGES, n=3)))
    assert metrics.prompt_tokens == result.prompt_tokens
    assert metrics.generated_tokens == result.completion_tokens == 12
    assert len(metrics.finished) == 3


async def test_the_prompt_count_a_remote_engine_reports_is_the_one_counted() -> None:
    metrics = FakeMetrics()
    model = FakeLanguageModel("a b", reported_prompt_tokens=41)
    chat = CompleteChat(metered(model, metrics), CompletionDefaults(16, 0.0))
    result = await chat.complete(await chat.prepare(ChatCommand(MESSAGES)))
    assert metrics.prompt_tokens == result.prompt_tokens == 41


async def test_a_stop_string_ends_normally_and_counts_what_usage_counts() -> None:
    metrics = FakeMetrics()
    chat = CompleteChat(metered(FakeLanguageModel("alpha beta STOP gamma delta"), metrics), CompletionDefaults(16, 0))
    result = await chat.complete(await chat.prepare(ChatCommand(MESSAGES, stop=("STOP",))))
    assert result.choices[0].finish_reason == "stop"
    assert metrics.generated_tokens == result.completion_tokens
    assert metrics.cancelled == 0 and len(metrics.finished) == 1


async def test_closing_a_generation_early_counts_a_cancellation() -> None:
    metrics = FakeMetrics()
    model = metered(FakeLanguageModel("w " * 30), metrics)
    request = GenerationRequest(MESSAGES, SamplingParams(max_tokens=20))
    async with contextlib.aclosing(model.generate(request)) as events:
        seen = 0
        async for _event in events:
            seen += 1
            if seen == 4:  # PromptAccepted and three tokens
                break
    assert metrics.cancelled == 1 and metrics.finished == []
    assert metrics.generated_tokens == 3


async def test_an_overloaded_engine_counts_a_rejection() -> None:
    metrics = FakeMetrics()
    model = metered(FakeLanguageModel(fail_with=Overloaded("queue full", retry_after_seconds=1)), metrics)
    with pytest.raises(Overloaded):
        async for _event in model.generate(GenerationRequest(MESSAGES, SamplingParams(max_tokens=4))):
            pass
    assert metrics.rejections == ["overloaded"]
    assert metrics.prompt_tokens == 0 and metrics.cancelled == 0
