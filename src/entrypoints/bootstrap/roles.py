"""What each ``marketplace serve --role`` serves, and the starts that cannot work."""

from __future__ import annotations

from core.domain.errors import InvalidInput
from entrypoints.bootstrap.settings import Settings


def serves_marketplace(settings: Settings) -> bool:
    """``all`` and ``api`` serve the marketplace and AI search (and need the database); ``engine`` only /v1."""
    return settings.role != "engine"


def check_serving(settings: Settings) -> None:
    """Refuse a configuration that cannot serve, naming the setting to change."""
    if settings.role == "api" and settings.llm_base_url is None:
        raise InvalidInput(
            "--role api loads no local model: set LLM_BASE_URL to an OpenAI-compatible engine "
            "(for example http://vllm:8000/v1, or a `marketplace serve --role engine`)",
            field="LLM_BASE_URL",
        )
    if settings.role == "engine" and settings.llm_base_url is not None:
        raise InvalidInput(
            f"--role engine serves the local model, but LLM_BASE_URL is set ({settings.llm_base_url}): "
            "unset it, or use --role api to front that engine",
            field="LLM_BASE_URL",
        )
    workers = settings.web_concurrency
    if workers > 1 and settings.session_store != "redis":
        raise InvalidInput(
            f"WEB_CONCURRENCY={workers} runs {workers} processes, but SESSION_STORE={settings.session_store} keeps "
            "streams inside one process: set SESSION_STORE=redis so that every worker resumes and cancels every stream",
            field="WEB_CONCURRENCY",
        )


def loads_local_model(settings: Settings) -> bool:
    return settings.llm_base_url is None
