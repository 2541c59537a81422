"""LangChain's ``ChatOpenAI`` drives the service with the real model: invoke and stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from entrypoints.bootstrap.container import build_container
from entrypoints.http.app import create_app
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider, make_settings

pytestmark = pytest.mark.model
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
MESSAGES = [SystemMessage("You are a helpful shop assistant."), HumanMessage("Name three colours.")]


@pytest.fixture
def chat(real_model, tmp_path: Path) -> Iterator[ChatOpenAI]:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    with live_server(create_app(settings, build_container(settings, FakeModelProvider(real_model)))) as url:
        yield ChatOpenAI(
            model=MODEL, base_url=f"{url}/v1", api_key="unused", temperature=0, max_tokens=12, max_retries=0
        )


def test_invoke_returns_an_answer_with_usage(chat: ChatOpenAI) -> None:
    answer = chat.invoke(MESSAGES)
    assert isinstance(answer, AIMessage) and answer.content.strip()
    assert answer.response_metadata["finish_reason"] in ("stop", "length")
    assert answer.response_metadata["model_name"] == MODEL
    usage = answer.usage_metadata
    assert usage is not None and usage["input_tokens"] > 5 and 1 <= usage["output_tokens"] <= 12


async def test_stream_yields_chunks_that_add_up_to_the_invoked_answer(chat: ChatOpenAI) -> None:
    chunks = [chunk async for chunk in chat.astream(MESSAGES)]
    assert len(chunks) > 2 and all(isinstance(c, AIMessageChunk) for c in chunks)
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert whole.content.strip()
    assert whole.response_metadata.get("finish_reason") in ("stop", "length")
    assert whole.content == (await chat.ainvoke(MESSAGES)).content, "greedy: streamed and plain answers agree"
