"""logprobs, top_logprobs and logit_bias with the official ``openai`` client against the real model."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from entrypoints.bootstrap.container import build_container
from entrypoints.http.app import create_app
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider, make_settings

pytestmark = pytest.mark.model
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
QUESTION = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture
def client(real_model, tmp_path: Path) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    with live_server(create_app(settings, build_container(settings, FakeModelProvider(real_model)))) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", timeout=120)


def assert_greedy_consistent(entries, text: str) -> None:  # type: ignore[no-untyped-def]
    """Each greedy token is the top-1 of its own report, the alternatives are sorted and form part of a
    distribution, and the tokens' bytes spell the text."""
    assert entries
    for entry in entries:
        assert len(entry.top_logprobs) == 5
        best = entry.top_logprobs[0]
        assert (best.token, best.bytes) == (entry.token, entry.bytes)
        assert math.isclose(best.logprob, entry.logprob, abs_tol=1e-6)
        values = [top.logprob for top in entry.top_logprobs]
        assert values == sorted(values, reverse=True) and values[0] <= 0.0
        assert sum(math.exp(v) for v in values) <= 1.0 + 1e-4
    assert b"".join(bytes(entry.bytes) for entry in entries).decode() == text


def test_greedy_logprobs_plain_and_streamed_agree_and_match_the_choices(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=10, temperature=0, logprobs=True, top_logprobs=5
    )
    choice = plain.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    assert_greedy_consistent(choice.logprobs.content, choice.message.content or "")
    stream = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=10, temperature=0, logprobs=True, top_logprobs=5, stream=True
    )
    streamed, text = [], []
    for chunk in stream:
        for delta_choice in chunk.choices:
            text.append(delta_choice.delta.content or "")
            if delta_choice.logprobs is not None and delta_choice.logprobs.content:
                streamed.extend(delta_choice.logprobs.content)
    assert "".join(text) == choice.message.content
    assert [e.token for e in streamed] == [e.token for e in choice.logprobs.content]
    for a, b in zip(streamed, choice.logprobs.content, strict=True):
        assert math.isclose(a.logprob, b.logprob, abs_tol=1e-3)


def test_sampled_tokens_report_their_own_logprob(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=12, temperature=1.0, seed=5, logprobs=True, top_logprobs=3
    )
    entries = completion.choices[0].logprobs.content  # type: ignore[union-attr]
    assert entries and all(e.logprob <= 0.0 and len(e.top_logprobs) == 3 for e in entries)
    for entry in entries:  # a token in its own top 3 has the same value there
        same = [t.logprob for t in entry.top_logprobs if t.token == entry.token]
        assert all(math.isclose(v, entry.logprob, abs_tol=1e-6) for v in same)


def test_a_bias_of_minus_100_bans_the_token_greedy_decoding_picks(client: openai.OpenAI, real_model) -> None:  # type: ignore[no-untyped-def]
    first = client.chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=1, temperature=0, logprobs=True, top_logprobs=2
    )
    token = first.choices[0].logprobs.content[0]  # type: ignore[index,union-attr]
    _, tokenizer = real_model.loaded_model()
    [token_id] = tokenizer.encode(bytes(token.bytes).decode(), add_special_tokens=False)
    banned = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_tokens=6,
        temperature=0,
        logprobs=True,
        top_logprobs=5,
        logit_bias={str(token_id): -100},
    )
    entries = banned.choices[0].logprobs.content  # type: ignore[union-attr]
    assert entries[0].token == token.top_logprobs[1].token, "the runner-up takes the banned token's place"
    assert all(e.token != token.token for e in entries)
    assert all(t.token != token.token for e in entries for t in e.top_logprobs)
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=1, logit_bias={"999999": 5})
    assert "logit_bias" in str(error.value)
