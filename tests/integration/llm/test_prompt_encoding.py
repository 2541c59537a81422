"""A request's chat template and tokenization run once (count and every choice share them), off the loop."""

from __future__ import annotations

import threading
import uuid

import pytest

from core.domain.generation import ChatMessage
from core.use_cases.complete_chat import ChatCommand, CompleteChat, CompletionDefaults

pytestmark = pytest.mark.model


async def test_n_choices_render_and_tokenize_the_prompt_once_off_the_event_loop(model, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, tokenizer = model.loaded_model()
    calls: list[threading.Thread] = []
    render = tokenizer.apply_chat_template

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(threading.current_thread())
        return render(*args, **kwargs)

    monkeypatch.setattr(tokenizer, "apply_chat_template", spy)
    chat = CompleteChat(model, CompletionDefaults(max_tokens=4, temperature=0.0))
    prompt = (ChatMessage("user", f"Say hello ({uuid.uuid4().hex})"),)  # not encoded before
    result = await chat.complete(await chat.prepare(ChatCommand(prompt, max_tokens=3, n=3)))
    assert len(result.choices) == 3
    assert len(calls) == 1
    assert calls[0] is not threading.current_thread()  # the event loop's thread never tokenizes
