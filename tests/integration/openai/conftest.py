"""The real app with the fake language model, served over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dishka import Provider, Scope, provide

from core.ports.language_model import LanguageModel
from entrypoints.bootstrap.container import build_container
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.live_server import live_server


class FakeModelProvider(Provider):
    def __init__(self, model: LanguageModel) -> None:
        super().__init__(scope=Scope.APP)
        self._model = model

    @provide(override=True)
    def language_model(self) -> LanguageModel:
        return self._model


def reply_for(request) -> str:  # type: ignore[no-untyped-def]
    """Echo the last user message in words, then count, so tests can check content and lengths."""
    last = request.prompt_text if request.prompt_text is not None else request.messages[-1].content
    return f"You said: {last}. " + " ".join(f"w{i}" for i in range(40))


@pytest.fixture
def fake_model() -> FakeLanguageModel:
    return FakeLanguageModel(reply_for, model_id="test/fake-model", context_length=512, step_delay=0.002)


def make_settings(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'test.db'}",
        "sessions_db_path": str(tmp_path / "sessions.db"),
        "model_cache_dir": tmp_path / "models",
        "max_tokens": 64,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def server_factory(tmp_path: Path, fake_model: FakeLanguageModel):  # type: ignore[no-untyped-def]
    """Start a live server with settings changes; yields its URL."""
    import contextlib

    stack = contextlib.ExitStack()

    def start(model: LanguageModel | None = None, **changes: object) -> str:
        settings = make_settings(tmp_path, **changes)
        container = build_container(settings, FakeModelProvider(model or fake_model))
        return stack.enter_context(live_server(create_app(settings, container)))

    with stack:
        yield start


@pytest.fixture
def base_url(server_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    yield server_factory()
