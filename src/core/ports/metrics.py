"""The metrics port: what the service reports, in its own words, without naming a metrics library.

The HTTP middleware, the metered language model, the batching engine, the stream sessions and the AI
search report here; the adapter (prometheus-client) owns every public metric name. ``NO_METRICS``
drops everything (``METRICS_ENABLED=0`` and unit tests that do not care).
"""

from __future__ import annotations

from typing import Literal, Protocol

RejectionReason = Literal["overloaded", "unavailable", "shutting_down"]


class Metrics(Protocol):
    # HTTP: one call per request, ``route`` is the route template (never the raw path).
    def http_request(self, method: str, route: str, status: int, seconds: float) -> None: ...

    # One generation (one choice) as its consumer sees it.
    def time_to_first_token(self, seconds: float) -> None: ...
    def inter_token_latency(self, seconds: float) -> None: ...
    def generation_finished(self, seconds: float) -> None: ...
    def tokens(self, prompt: int, generated: int) -> None: ...
    def request_rejected(self, reason: RejectionReason) -> None: ...
    def request_cancelled(self) -> None: ...

    # The batching engine, after each step.
    def engine_load(self, running: int, waiting: int, kv_cache_usage: float) -> None: ...
    def prefix_cache(self, queried_tokens: int, hit_tokens: int) -> None: ...

    # Streams and AI search.
    def stream_resumed(self) -> None: ...
    def stream_taken_over(self) -> None: ...
    def ai_search_request(self, ai_generated: bool) -> None: ...

    def render(self) -> tuple[bytes, str]:
        """The current values as a scrape body and its content type."""
        ...


class NoMetrics:
    """A ``Metrics`` that records nothing."""

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        pass

    def time_to_first_token(self, seconds: float) -> None:
        pass

    def inter_token_latency(self, seconds: float) -> None:
        pass

    def generation_finished(self, seconds: float) -> None:
        pass

    def tokens(self, prompt: int, generated: int) -> None:
        pass

    def request_rejected(self, reason: RejectionReason) -> None:
        pass

    def request_cancelled(self) -> None:
        pass

    def engine_load(self, running: int, waiting: int, kv_cache_usage: float) -> None:
        pass

    def prefix_cache(self, queried_tokens: int, hit_tokens: int) -> None:
        pass

    def stream_resumed(self) -> None:
        pass

    def stream_taken_over(self) -> None:
        pass

    def ai_search_request(self, ai_generated: bool) -> None:
        pass

    def render(self) -> tuple[bytes, str]:
        return b"", "text/plain; charset=utf-8"


NO_METRICS: Metrics = NoMetrics()
