"""A /v1 stream cut by the death of its process and continued elsewhere reads as one stream."""

from __future__ import annotations

import asyncio
import json

from core.domain.generation import ChatMessage
from core.domain.streams import ANONYMOUS_OWNER, StreamClaim
from core.use_cases.complete_chat import ChatCommand, CompleteChat, CompletionDefaults, continued_seed
from entrypoints.http.openai.streaming import CompletionStreams, completion_producer, saved_request
from entrypoints.http.openai.translate import ChunkWriter
from tests.fakes.language_model import FakeLanguageModel

REPLY = "one two three four five six seven eight"
HELLO = (ChatMessage("user", "hello"),)


def chat(model: FakeLanguageModel) -> CompleteChat:
    return CompleteChat(model, CompletionDefaults(max_tokens=64, temperature=0.0))


async def first_part(command: ChatCommand, cut: int) -> tuple[list[str], str, list[str]]:
    """The chunks a process streamed before it died after ``cut`` events; its saved request; and the
    chunks of the same request run without a crash."""
    complete = chat(FakeLanguageModel(REPLY))
    prepared = await complete.prepare(command)
    writer = ChunkWriter("chatcmpl-x", prepared.model_id, include_usage=True)
    produce = completion_producer(await complete.stream(prepared), writer, prepared, True)
    chunks = [c async for c in produce(asyncio.Event())]
    return chunks[:cut], saved_request(prepared, writer, True), chunks


def text_of(chunks: list[str], index: int = 0) -> str:
    out = []
    for data in chunks:
        for choice in json.loads(data).get("choices", []):
            if choice["index"] == index:
                out.append(choice["delta"].get("content") or "")
    return "".join(out)


async def take_over(model: FakeLanguageModel, before: list[str], request: str) -> list[str]:
    claim = StreamClaim("v1/s", len(before), 1, {"kind": "chat.completion"}, request, ANONYMOUS_OWNER)
    producer = await CompletionStreams(chat(model)).take_over(claim, before)
    assert producer is not None
    return [c async for c in producer(asyncio.Event())]


async def test_the_continuation_goes_on_after_the_cut_with_the_same_id_and_usage_of_both_parts() -> None:
    command = ChatCommand(HELLO, max_tokens=20)
    before, request, whole = await first_part(command, cut=4)  # role + three words
    model = FakeLanguageModel(REPLY)
    after = await take_over(model, before, request)
    assert text_of(before) == "one two three"
    assert text_of(before + after) == text_of(whole) == REPLY
    assert model.requests[0].continuation == "one two three"
    assert {json.loads(c)["id"] for c in before + after} == {"chatcmpl-x"}
    assert json.loads(after[-2])["choices"][0]["finish_reason"] == "stop"
    assert json.loads(after[-1])["usage"] == json.loads(whole[-1])["usage"]  # both parts counted
    assert not any(json.loads(c)["choices"] and "role" in json.loads(c)["choices"][0]["delta"] for c in after)


async def test_max_tokens_counts_the_tokens_streamed_before_the_cut() -> None:
    before, request, _ = await first_part(ChatCommand(HELLO, max_tokens=5), cut=3)
    model = FakeLanguageModel(REPLY)
    after = await take_over(model, before, request)
    assert text_of(before + after) == "one two three four five"
    assert json.loads(after[-2])["choices"][0]["finish_reason"] == "length"
    assert json.loads(after[-1])["usage"]["completion_tokens"] == 5


async def test_a_seeded_request_continues_from_a_seed_derived_from_its_seed_and_position() -> None:
    before, request, _ = await first_part(ChatCommand(HELLO, max_tokens=20, seed=7), cut=3)
    model = FakeLanguageModel(REPLY)
    await take_over(model, before, request)
    assert model.requests[0].sampling.seed == continued_seed(7, 3) != 7
    again = FakeLanguageModel(REPLY)
    await take_over(again, before, request)
    assert again.requests[0].sampling.seed == model.requests[0].sampling.seed


async def test_a_cut_before_the_role_chunk_still_announces_the_role() -> None:
    before, request, _ = await first_part(ChatCommand(HELLO, max_tokens=20), cut=0)
    after = await take_over(FakeLanguageModel(REPLY), before, request)
    assert json.loads(after[0])["choices"][0]["delta"]["role"] == "assistant"
    assert text_of(after) == REPLY


async def test_only_the_open_choices_continue() -> None:
    command = ChatCommand(HELLO, max_tokens=20, n=2)
    _, request, whole = await first_part(command, cut=0)
    # Choice 0 finished before the cut, choice 1 had streamed two words.
    finished_0 = [c for c in whole if '"index":0' in c and not json.loads(c)["usage"]]
    open_1 = [c for c in whole if '"index":1' in c][:3]
    model = FakeLanguageModel(REPLY)
    after = await take_over(model, finished_0 + open_1, request)
    assert [r.choice_index for r in model.requests] == [1]
    assert text_of(finished_0 + open_1 + after, 1) == REPLY
    assert json.loads(after[-1])["usage"]["completion_tokens"] == json.loads(whole[-1])["usage"]["completion_tokens"]


async def test_a_takeover_keeps_the_sampling_extensions_and_the_logprobs() -> None:
    command = ChatCommand(
        HELLO, max_tokens=20, min_p=0.2, repetition_penalty=1.3, logit_bias=((3, -100.0), (9, 2.5)), logprobs=2
    )
    before, request, whole = await first_part(command, cut=3)
    model = FakeLanguageModel(REPLY)
    after = await take_over(model, before, request)
    sampling = model.requests[0].sampling
    assert (sampling.min_p, sampling.repetition_penalty, sampling.logit_bias, sampling.logprobs) == (
        0.2,
        1.3,
        ((3, -100.0), (9, 2.5)),
        2,
    )
    tokens = [
        entry["token"]
        for data in before + after
        for choice in json.loads(data).get("choices", [])
        if choice.get("logprobs")
        for entry in choice["logprobs"]["content"]
    ]
    assert "".join(tokens) == text_of(whole) == REPLY
