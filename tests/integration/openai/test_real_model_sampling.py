"""logprobs, top_logprobs, logit_bias and legacy /v1/completions with the official ``openai`` client
against the real model."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from entrypoints.bootstrap.container import build_container
from entrypoints.http.app import create_app
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider, make_settings
from tests.integration.sse_client import sse_events

pytestmark = pytest.mark.model
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
QUESTION = [{"role": "user", "content": "Name three colours."}]
PROMPT = "The three primary colours are"


@pytest.fixture
def client(real_model, tmp_path: Path) -> Iterator[openai.OpenAI]:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    with live_server(create_app(settings, build_container(settings, FakeModelProvider(real_model)))) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", timeout=120)


@pytest.fixture
def server(client: openai.OpenAI) -> str:
    return str(client.base_url).removesuffix("/").removesuffix("/v1")


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


def test_legacy_completion_plain_streamed_echo_stop_and_logprobs(client: openai.OpenAI) -> None:
    plain = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=8, temperature=0, logprobs=3)
    choice = plain.choices[0]
    assert plain.object == "text_completion" and choice.text.strip()
    assert plain.usage is not None and plain.usage.completion_tokens == 8 and choice.finish_reason == "length"
    logprobs = choice.logprobs
    assert logprobs is not None and len(logprobs.tokens) == 8
    for token, value, top in zip(logprobs.tokens, logprobs.token_logprobs, logprobs.top_logprobs, strict=True):
        assert max(top, key=top.get) == token and math.isclose(top[token], value, abs_tol=1e-6)  # greedy: top-1
    assert logprobs.text_offset == sorted(logprobs.text_offset) and logprobs.text_offset[0] == 0
    streamed = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=8, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == choice.text
    echoed = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=8, temperature=0, echo=True)
    assert echoed.choices[0].text == PROMPT + choice.text
    stop = choice.text.strip().split()[1]
    stopped = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=8, temperature=0, stop=[stop])
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].text == choice.text[: choice.text.index(stop)]
    several = client.completions.create(model=MODEL, prompt=[PROMPT, "Jakarta is"], max_tokens=4, temperature=0, n=2)
    assert [c.index for c in several.choices] == [0, 1, 2, 3]
    assert several.choices[0].text == several.choices[1].text == choice.text[: len(several.choices[0].text)]


async def test_a_cut_legacy_stream_resumes_where_it_stopped(server: str) -> None:
    body = {
        "prompt": PROMPT,
        "max_tokens": 24,
        "temperature": 0.8,
        "seed": 4,
        "stream": True,
        "session_id": "legacy-real",
    }
    async with httpx.AsyncClient(base_url=server, timeout=120) as http:
        cut = []
        async with http.stream("POST", "/v1/completions", json=body) as response:
            async for event in sse_events(response):
                cut.append(event)
                if len(cut) == 5:
                    break
        async with http.stream("POST", "/v1/completions", json=body, headers={"Last-Event-ID": cut[-1][0]}) as response:
            rest = [e async for e in sse_events(response)]
        whole = (await http.post("/v1/completions", json=body | {"stream": False, "session_id": None})).json()

    def text(events: list) -> str:  # type: ignore[type-arg]
        return "".join(c["text"] for _, d in events if d != "[DONE]" for c in json.loads(d)["choices"])

    assert rest[-1][1] == "[DONE]"
    assert text(cut + rest) == whole["choices"][0]["text"], "same seed: the resumed stream equals a fresh answer"
