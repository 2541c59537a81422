"""A hand-written ``Metrics`` that keeps what it was told, for assertions."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeMetrics:
    http: list[tuple[str, str, int]] = field(default_factory=list)
    first_tokens: list[float] = field(default_factory=list)
    inter_tokens: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    generated_tokens: int = 0
    rejections: list[str] = field(default_factory=list)
    cancelled: int = 0
    loads: list[tuple[int, int, float]] = field(default_factory=list)
    prefix: list[tuple[int, int]] = field(default_factory=list)
    resumes: int = 0
    takeovers: int = 0
    ai_search: list[bool] = field(default_factory=list)

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http.append((method, route, status))

    def time_to_first_token(self, seconds: float) -> None:
        self.first_tokens.append(seconds)

    def inter_token_latency(self, seconds: float) -> None:
        self.inter_tokens.append(seconds)

    def generation_finished(self, seconds: float) -> None:
        self.finished.append(seconds)

    def tokens(self, prompt: int, generated: int) -> None:
        self.prompt_tokens += prompt
        self.generated_tokens += generated

    def request_rejected(self, reason: str) -> None:
        self.rejections.append(reason)

    def request_cancelled(self) -> None:
        self.cancelled += 1

    def engine_load(self, running: int, waiting: int, kv_cache_usage: float) -> None:
        self.loads.append((running, waiting, kv_cache_usage))

    def prefix_cache(self, queried_tokens: int, hit_tokens: int) -> None:
        self.prefix.append((queried_tokens, hit_tokens))

    def stream_resumed(self) -> None:
        self.resumes += 1

    def stream_taken_over(self) -> None:
        self.takeovers += 1

    def ai_search_request(self, ai_generated: bool) -> None:
        self.ai_search.append(ai_generated)

    def render(self) -> tuple[bytes, str]:
        return b"", "text/plain"
