"""The single table that maps errors to HTTP responses.

Marketplace routes answer ``{"detail": ..., "field": ...}``; ``/v1`` routes answer OpenAI's
``{"error": {"message", "type", "param", "code"}}``. Only 5xx logs a traceback.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from core.domain import errors as domain

logger = structlog.get_logger(__name__)

DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.BadRequest: 400,
    domain.InvalidInput: 422,
    domain.Unauthorized: 401,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Gone: 410,
    domain.Overloaded: 429,
    domain.Unavailable: 503,
}

OPENAI_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    410: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}


def status_for(error: domain.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]  # type: ignore[index]
    return 400


def is_openai_path(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/v1/")


def error_response(
    request: Request[Any, Any, Any],
    status: int,
    message: str,
    *,
    field: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    if is_openai_path(request):
        # OpenAI answers invalid requests with 400 whatever the rule that failed.
        if status == 422:
            status = 400
        content: dict[str, Any] = {
            "error": {
                "message": message,
                "type": OPENAI_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
                "param": field,
                "code": code,
            }
        }
    else:
        content = {"detail": message}
        if field is not None:
            content["field"] = field
    return Response(content=content, status_code=status, headers=headers, media_type=MediaType.JSON)


def handle_domain_error(request: Request[Any, Any, Any], exc: domain.DomainError) -> Response[Any]:
    status = status_for(exc)
    headers = None
    if isinstance(exc, domain.Overloaded):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    elif isinstance(exc, domain.Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    if status >= 500:
        logger.warning("http.dependency_unavailable", path=request.url.path, error=exc.message)
    return error_response(request, status, exc.message, field=exc.field, code=exc.code, headers=headers)


def handle_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's request parsing failures: name the offending field in ``detail``."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    if not problems:
        message = str(exc.detail)
        malformed = "malformed" in message.lower() or "decode" in message.lower()
        return error_response(request, 400, _plain(message) if malformed else message, field=None)
    for problem in problems:
        if isinstance(problem, dict):
            problem["key"] = _field_of(problem)
    first = problems[0] if isinstance(problems[0], dict) else {}
    field = first.get("key")
    parts = [
        f"{p.get('key')}: {p.get('message')}" if p.get("key") else str(p.get("message"))
        for p in problems
        if isinstance(p, dict)
    ]
    message = "; ".join(parts) or str(exc.detail)
    malformed = any("malformed" in str(p.get("message", "")).lower() for p in problems if isinstance(p, dict))
    return error_response(request, 400 if malformed else 422, message, field=None if malformed else field)


_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]+)`")


def _field_of(problem: dict[str, Any]) -> str | None:
    """The offending field: Litestar's key, or the field msgspec names when the whole body is at fault."""
    key = problem.get("key")
    named = _NAMED_FIELD.search(str(problem.get("message", "")))
    if named and key in (None, "", "data"):
        return named.group(1) if key in (None, "", "data") else f"{key}.{named.group(1)}"
    # "data" is Litestar's name for the whole body (say, an array where an object belongs): no one field.
    return None if key == "data" else key


def _plain(message: str) -> str:
    return "Request body is not valid JSON: " + message if "json" not in message.lower() else message


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    headers = dict(exc.headers) if exc.headers else None
    return error_response(request, exc.status_code, str(exc.detail), headers=headers)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.exception("http.unhandled_error", path=request.url.path, method=request.method)
    return error_response(request, HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error")


EXCEPTION_HANDLERS = {
    domain.DomainError: handle_domain_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
