"""The page against a real ``marketplace serve`` process with the real embedded model (SmolLM2-135M) loaded.

In the default ``AI_ANSWER_MODE=auto`` the composer writes answers for this small model; the page must show
exactly the answer the service saved, whoever wrote it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import MODEL_CACHE
from tests.integration.live_server import free_port
from tests.integration.web.conftest import BrowserSession, launched_chromium, open_session

JANE = "sk_usr_demo_2"  # Bandung, AI access


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``marketplace serve --seed-if-empty`` on a free port and a new SQLite database, once ready (model loaded)."""
    folder = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'marketplace.db'}",
        "MODEL_CACHE_DIR": str(MODEL_CACHE),
        "SHUTDOWN_GRACE_SECONDS": "1",
        "EAGER_LOAD_MODEL": "true",
        "LOG_LEVEL": "WARNING",
    }
    log = (folder / "server.log").open("wb")
    command = [sys.executable, "-m", "entrypoints.cli.main", "serve", "--seed-if-empty", "--host", "127.0.0.1"]
    process = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            assert process.poll() is None, (folder / "server.log").read_text()
            try:
                if httpx.get(f"{url}/health/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "marketplace serve was not ready in time"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def real_web(served: str, request: pytest.FixtureRequest) -> Iterator[BrowserSession]:
    with launched_chromium() as chromium:
        context, session = open_session(chromium, served, request)
        try:
            yield session
            session.shot("end")
            session.assert_clean()
        finally:
            context.close()


@pytest.mark.browser
@pytest.mark.model
def test_a_real_server_answers_a_streamed_search_in_the_page(real_web: BrowserSession, served: str) -> None:
    from playwright.sync_api import expect

    page: Any = real_web.page
    real_web.goto()
    page.get_by_test_id("api-key").fill(JANE)
    page.get_by_test_id("ai-query").fill("I need a cheap gaming mouse in Bandung")
    page.get_by_test_id("ai-submit").click()

    answer = page.get_by_test_id("ai-answer")
    expect(answer).not_to_have_class("answer streaming", timeout=300_000)
    expect(answer).not_to_have_class("answer failed")
    cards = page.locator("#panel-ai").get_by_test_id("product-card")
    expect(cards.locator(".card-title")).to_contain_text(["Mouse Logitech G502 HERO"])
    expect(cards.first.locator("[data-field=price]")).to_have_text("Rp 550.000")
    shown = answer.inner_text().strip()
    assert shown
    expect(page.get_by_test_id("ai-stop")).to_be_disabled()
    real_web.shot("answered")

    key = {"Authorization": f"Bearer {JANE}"}
    conversations = httpx.get(f"{served}/api/users/2/conversations", headers=key).json()
    messages = httpx.get(f"{served}/api/conversations/{conversations[0]['id']}/messages", headers=key).json()
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"].strip() == shown  # the page shows exactly the saved final answer


def test_the_real_server_serves_the_page_and_the_api_reference(served: str) -> None:
    page = httpx.get(f"{served}/")
    assert page.status_code == 200 and 'data-testid="ai-query"' in page.text
    assert httpx.get(f"{served}/docs").status_code == 200
