"""The real app on a seeded SQLite database with the fake language model, served over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from entrypoints.bootstrap.container import build_container
from entrypoints.bootstrap.database import seed_demo_data
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider

JOHN = {"Authorization": "Bearer sk_usr_demo_1"}  # a demo user with AI access


@pytest.fixture
def seeded_database(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "ops.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    asyncio.run(seed_demo_data(Settings(database_url=url), reset=False))
    return url


@pytest.fixture
def serve(seeded_database: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``serve(model=None, **settings_changes)`` -> the base URL of a live server."""
    stack = contextlib.ExitStack()

    def start(model=None, **changes: object) -> str:  # type: ignore[no-untyped-def]
        values: dict[str, object] = {
            "database_url": seeded_database,
            "model_cache_dir": tmp_path / "models",
            "max_tokens": 32,
        }
        values.update(changes)
        settings = Settings(**values)  # type: ignore[arg-type]
        model = model or FakeLanguageModel(
            lambda r: "Laptop gaming terbaik untuk Anda. " + " ".join(f"w{i}" for i in range(20)), step_delay=0.002
        )
        return stack.enter_context(
            live_server(create_app(settings, build_container(settings, FakeModelProvider(model))))
        )

    with stack:
        yield start


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_scrape(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found
