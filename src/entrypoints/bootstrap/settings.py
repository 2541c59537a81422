"""One typed settings object built from the environment at start-up (the seed's variable names)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.domain.errors import InvalidInput

DEFAULT_DATABASE_URL = "sqlite:///./marketplace.db"
ROLES = ("all", "api", "engine")
Role = Literal["all", "api", "engine"]


def _default_model_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("marketplace-ai")) / "models"


@dataclass(frozen=True, slots=True)
class Settings:
    # HTTP
    role: Role = "all"  # what this process serves (`marketplace serve --role`, see docs/deployment.md)
    host: str = "0.0.0.0"
    port: int = 3000
    web_concurrency: int = 1
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "console"
    max_body_bytes: int = 1_048_576
    # Origins granted cross-origin access; empty grants none (the service's own pages need none).
    cors_allow_origins: tuple[str, ...] = ()
    shutdown_grace_seconds: float = 30.0
    # Operations
    metrics_enabled: bool = True
    metrics_api_key: str | None = None
    # Marketplace
    database_url: str = DEFAULT_DATABASE_URL
    admin_api_key: str | None = None
    # Inference
    model_repo_id: str | None = None
    hf_token: str | None = None
    torch_dtype: str = "auto"
    device_map: str = "auto"
    model_cache_dir: Path = field(default_factory=_default_model_cache_dir)
    max_tokens: int = 512
    temperature: float = 0.7
    eager_load_model: bool = False
    max_batch_size: int = 8
    max_queued_requests: int = 64
    api_keys: tuple[str, ...] = ()
    served_model_name: str | None = None
    # AI search: who writes the answer (auto | template | model)
    ai_answer_mode: Literal["auto", "template", "model"] = "auto"
    max_context_tokens: int | None = None
    weight_quant: str = "auto"
    native_decode: bool = True
    max_prefill_tokens_per_step: int = 256
    prefix_cache_tokens: int = 4096
    # A remote OpenAI-compatible engine instead of the local model
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_timeout_seconds: float = 60.0
    llm_max_connections: int = 64
    # Streams
    session_store: Literal["memory", "sqlite", "redis"] = "memory"
    session_buffer_events: int = 2048
    sessions_ttl_seconds: float = 600.0
    sessions_db_path: str = "sessions.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_max_connections: int = 32
    cancel_after_disconnect_seconds: float = 3600.0
    stream_lease_seconds: float = 10.0
    stream_takeover: bool = False

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every configured key and token: what logs must never show."""
        values = (self.admin_api_key, *self.api_keys, self.metrics_api_key, self.hf_token, self.llm_api_key)
        return tuple(v for v in values if v)

    @property
    def async_database_url(self) -> str:
        return to_async_database_url(self.database_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _EnvReader(env)
        persist = reader.boolean("PERSIST_SESSIONS", False)
        store = reader.choice("SESSION_STORE", ("memory", "sqlite", "redis"), "sqlite" if persist else "memory")
        return cls(
            role=reader.choice("MARKETPLACE_ROLE", ROLES, "all"),
            host=reader.text("HOST", "0.0.0.0"),
            port=reader.integer("PORT", 3000, minimum=0, maximum=65535),
            web_concurrency=reader.integer("WEB_CONCURRENCY", 1, minimum=1, maximum=256),
            log_level=reader.text("LOG_LEVEL", "INFO").upper(),
            log_format=reader.choice("LOG_FORMAT", ("json", "console"), "console"),
            max_body_bytes=reader.integer("MAX_BODY_BYTES", 1_048_576, minimum=1024),
            cors_allow_origins=reader.items("CORS_ALLOW_ORIGINS"),
            shutdown_grace_seconds=reader.number("SHUTDOWN_GRACE_SECONDS", 30.0, minimum=0.0),
            metrics_enabled=reader.boolean("METRICS_ENABLED", True),
            metrics_api_key=reader.optional("METRICS_API_KEY"),
            database_url=reader.text("DATABASE_URL", DEFAULT_DATABASE_URL),
            admin_api_key=reader.optional("ADMIN_API_KEY"),
            model_repo_id=reader.optional("MODEL_REPO_ID"),
            hf_token=reader.optional("HF_TOKEN"),
            torch_dtype=reader.text("TORCH_DTYPE", "auto"),
            device_map=reader.text("DEVICE_MAP", "auto"),
            model_cache_dir=Path(reader.optional("MODEL_CACHE_DIR") or _default_model_cache_dir()),
            max_tokens=reader.integer("MAX_TOKENS", 512, minimum=1),
            temperature=reader.number("TEMPERATURE", 0.7, minimum=0.0, maximum=2.0),
            eager_load_model=reader.boolean("EAGER_LOAD_MODEL", False),
            max_batch_size=reader.integer("MAX_BATCH_SIZE", 8, minimum=1, maximum=256),
            max_queued_requests=reader.integer("MAX_QUEUED_REQUESTS", 64, minimum=0),
            api_keys=reader.items("API_KEY"),
            served_model_name=reader.optional("SERVED_MODEL_NAME"),
            ai_answer_mode=reader.choice("AI_ANSWER_MODE", ("auto", "template", "model"), "auto"),
            max_context_tokens=reader.optional_integer("MAX_CONTEXT_TOKENS", minimum=16),
            weight_quant=reader.choice("WEIGHT_QUANT", ("auto", "none", "int8", "int4"), "auto"),
            native_decode=reader.boolean("NATIVE_DECODE", True),
            max_prefill_tokens_per_step=reader.integer("MAX_PREFILL_TOKENS_PER_STEP", 256, minimum=16),
            prefix_cache_tokens=reader.integer("PREFIX_CACHE_TOKENS", 4096, minimum=0),
            llm_base_url=reader.url("LLM_BASE_URL"),
            llm_api_key=reader.optional("LLM_API_KEY"),
            llm_model=reader.optional("LLM_MODEL"),
            llm_timeout_seconds=reader.number("LLM_TIMEOUT_SECONDS", 60.0, minimum=0.1),
            llm_max_connections=reader.integer("LLM_MAX_CONNECTIONS", 64, minimum=1, maximum=10_000),
            session_store=store,
            session_buffer_events=reader.integer("SESSION_BUFFER_EVENTS", 2048, minimum=16),
            sessions_ttl_seconds=reader.number("SESSIONS_TTL_SECONDS", 600.0, minimum=1.0),
            sessions_db_path=reader.text("SESSIONS_DB_PATH", "sessions.db"),
            redis_url=reader.text("REDIS_URL", "redis://127.0.0.1:6379/0"),
            redis_max_connections=reader.integer("REDIS_MAX_CONNECTIONS", 32, minimum=2, maximum=10_000),
            cancel_after_disconnect_seconds=reader.number("CANCEL_AFTER_DISCONNECT_SECONDS", 3600.0, minimum=0.0),
            stream_lease_seconds=reader.number("STREAM_LEASE_SECONDS", 10.0, minimum=0.5, maximum=3600.0),
            # Another process can only continue a stream it can read: on by default where it can.
            stream_takeover=reader.boolean("STREAM_TAKEOVER", store != "memory"),
        )


def to_async_database_url(url: str) -> str:
    """Accept sqlite:///..., postgresql://... (and postgres://) or their async forms; pick the async driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidInput(f"DATABASE_URL is not a URL: {url!r}", field="DATABASE_URL")
    base, _, _driver = scheme.partition("+")
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise InvalidInput(
        f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:// or postgresql://)",
        field="DATABASE_URL",
    )


class _EnvReader:
    """Reads typed values and names the variable in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def url(self, name: str) -> str | None:
        value = self.optional(name)
        if value is None:
            return None
        scheme, sep, rest = value.partition("://")
        if scheme not in ("http", "https") or not sep or not rest.strip("/"):
            raise InvalidInput(f"{name} must be an http:// or https:// URL, got {value!r}", field=name)
        return value.rstrip("/")

    def optional_integer(self, name: str, *, minimum: int | None = None) -> int | None:
        return None if self.optional(name) is None else self.integer(name, 0, minimum=minimum)

    def items(self, name: str) -> tuple[str, ...]:
        """A comma-separated list; blanks dropped."""
        return tuple(item.strip() for item in (self.optional(name) or "").split(",") if item.strip())

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def boolean(self, name: str, default: bool) -> bool:
        value = self.optional(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise InvalidInput(f"{name} must be a boolean (1/0, true/false), got {value!r}", field=name)

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.optional(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise InvalidInput(f"{name} must be an integer, got {value!r}", field=name) from None
        self._check_range(name, number, minimum, maximum)
        return number

    def number(self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self.optional(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"{name} must be a number, got {value!r}", field=name) from None
        self._check_range(name, number, minimum, maximum)
        return number

    def choice(self, name: str, options: tuple[str, ...], default: str):  # type: ignore[no-untyped-def]
        value = (self.optional(name) or default).lower()
        if value not in options:
            raise InvalidInput(f"{name} must be one of {', '.join(options)}, got {value!r}", field=name)
        return value

    @staticmethod
    def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and number < minimum:
            raise InvalidInput(f"{name} must be >= {minimum}, got {number}", field=name)
        if maximum is not None and number > maximum:
            raise InvalidInput(f"{name} must be <= {maximum}, got {number}", field=name)
