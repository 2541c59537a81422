"""The ``Metrics`` port on prometheus-client. Every public metric name of the service is here.

Each instance has its own registry, so several apps in one process (tests) never collide. With several
worker processes (``WEB_CONCURRENCY``), ``marketplace serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start: each one then writes its values there and any worker's scrape adds up all of them.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from core.ports.metrics import RejectionReason

# ``*_created`` series double every counter for nothing a dashboard uses.
disable_created_metrics()

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
TTFT_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0)
ITL_BUCKETS = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5)
E2E_BUCKETS = (0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 240.0, 480.0)


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        http_labels = ("method", "route", "status")
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests by method, route template and status.", http_labels, registry=r
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration until the response ends (streams included).",
            http_labels,
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        # The children of one (method, route, status), looked up once (``labels()`` checks and locks every call).
        self._http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.ttft = Histogram(
            "llm_time_to_first_token_seconds",
            "From submitting a generation to its first token (queueing and prefill included).",
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.itl = Histogram(
            "llm_inter_token_latency_seconds",
            "Between two consecutive tokens of one generation.",
            buckets=ITL_BUCKETS,
            registry=r,
        )
        self.e2e = Histogram(
            "llm_e2e_request_latency_seconds",
            "From submitting a generation to its end.",
            buckets=E2E_BUCKETS,
            registry=r,
        )
        # Across worker processes: running and waiting add up, the KV share is the fullest worker's.
        self.running = Gauge(
            "llm_requests_running", "Sequences in the batch now.", registry=r, multiprocess_mode="livesum"
        )
        self.waiting = Gauge(
            "llm_requests_waiting", "Requests queued for a batch row now.", registry=r, multiprocess_mode="livesum"
        )
        self.kv_usage = Gauge(
            "llm_kv_cache_usage_ratio",
            "Share of the KV cache held by running sequences (0 to 1).",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.prompt_tokens = Counter(
            "llm_prompt_tokens_total", "Prompt tokens, as the API reports them in usage.", registry=r
        )
        self.generation_tokens = Counter(
            "llm_generation_tokens_total", "Generated tokens, as the API reports them in usage.", registry=r
        )
        self.rejections = Counter(
            "llm_request_rejections_total", "Generations refused at admission, by reason.", ("reason",), registry=r
        )
        self.cancellations = Counter(
            "llm_requests_cancelled_total", "Generations cancelled before their end.", registry=r
        )
        self.prefix_hits = Counter(
            "llm_prefix_cache_hits_total", "Prompt tokens served from the prefix cache.", registry=r
        )
        self.prefix_queries = Counter(
            "llm_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", registry=r
        )
        self.resumes = Counter("stream_resumes_total", "Streams resumed with Last-Event-ID.", registry=r)
        self.takeovers = Counter(
            "stream_takeovers_total", "Interrupted streams taken over by another process.", registry=r
        )
        self.ai_search = Counter(
            "ai_search_requests_total",
            "AI search answers, by whether the model wrote them.",
            ("ai_generated",),
            registry=r,
        )
        for value in ("true", "false"):
            self.ai_search.labels(value)
        for reason in ("overloaded", "unavailable", "shutting_down"):
            self.rejections.labels(reason)

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._http_children.get(key)
        if children is None:  # routes are templates, so there are few of these
            labels = (method, route, str(status))
            children = (self.http_requests.labels(*labels), self.http_duration.labels(*labels))
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def time_to_first_token(self, seconds: float) -> None:
        self.ttft.observe(seconds)

    def inter_token_latency(self, seconds: float) -> None:
        self.itl.observe(seconds)

    def generation_finished(self, seconds: float) -> None:
        self.e2e.observe(seconds)

    def tokens(self, prompt: int, generated: int) -> None:
        if prompt:
            self.prompt_tokens.inc(prompt)
        if generated:
            self.generation_tokens.inc(generated)

    def request_rejected(self, reason: RejectionReason) -> None:
        self.rejections.labels(reason).inc()

    def request_cancelled(self) -> None:
        self.cancellations.inc()

    def engine_load(self, running: int, waiting: int, kv_cache_usage: float) -> None:
        self.running.set(running)
        self.waiting.set(waiting)
        self.kv_usage.set(kv_cache_usage)

    def prefix_cache(self, queried_tokens: int, hit_tokens: int) -> None:
        self.prefix_queries.inc(queried_tokens)
        if hit_tokens:
            self.prefix_hits.inc(hit_tokens)

    def stream_resumed(self) -> None:
        self.resumes.inc()

    def stream_taken_over(self) -> None:
        self.takeovers.inc()

    def ai_search_request(self, ai_generated: bool) -> None:
        self.ai_search.labels("true" if ai_generated else "false").inc()

    def render(self) -> tuple[bytes, str]:
        registry = self.registry
        directory = os.environ.get(MULTIPROCESS_DIR_ENV)
        if directory:  # every worker's values, summed
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
        # The classic text format (0.0.4), which every Prometheus version scrapes.
        return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4

    def close(self) -> None:
        """This process stops: its live gauges leave the workers' sums."""
        if os.environ.get(MULTIPROCESS_DIR_ENV):
            multiprocess.mark_process_dead(os.getpid())
