from __future__ import annotations

import asyncio

import pytest

from core.domain.errors import InvalidInput, NotFound, Overloaded
from core.domain.generation import ChatMessage
from core.use_cases.complete_chat import (
    ChatCommand,
    ChoiceFinished,
    CompleteChat,
    CompletionDefaults,
    TextDelta,
)
from tests.fakes.language_model import FakeLanguageModel

HELLO = (ChatMessage("user", "hello"),)


def make(model: FakeLanguageModel, **defaults: object) -> CompleteChat:
    values = {"max_tokens": 64, "temperature": 0.7, "model_aliases": ("alias",)} | defaults
    return CompleteChat(model, CompletionDefaults(**values))  # type: ignore[arg-type]


async def test_complete_returns_text_usage_and_stop_reason() -> None:
    chat = make(FakeLanguageModel("one two three"))
    result = await chat.complete(await chat.prepare(ChatCommand(HELLO)))
    assert [c.text for c in result.choices] == ["one two three"]
    assert result.choices[0].finish_reason == "stop"
    assert result.completion_tokens == 3
    assert result.prompt_tokens == await FakeLanguageModel().count_prompt_tokens(HELLO)


async def test_max_tokens_gives_length_finish() -> None:
    chat = make(FakeLanguageModel("a b c d e"))
    result = await chat.complete(await chat.prepare(ChatCommand(HELLO, max_tokens=2)))
    assert result.choices[0].text == "a b"
    assert result.choices[0].finish_reason == "length"


async def test_stop_string_cuts_output_and_closes_generation() -> None:
    model = FakeLanguageModel("alpha beta STOP gamma delta")
    chat = make(model)
    result = await chat.complete(await chat.prepare(ChatCommand(HELLO, stop=("STOP",))))
    assert result.choices[0].text == "alpha beta "
    assert result.choices[0].finish_reason == "stop"
    assert model.cancelled == 1, "the generation must be closed once a stop string is seen"


async def test_n_choices_get_distinct_derived_seeds() -> None:
    model = FakeLanguageModel(lambda r: f"seed {r.sampling.seed}")
    chat = make(model)
    result = await chat.complete(await chat.prepare(ChatCommand(HELLO, n=3, seed=10)))
    assert sorted(c.text for c in result.choices) == ["seed 10", "seed 11", "seed 12"]
    assert [c.index for c in result.choices] == [0, 1, 2]


async def test_request_settings_are_passed_to_the_model() -> None:
    model = FakeLanguageModel("x")
    chat = make(model)
    await chat.complete(
        await chat.prepare(
            ChatCommand(
                HELLO,
                temperature=0.0,
                top_p=0.5,
                top_k=7,
                presence_penalty=1.5,
                frequency_penalty=-1.0,
                max_tokens=9,
            )
        )
    )
    sampling = model.requests[0].sampling
    assert (sampling.temperature, sampling.top_p, sampling.top_k) == (0.0, 0.5, 7)
    assert (sampling.presence_penalty, sampling.frequency_penalty, sampling.max_tokens) == (1.5, -1.0, 9)


async def test_defaults_fill_missing_temperature_and_max_tokens() -> None:
    model = FakeLanguageModel("x")
    chat = make(model, max_tokens=33, temperature=0.25)
    await chat.complete(await chat.prepare(ChatCommand(HELLO)))
    assert model.requests[0].sampling.max_tokens == 33
    assert model.requests[0].sampling.temperature == 0.25


async def test_default_max_tokens_shrinks_to_the_room_left_in_context() -> None:
    model = FakeLanguageModel("x", context_length=20)
    chat = make(model, max_tokens=500)
    prepared = await chat.prepare(ChatCommand(HELLO))
    assert prepared.sampling.max_tokens == 20 - prepared.prompt_tokens


async def test_prompt_plus_max_tokens_over_context_is_refused_with_both_numbers() -> None:
    chat = make(FakeLanguageModel("x", context_length=30))
    with pytest.raises(InvalidInput) as error:
        await chat.prepare(ChatCommand(HELLO, max_tokens=100))
    prompt = await FakeLanguageModel().count_prompt_tokens(HELLO)
    assert str(prompt) in error.value.message and "100" in error.value.message and "30" in error.value.message


async def test_unknown_model_names_the_served_ids() -> None:
    chat = make(FakeLanguageModel("x", model_id="org/served"))
    with pytest.raises(NotFound) as error:
        await chat.prepare(ChatCommand(HELLO, model="gpt-4"))
    assert "org/served" in error.value.message and "alias" in error.value.message
    await chat.prepare(ChatCommand(HELLO, model="alias"))  # aliases are served too


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"messages": ()}, "messages"),
        ({"n": 5}, "n"),
        ({"n": 0}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_k": -2}, "top_k"),
        ({"presence_penalty": 3.0}, "presence_penalty"),
        ({"frequency_penalty": -2.1}, "frequency_penalty"),
        ({"stop": ("a", "b", "c", "d", "e")}, "stop"),
        ({"stop": ("",)}, "stop"),
        ({"min_p": 1.5}, "min_p"),
        ({"min_p": -0.1}, "min_p"),
        ({"repetition_penalty": 0.0}, "repetition_penalty"),
        ({"repetition_penalty": 2.5}, "repetition_penalty"),
        ({"logprobs": 21}, "top_logprobs"),
        ({"logprobs": -1}, "top_logprobs"),
        ({"logit_bias": ((5, 100.5),)}, "logit_bias"),
        ({"logit_bias": ((5, -101.0),)}, "logit_bias"),
        ({"logit_bias": ((-1, 1.0),)}, "logit_bias"),
        ({"logit_bias": ((1000, 1.0),)}, "logit_bias"),  # beyond the fake's vocabulary of 1000
    ],
)
async def test_out_of_range_values_name_the_field(changes: dict[str, object], field: str) -> None:
    chat = make(FakeLanguageModel("x", vocab_size=1000))
    command = ChatCommand(**({"messages": HELLO} | changes))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as error:
        await chat.prepare(command)
    assert error.value.field == field


async def test_closing_the_stream_cancels_every_choice() -> None:
    model = FakeLanguageModel("w " * 50, step_delay=0.01)
    chat = make(model)
    events = await chat.stream(await chat.prepare(ChatCommand(HELLO, n=2)))
    seen = []
    async for event in events:
        seen.append(event)
        if len(seen) == 3:
            break
    await events.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    assert model.cancelled == 2
    assert all(isinstance(e, TextDelta) for e in seen)


async def test_stream_ends_each_choice_with_one_finish_event() -> None:
    chat = make(FakeLanguageModel("a b"))
    events = [e async for e in await chat.stream(await chat.prepare(ChatCommand(HELLO, n=2)))]
    finishes = [e for e in events if isinstance(e, ChoiceFinished)]
    assert sorted(f.index for f in finishes) == [0, 1]
    assert all(f.completion_tokens == 2 for f in finishes)


async def test_model_failure_before_first_event_raises_from_stream() -> None:
    chat = make(FakeLanguageModel("x", fail_with=InvalidInput("too long", field="messages")))
    prepared = await chat.prepare(ChatCommand(HELLO))
    with pytest.raises(InvalidInput):
        await chat.stream(prepared)


async def test_n_beyond_the_batch_size_is_refused_naming_n() -> None:
    model = FakeLanguageModel("x")
    chat = make(model, max_batch_size=2)
    with pytest.raises(InvalidInput, match="MAX_BATCH_SIZE") as refused:
        await chat.prepare(ChatCommand(HELLO, n=3))
    assert refused.value.field == "n" and model.requests == []
    assert len((await chat.complete(await chat.prepare(ChatCommand(HELLO, n=2)))).choices) == 2


async def test_choices_refused_at_admission_give_back_every_row_already_taken() -> None:
    model = FakeLanguageModel("x", capacity=2)
    chat = make(model)
    prepared = await chat.prepare(ChatCommand(HELLO, n=3))
    with pytest.raises(Overloaded):
        await chat.stream(prepared)
    assert model.active == 0 and len(model.requests) == 2


async def test_usage_takes_the_prompt_count_the_engine_reports() -> None:
    model = FakeLanguageModel("one two", reported_prompt_tokens=41)
    chat = make(model)
    prepared = await chat.prepare(ChatCommand(HELLO, n=2))
    assert prepared.prompt_tokens != 41
    result = await chat.complete(prepared)
    assert result.prompt_tokens == 41


async def test_sampling_extensions_reach_the_model() -> None:
    model = FakeLanguageModel("x")
    chat = make(model)
    command = ChatCommand(HELLO, min_p=0.1, repetition_penalty=1.2, logit_bias=((7, -100.0),), logprobs=2)
    await chat.complete(await chat.prepare(command))
    sampling = model.requests[0].sampling
    assert (sampling.min_p, sampling.repetition_penalty, sampling.logit_bias, sampling.logprobs) == (
        0.1,
        1.2,
        ((7, -100.0),),
        2,
    )


async def test_logprobs_come_with_every_token_of_each_choice() -> None:
    chat = make(FakeLanguageModel("one two three"))
    result = await chat.complete(await chat.prepare(ChatCommand(HELLO, logprobs=2, n=2, seed=1)))
    for choice in result.choices:
        assert choice.logprobs is not None
        assert [t.chosen.token for t in choice.logprobs] == ["one", " two", " three"]
        assert [len(t.top) for t in choice.logprobs] == [2, 2, 2]
    plain = await chat.complete(await chat.prepare(ChatCommand(HELLO)))
    assert plain.choices[0].logprobs is None


async def test_logprobs_of_tokens_cut_by_a_stop_string_are_still_reported() -> None:
    chat = make(FakeLanguageModel("one two END three"))
    result = await chat.complete(await chat.prepare(ChatCommand(HELLO, logprobs=0, stop=(" END",))))
    choice = result.choices[0]
    assert choice.text == "one two"
    assert choice.logprobs is not None and [t.chosen.token for t in choice.logprobs] == ["one", " two", " END"]


async def test_a_raw_prompt_skips_the_chat_template_and_names_prompt_in_errors() -> None:
    model = FakeLanguageModel(lambda request: f"echo {request.prompt_text}", context_length=16)
    chat = make(model)
    result = await chat.complete(await chat.prepare(ChatCommand((), prompt="once upon", max_tokens=4)))
    assert result.choices[0].text == "echo once upon"
    assert result.prompt_tokens == 2 and model.requests[0].messages == ()
    with pytest.raises(InvalidInput) as error:
        await chat.prepare(ChatCommand((), prompt="a b c", max_tokens=15))
    assert "prompt" in error.value.message


async def test_several_prompts_index_their_choices_prompt_by_prompt() -> None:
    chat = make(FakeLanguageModel(lambda request: f"re {request.prompt_text}"))
    prepared = [await chat.prepare(ChatCommand((), prompt=p, n=2, max_tokens=4)) for p in ("a", "b c")]
    result = await chat.complete_all(prepared)
    assert [(c.index, c.text) for c in result.choices] == [(0, "re a"), (1, "re a"), (2, "re b c"), (3, "re b c")]
    assert result.prompt_tokens == 1 + 2


async def test_tool_calls_come_out_of_the_text_and_finish_with_tool_calls() -> None:
    from core.domain.generation import OutputConstraint, ToolSpec
    from core.inference.tool_calls import format_call
    from core.use_cases.complete_chat import ToolCallDelta

    tool = ToolSpec("get_weather", '{"type":"object"}')
    model = FakeLanguageModel("Checking. " + format_call("get_weather", '{"city": "Paris"}'))
    chat = make(model)
    constraint = OutputConstraint("tool_calls", tools=(tool,), required=False)
    prepared = await chat.prepare(ChatCommand(HELLO, constraint=constraint, tools=(tool,)))
    result = await chat.complete(prepared)
    [choice] = result.choices
    assert choice.text == "Checking. "
    assert choice.finish_reason == "tool_calls"
    [call] = choice.tool_calls
    assert (call.name, call.arguments) == ("get_weather", '{"city": "Paris"}') and call.id.startswith("call_")
    [request] = model.requests
    assert request.constraint == constraint and request.tools == (tool,)  # the engine gets the grammar
    assert prepared.prompt_tokens == await model.count_prompt_tokens(HELLO, (tool,))  # tools count in the prompt
    events = [e async for e in await chat.stream(prepared)]
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].id and deltas[0].name == "get_weather" and deltas[0].arguments == ""
    assert "".join(d.arguments for d in deltas) == '{"city": "Paris"}'


async def test_json_constraint_reaches_the_engine_and_text_is_untouched() -> None:
    from core.domain.generation import OutputConstraint

    model = FakeLanguageModel('{"a": 1}')
    chat = make(model)
    constraint = OutputConstraint("json", json_schema='{"type":"object"}')
    result = await chat.complete(await chat.prepare(ChatCommand(HELLO, constraint=constraint)))
    assert result.choices[0].text == '{"a": 1}' and result.choices[0].finish_reason == "stop"
    assert model.requests[0].constraint == constraint


async def test_without_tools_a_call_shaped_text_stays_text() -> None:
    from core.inference.tool_calls import format_call

    text = format_call("f", "{}")
    chat = make(FakeLanguageModel(text))
    result = await chat.complete(await chat.prepare(ChatCommand(HELLO)))
    assert result.choices[0].text == text and result.choices[0].finish_reason == "stop"
