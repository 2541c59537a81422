"""The real app over real HTTP, on each database backend, with the fake language model."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from entrypoints.bootstrap.container import build_container
from entrypoints.bootstrap.database import seed_demo_data
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider

ADMIN_KEY = "admin-test-key"


@pytest.fixture
def start_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``start_app(**settings_changes)`` serves the app on the test database and returns its URL."""
    stack = contextlib.ExitStack()

    def start(model: FakeLanguageModel | None = None, **changes: object) -> str:
        values: dict[str, object] = {
            "database_url": database_url,
            "model_cache_dir": tmp_path / "models",
            "sessions_db_path": str(tmp_path / "sessions.db"),
        }
        values.update(changes)
        settings = Settings(**values)  # type: ignore[arg-type]
        container = build_container(settings, FakeModelProvider(model or FakeLanguageModel("ok")))
        return stack.enter_context(live_server(create_app(settings, container)))

    with stack:
        yield start


@pytest.fixture
def base_url(start_app: Callable[..., str]) -> str:
    return start_app(admin_api_key=ADMIN_KEY)


@pytest.fixture
def demo(database_url: str) -> dict[str, str]:
    """Loads the seed's demo data; returns its public demo keys by name."""
    keys = asyncio.run(seed_demo_data(Settings(database_url=database_url), reset=False))
    return {key.name: key.api_key for key in keys}


@pytest.fixture
async def client(base_url: str) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        yield http  # type: ignore[misc]
