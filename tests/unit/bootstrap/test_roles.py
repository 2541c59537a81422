"""`marketplace serve --role` and the remote engine settings: what is read, what is refused."""

from __future__ import annotations

import pytest

from core.domain.errors import InvalidInput
from entrypoints.bootstrap.roles import check_serving, serves_marketplace
from entrypoints.bootstrap.settings import Settings
from entrypoints.cli.main import main


def test_remote_engine_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "LLM_BASE_URL": "http://vllm:8000/v1/",
            "LLM_API_KEY": "sk-engine",
            "LLM_MODEL": "unsloth/Qwen3-4B-Instruct-2507",
            "LLM_TIMEOUT_SECONDS": "12.5",
            "LLM_MAX_CONNECTIONS": "200",
            "MAX_CONTEXT_TOKENS": "4096",
            "MARKETPLACE_ROLE": "api",
            "WEB_CONCURRENCY": "4",
        }
    )
    assert settings.llm_base_url == "http://vllm:8000/v1"
    assert (settings.llm_api_key, settings.llm_model) == ("sk-engine", "unsloth/Qwen3-4B-Instruct-2507")
    assert (settings.llm_timeout_seconds, settings.llm_max_connections) == (12.5, 200)
    assert (settings.max_context_tokens, settings.role, settings.web_concurrency) == (4096, "api", 4)
    defaults = Settings.from_env({})
    assert (defaults.role, defaults.llm_base_url, defaults.max_context_tokens, defaults.web_concurrency) == (
        "all",
        None,
        None,
        1,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LLM_BASE_URL", "vllm:8000"),
        ("LLM_BASE_URL", "ftp://vllm/v1"),
        ("LLM_TIMEOUT_SECONDS", "soon"),
        ("LLM_MAX_CONNECTIONS", "0"),
        ("MAX_CONTEXT_TOKENS", "many"),
        ("MARKETPLACE_ROLE", "gpu"),
    ],
)
def test_bad_values_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        Settings.from_env({name: value})
    assert raised.value.field == name


def test_role_api_needs_a_remote_engine() -> None:
    with pytest.raises(InvalidInput, match="set LLM_BASE_URL") as raised:
        check_serving(Settings(role="api"))
    assert raised.value.field == "LLM_BASE_URL"
    check_serving(Settings(role="api", llm_base_url="http://engine:8000/v1"))


def test_role_engine_serves_the_local_model_only() -> None:
    with pytest.raises(InvalidInput, match="--role engine serves the local model"):
        check_serving(Settings(role="engine", llm_base_url="http://engine:8000/v1"))
    check_serving(Settings(role="engine"))
    assert not serves_marketplace(Settings(role="engine"))
    assert serves_marketplace(Settings(role="api")) and serves_marketplace(Settings())


def test_several_workers_need_a_shared_stream_store() -> None:
    with pytest.raises(InvalidInput, match="SESSION_STORE=redis"):
        check_serving(Settings(role="api", llm_base_url="http://e/v1", web_concurrency=4))
    check_serving(Settings(role="api", llm_base_url="http://e/v1", web_concurrency=4, session_store="redis"))


def test_the_cli_refuses_role_api_without_an_engine(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    monkeypatch.setenv("MARKETPLACE_ROLE", "all")  # restored after the test (the CLI sets it for workers)
    assert main(["serve", "--role", "api"]) == 2
    assert "--role api loads no local model: set LLM_BASE_URL" in capsys.readouterr().err
