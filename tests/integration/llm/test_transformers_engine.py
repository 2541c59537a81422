"""The Transformers engine with the real embedded SmolLM2 model. Small max_tokens keep this fast."""

from __future__ import annotations

import asyncio

import pytest

from core.domain.errors import InvalidInput
from core.domain.generation import ChatMessage, GenerationFinished, PromptAccepted, TokenGenerated
from tests.integration.llm.conftest import chat, finish_of, run, text_of, wait_until_idle

pytestmark = pytest.mark.model


def test_info_names_the_embedded_model(model) -> None:  # type: ignore[no-untyped-def]
    info = model.info()
    assert info.model_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert info.ready and info.error is None and info.context_length == 2048


async def test_the_chat_template_survived_conversion(model) -> None:  # type: ignore[no-untyped-def]
    _, tokenizer = model.loaded_model()
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=False
    )
    assert "<|im_start|>user\nHi<|im_end|>" in rendered and rendered.endswith("<|im_start|>assistant\n")
    counted = await model.count_prompt_tokens((ChatMessage("user", "Hi"),))
    assert counted == len(tokenizer.encode(rendered, add_special_tokens=False))


async def test_greedy_is_deterministic_and_text_matches_the_full_decode(model) -> None:  # type: ignore[no-untyped-def]
    request = chat("Write one sentence about Jakarta.", max_tokens=8, temperature=0.0)
    first, second = await run(model, request), await run(model, request)
    assert text_of(first) == text_of(second) and text_of(first).strip()
    assert isinstance(first[0], PromptAccepted)
    assert first[0].prompt_tokens == await model.count_prompt_tokens(request.messages)
    _, tokenizer = model.loaded_model()
    ids = [e.token_id for e in first if isinstance(e, TokenGenerated)]
    assert text_of(first) == tokenizer.decode(ids, skip_special_tokens=True)


async def test_same_seed_same_text_and_different_seeds_differ(model) -> None:  # type: ignore[no-untyped-def]
    seeds = (7, 1, 2, 3)
    requests = [chat("Name a colour.", max_tokens=8, temperature=1.0, top_p=0.95, seed=seed) for seed in seeds]
    rounds = [
        [text_of(events) for events in await asyncio.gather(*(run(model, r) for r in requests))] for _ in range(2)
    ]
    assert rounds[0] == rounds[1], "each seed gives the same text run after run"
    assert len(set(rounds[0])) >= 2, "different seeds should usually give different text"


async def test_concurrent_requests_all_complete_with_correct_usage(model) -> None:  # type: ignore[no-untyped-def]
    prompts = ["What is 2+2?", "Name a fruit.", "Say hello.", "Count to three.", "Name a city.", "Hi!"]
    requests = [chat(p, max_tokens=6 + i, temperature=0.0) for i, p in enumerate(prompts)]
    results = await asyncio.gather(*(run(model, r) for r in requests))
    for request, events in zip(requests, results, strict=True):
        accepted, finished = events[0], finish_of(events)
        assert isinstance(accepted, PromptAccepted)
        assert accepted.prompt_tokens == await model.count_prompt_tokens(request.messages)
        shown = sum(isinstance(e, TokenGenerated) for e in events)
        assert finished.completion_tokens == shown + (1 if finished.reason == "stop" else 0)
        assert finished.completion_tokens <= request.sampling.max_tokens
        assert finished.reason == "stop" or shown == request.sampling.max_tokens
    await wait_until_idle(model)


async def test_length_versus_stop(model) -> None:  # type: ignore[no-untyped-def]
    cut = await run(model, chat("Tell me a long story about a cat.", max_tokens=3, temperature=0.0))
    assert finish_of(cut) == GenerationFinished(reason="length", completion_tokens=3)
    whole = await run(model, chat("What is 2+2? Answer with one number.", max_tokens=40, temperature=0.0))
    finished = finish_of(whole)
    assert finished.reason == "stop" and finished.completion_tokens < 40
    assert "4" in text_of(whole) and "<|im_end|>" not in text_of(whole)


async def test_a_prompt_too_long_for_the_context_is_refused_before_any_event(model) -> None:  # type: ignore[no-untyped-def]
    request = chat("hello " * 50, max_tokens=2040)
    prompt_tokens = await model.count_prompt_tokens(request.messages)
    stream = model.generate(request)
    with pytest.raises(InvalidInput) as error:
        await anext(stream)
    assert error.value.field == "messages"
    assert str(prompt_tokens) in error.value.message and "2048" in error.value.message


async def test_closing_a_stream_early_frees_its_slot(model) -> None:  # type: ignore[no-untyped-def]
    stream = model.generate(chat("Tell me a long story about a cat.", max_tokens=500, temperature=0.0))
    tokens = 0
    async for event in stream:
        tokens += isinstance(event, TokenGenerated)
        if tokens == 2:
            break
    assert model.load_stats()[0] == 1
    await stream.aclose()
    await wait_until_idle(model, limit_s=10.0)  # within a step or two; generous, as the machine may be busy
