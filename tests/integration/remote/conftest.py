"""A real `marketplace serve --role engine` child process with the embedded model, and fronts that use it."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from tests.integration.live_server import live_server
from tests.integration.processes import ServedProcess, engine_env, model_ready, serve_process


@pytest.fixture(scope="session")
def engine() -> Iterator[ServedProcess]:
    with serve_process("engine", engine_env(), ready=model_ready) as served:
        yield served


def front_settings(tmp_path: Path, sqlite_template: Path, engine_url: str, **changes: object) -> Settings:
    database = tmp_path / "front.db"
    shutil.copy(sqlite_template, database)
    values: dict[str, object] = {
        "role": "api",
        "llm_base_url": f"{engine_url}/v1",
        "llm_timeout_seconds": 120.0,  # a busy test machine can take seconds per token
        "database_url": f"sqlite:///{database}",
        "model_cache_dir": tmp_path / "unused-models",
        "max_tokens": 8,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def front_factory(tmp_path: Path, sqlite_template: Path) -> Iterator[Callable[..., str]]:
    """An in-process `--role api` app in front of ``engine_url``; returns its URL."""
    stack = contextlib.ExitStack()

    def start(engine_url: str, **changes: object) -> str:
        settings = front_settings(tmp_path, sqlite_template, engine_url, **changes)
        return stack.enter_context(live_server(create_app(settings)))

    with stack:
        yield start


@pytest.fixture
def front(front_factory: Callable[..., str], engine: ServedProcess) -> str:
    return front_factory(engine.url)
