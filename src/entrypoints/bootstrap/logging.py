"""structlog set-up: JSON or console rendering, one level for the app and the libraries.

Logs never carry an API key, a bearer token, a prompt, a model answer or supplier text:

* tracebacks are plain (the console renderer's rich tracebacks would print every frame's locals,
  where requests, prompts and keys live);
* a last step redacts what could still slip into a message: the configured secrets, bearer tokens
  and anything shaped like one of our API keys (``sk_sup_...``, ``sk_usr_...``).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

import structlog

REDACTED = "[redacted]"
_KEY_SHAPES = re.compile(r"(?i)(bearer\s+)[^\s'\",;]+|\bsk_(?:sup|usr)_[A-Za-z0-9_\-]+")


class Redactor:
    """Replaces secrets in the rendered line (a processor placed after the renderer)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so that a key containing another is redacted whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _KEY_SHAPES.sub(lambda m: (m.group(1) or "") + REDACTED, text)

    def __call__(self, _logger: Any, _name: str, rendered: Any) -> Any:
        if isinstance(rendered, str):
            return self.redact(rendered)
        if isinstance(rendered, bytes):
            return self.redact(rendered.decode("utf-8", "replace")).encode("utf-8")
        return rendered


def configure_logging(level: str = "INFO", fmt: str = "console", *, secrets: Iterable[str] = ()) -> None:
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.typing.Processor
    if fmt == "json":
        shared.append(structlog.processors.format_exc_info)  # plain text, no locals
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Standard-library records (core logs through ``logging``) keep their ``extra`` fields.
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
                Redactor(secrets),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    for noisy in ("uvicorn.access", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(max(numeric_level, logging.WARNING))
