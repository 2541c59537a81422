"""The web page in headless Chromium (Debian's binary, driven by Playwright) against the real app.

The server is the real app under uvicorn on a free port, with a seeded SQLite database and a scripted
language model that can hold its answer after a given number of tokens, so a test sees the answer
mid-stream without timing. Every page records console errors and requests to any other host; a test
ends with neither. Screenshots go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from core.domain.generation import GenerationEvent, GenerationRequest, TokenGenerated
from entrypoints.bootstrap.container import build_container
from entrypoints.bootstrap.database import seed_demo_data, upgrade_database
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from tests.conftest import ROOT, require_chromium
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider

ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The model's answer, one claim per sentence, each true of the one product listed (so the search shows it,
# ai_generated true). The service may stream it word by word or sentence by sentence.
SENTENCES = (
    "Laptop HP Pavilion Gaming cocok untuk Anda.",
    "Harganya Rp 11.999.000, masih di bawah budget.",
    "Stoknya 7 unit di Tech Store Surabaya.",
    "Kartu grafisnya RTX 3050 untuk bermain game.",
    "Laptop HP Pavilion Gaming juga nyaman untuk bekerja.",
    "Pilihan ini masuk budget Anda.",
)
ANSWER = " ".join(SENTENCES)
FIRST_SENTENCE_TOKENS = len(SENTENCES[0].split(" "))


class ScriptedModel(FakeLanguageModel):
    """Answers ``reply``; with ``hold_after`` set it stops after that many tokens until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__(lambda _request: self.reply, model_id="test/scripted", step_delay=0.005)
        self.reply = ANSWER
        self.hold_after: int | None = None
        self.release = threading.Event()

    def reset(self) -> None:
        self.release.set()  # frees a generation a previous test left held
        self.reply = ANSWER
        self.hold_after = None
        self.release = threading.Event()

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        tokens = 0
        release = self.release
        async for event in super().generate(request):
            if isinstance(event, TokenGenerated):
                if self.hold_after is not None and tokens == self.hold_after:
                    await asyncio.to_thread(release.wait)
                tokens += 1
            yield event


@dataclass
class WebServer:
    url: str
    model: ScriptedModel


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    folder = tmp_path_factory.mktemp("web")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'web.db'}", model_cache_dir=folder / "models", ai_answer_mode="model"
    )
    asyncio.run(upgrade_database(settings))
    asyncio.run(seed_demo_data(settings, reset=False))
    model = ScriptedModel()
    with live_server(create_app(settings, build_container(settings, FakeModelProvider(model)))) as url:
        yield WebServer(url, model)
    model.release.set()


@contextlib.contextmanager
def launched_chromium() -> Iterator[Any]:
    """Headless Debian chromium. Playwright's sync API keeps an event loop running in this thread until the
    block ends, so servers and databases (``asyncio.run``) must be set up before."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser(web_server: WebServer) -> Iterator[Any]:
    with launched_chromium() as chromium:
        yield chromium


@dataclass
class BrowserSession:
    """A page plus what it did: console errors, uncaught errors and requests to other hosts."""

    page: object
    base_url: str
    name: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def goto(self, path: str = "/") -> None:
        self.page.goto(self.base_url + path)  # type: ignore[attr-defined]
        if path == "/":
            self.page.wait_for_selector("body[data-ready=true]")  # type: ignore[attr-defined]

    def shot(self, label: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
        return path

    def assert_clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.foreign_requests == [], self.foreign_requests


def open_session(browser: Any, base_url: str, request: pytest.FixtureRequest, **context_options: Any):  # type: ignore[no-untyped-def]
    """A new browser context and page on ``base_url`` that records console errors and other hosts' requests."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
    page = context.new_page()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    session = BrowserSession(page, base_url, name)
    own_host = urlsplit(base_url).netloc

    def guard(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).netloc == own_host:
            route.fallback()
        else:
            session.foreign_requests.append(url)
            route.abort()

    context.route("**/*", guard)
    page.on("console", lambda message: message.type == "error" and session.console_errors.append(message.text))
    page.on("pageerror", lambda error: session.console_errors.append(f"uncaught: {error}"))
    return context, session


@pytest.fixture
def web(browser, web_server: WebServer, request: pytest.FixtureRequest) -> Iterator[BrowserSession]:  # type: ignore[no-untyped-def]
    """A fresh browser context on the served page (Bandung as the browser's location)."""
    web_server.model.reset()
    context, session = open_session(
        browser,
        web_server.url,
        request,
        geolocation={"latitude": -6.9175, "longitude": 107.6191},
        permissions=["geolocation"],
    )
    try:
        yield session
        session.shot("end")
        session.assert_clean()
    finally:
        web_server.model.release.set()
        context.close()


@pytest.fixture
def phone(browser, web_server: WebServer, request: pytest.FixtureRequest) -> Iterator[BrowserSession]:  # type: ignore[no-untyped-def]
    """The page on a phone-width screen."""
    web_server.model.reset()
    context, session = open_session(
        browser, web_server.url, request, viewport={"width": 375, "height": 780}, is_mobile=True, has_touch=True
    )
    try:
        yield session
        session.shot("end")
        session.assert_clean()
    finally:
        context.close()


class CuttingProxy:
    """A TCP proxy in front of the server that breaks the first AI search stream's connection once the
    response has carried ``events`` event ids: the body ends in the middle of an event and of a chunk, as
    when a network drops."""

    def __init__(self, upstream: str, events: int = 4) -> None:
        self._upstream = urlsplit(upstream)
        self._events = events
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.cut = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection((self._upstream.hostname, self._upstream.port))
            self._sockets += [client, server]
            state = {"watching": False, "ids": 0}
            threading.Thread(target=self._pump, args=(client, server, state, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, state, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, state: dict, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_client and not self.cut.is_set() and data.startswith(b"POST /api/chat/search "):
                    state["watching"] = b"last-event-id" not in data.lower()
                if not from_client and state["watching"]:
                    state["ids"] += data.count(b"id: ")
                    if state["ids"] >= self._events:
                        target.sendall(data[: data.rfind(b"id: ") + 8])  # the last event arrives cut short
                        self.cut.set()
                        return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()
        for end in self._sockets:
            with contextlib.suppress(OSError):
                end.close()
