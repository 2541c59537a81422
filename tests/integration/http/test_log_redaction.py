"""Logs never contain an API key, a bearer token or a prompt, tracebacks included."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
import structlog

from entrypoints.bootstrap.logging import REDACTED, Redactor, configure_logging
from entrypoints.bootstrap.settings import Settings
from tests.fakes.language_model import FakeLanguageModel

API_KEY = "k-live-7f3a9c2e41"
ADMIN = "admin-5d1e8b77"
USER_KEY = "sk_usr_AbCdEf0123456789xyz"
PROMPT = "my-private-prompt-about-a-surprise-gift"


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Logging configured as in production, writing to pytest's captured stderr; restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield lambda: capsys.readouterr().err
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_traceback_shows_no_frame_locals_and_no_secrets(fmt: str, captured_logs: Callable[[], str]) -> None:
    settings = Settings(admin_api_key=ADMIN, api_keys=(API_KEY,))
    configure_logging("INFO", fmt, secrets=settings.secrets)

    def handle(api_key: str, prompt: str) -> None:
        bearer = f"Bearer {USER_KEY}"  # a local, as in a request handler
        raise RuntimeError(f"failed for {api_key} ({len(prompt)} chars, {bearer})")

    try:
        handle(API_KEY, PROMPT)
    except RuntimeError:
        structlog.get_logger("test").exception("http.unhandled_error", path="/v1/chat/completions")
    output = captured_logs()
    assert "RuntimeError" in output and "handle" in output  # the traceback itself is there
    for secret in (API_KEY, USER_KEY, PROMPT, ADMIN):
        assert secret not in output, (secret, output)
    assert REDACTED in output


def test_the_redactor_hides_bearer_tokens_and_key_shapes() -> None:
    redact = Redactor(["configured-secret"]).redact
    assert redact("Authorization: Bearer abc.def-123 next") == f"Authorization: Bearer {REDACTED} next"
    assert redact("key=sk_sup_9xY-z_1 end") == f"key={REDACTED} end"
    assert redact("x configured-secret y") == f"x {REDACTED} y"
    assert redact("nothing secret here") == "nothing secret here"


async def test_an_exception_inside_a_request_logs_neither_the_key_nor_the_prompt(
    start_app: Callable[..., str], captured_logs: Callable[[], str]
) -> None:
    changes = {"api_keys": (API_KEY,), "admin_api_key": ADMIN}
    configure_logging("DEBUG", "console", secrets=Settings(**changes).secrets)  # type: ignore[arg-type]
    failing = FakeLanguageModel("never", fail_with=RuntimeError(f"engine crashed while serving {API_KEY}"))
    url = start_app(failing, **changes)
    body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 4}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        plain = await client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"})
        streamed = await client.post(
            "/v1/chat/completions", json=body | {"stream": True}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
        await client.get("/api/users/1", headers={"Authorization": f"Bearer {USER_KEY}"})
    assert plain.status_code == 500 and API_KEY not in plain.text
    assert streamed.status_code in (200, 500)
    output = captured_logs()
    assert "RuntimeError" in output  # the failure was logged, with its traceback
    for secret in (API_KEY, PROMPT, USER_KEY, ADMIN):
        assert secret not in output, (secret, output)
