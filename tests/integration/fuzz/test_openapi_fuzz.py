"""schemathesis over the app's whole OpenAPI description, ``/v1`` included (with the fake model), in
process through the ASGI transport, on SQLite and PostgreSQL with the demo data: no input is a 5xx.

Each operation is called with a key of the kind it requires (read from the route's ``access``), so
the fuzzer gets past authentication; rotation routes go without a key, so the demo keys stay valid.
``FUZZ_EXAMPLES`` sets the examples per operation and mode (default 10: a minute or two per database).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from litestar import Litestar
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans

from core.use_cases.authenticate import Access
from entrypoints.bootstrap.container import build_container
from entrypoints.bootstrap.database import seed_demo_data
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from entrypoints.http.auth import required_access
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.conftest import _pg_execute, _pg_url
from tests.integration.openai.conftest import FakeModelProvider

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
ADMIN = "fuzz-admin-key"
KEY_FOR = {
    Access.SUPPLIER: "sk_sup_demo_1",
    Access.USER: "sk_usr_demo_1",
    Access.USER_OR_ADMIN: ADMIN,
    Access.SUPPLIER_OR_ADMIN: None,  # key rotation: keep the demo keys working
    Access.ADMIN: ADMIN,
}


def _access_by_operation(app: Litestar) -> dict[tuple[str, str], Access]:
    found = {}
    for route in app.routes:
        path = re.sub(r":[a-z]+}", "}", route.path)
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                found[(method, path)] = required_access(handler)
    return found


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzzed_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Litestar]:
    folder = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        path = folder / "fuzz.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url, drop = f"sqlite:///{path}", None
    else:
        name = f"mkt_fuzz_{uuid.uuid4().hex[:10]}"
        template = request.getfixturevalue("postgres_template")
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        url, drop = _pg_url(name), name
    asyncio.run(seed_demo_data(Settings(database_url=url), reset=False))
    app_settings = Settings(
        database_url=url,
        admin_api_key=ADMIN,
        model_cache_dir=Path(folder) / "models",
        sessions_db_path=str(Path(folder) / "sessions.db"),
        max_tokens=16,
    )
    model = FakeLanguageModel(lambda r: "Laptop gaming terbaik. " + " ".join(f"w{i}" for i in range(8)))
    app = create_app(app_settings, build_container(app_settings, FakeModelProvider(model)))
    try:
        yield app
    finally:
        shutdown_lifespans()
        if drop:
            asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'))


def test_no_input_is_a_server_error(fuzzed_app: Litestar) -> None:
    api = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    access_of = _access_by_operation(fuzzed_app)
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1
        key = KEY_FOR.get(access_of.get((operation.method.upper(), operation.path), Access.PUBLIC))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):  # valid input, then input breaking the schema
            try:
                call(operation, key, mode)
            except AssertionError as failure:
                failures.append(str(failure))
            except Unsatisfiable:  # nothing to break: an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert operations >= 25, operations  # the whole description, /v1 included
    assert not failures, "\n\n".join(failures)


def call(operation, key: str | None, mode: GenerationMode) -> None:  # type: ignore[no-untyped-def]
    """``EXAMPLES`` generated requests to one operation; the first 5xx fails (hypothesis shrinks it)."""

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case) -> None:  # type: ignore[no-untyped-def]
        headers = dict(case.headers or {})
        if key is not None and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {key}"
        response = case.call(headers=headers, timeout=30)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}\n"
            f"  {case.as_curl_command(headers=headers)}"
        )

    check()
