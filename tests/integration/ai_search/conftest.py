"""A live app on the seeded demo data with a chosen model and stream store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from entrypoints.bootstrap.container import build_container
from entrypoints.bootstrap.database import seed_demo_data
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider


@pytest.fixture
def search_server(database_url: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``search_server(model, **settings_changes)`` -> the URL of a live app on the seeded data. The model
    writes the answers (``AI_ANSWER_MODE=model``) unless a test changes ``ai_answer_mode``."""
    asyncio.run(seed_demo_data(Settings(database_url=database_url), reset=False))
    stack = contextlib.ExitStack()

    def start(model, **changes: object) -> str:  # type: ignore[no-untyped-def]
        values: dict[str, object] = {
            "database_url": database_url,
            "model_cache_dir": tmp_path / "models",
            "sessions_db_path": str(tmp_path / "sessions.db"),
            "ai_answer_mode": "model",
        }
        settings = Settings(**{**values, **changes})  # type: ignore[arg-type]
        return stack.enter_context(
            live_server(create_app(settings, build_container(settings, FakeModelProvider(model))))
        )

    with stack:
        yield start
