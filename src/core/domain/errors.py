"""Domain errors. Adapters raise these; one table in the HTTP layer maps them to status codes."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the business rules raise on purpose.

    ``field`` names the offending input where there is one, so the HTTP layer can report it.
    """

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class InvalidInput(DomainError):
    """The request is well formed but a value breaks a rule (HTTP 400/422)."""


class BadRequest(InvalidInput):
    """The request itself is unusable, such as an empty query (HTTP 400)."""


class Unauthorized(DomainError):
    """No credentials, or credentials that match nobody (HTTP 401)."""


class Forbidden(DomainError):
    """Valid credentials that do not grant this action (HTTP 403)."""


class NotFound(DomainError):
    """The named thing does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The action clashes with existing state, such as a duplicate email (HTTP 409)."""


class Gone(DomainError):
    """The thing existed but is no longer available, such as evicted stream events (HTTP 410)."""


class Overloaded(DomainError):
    """Capacity is exhausted; the client should retry later (HTTP 429 with Retry-After)."""

    def __init__(self, message: str, *, retry_after_seconds: int = 1, field: str | None = None) -> None:
        super().__init__(message, field=field, code="overloaded")
        self.retry_after_seconds = retry_after_seconds


class Unavailable(DomainError):
    """A dependency (model, database) is not ready or failed (HTTP 503)."""
