"""The prometheus-client adapter: every public metric name, with its labels, in one scrape."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from adapters.metrics import PrometheusMetrics

PUBLIC_NAMES = {
    "http_requests_total": "counter",
    "http_request_duration_seconds": "histogram",
    "llm_time_to_first_token_seconds": "histogram",
    "llm_inter_token_latency_seconds": "histogram",
    "llm_e2e_request_latency_seconds": "histogram",
    "llm_requests_running": "gauge",
    "llm_requests_waiting": "gauge",
    "llm_kv_cache_usage_ratio": "gauge",
    "llm_prompt_tokens_total": "counter",
    "llm_generation_tokens_total": "counter",
    "llm_request_rejections_total": "counter",
    "llm_requests_cancelled_total": "counter",
    "llm_prefix_cache_hits_total": "counter",
    "llm_prefix_cache_queries_total": "counter",
    "stream_resumes_total": "counter",
    "stream_takeovers_total": "counter",
    "ai_search_requests_total": "counter",
}


def samples(metrics: PrometheusMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_every_public_name_is_exposed_with_its_type() -> None:
    body, _ = PrometheusMetrics().render()
    families = {f.name: f.type for f in text_string_to_metric_families(body.decode())}
    for name, kind in PUBLIC_NAMES.items():
        family = name.removesuffix("_total") if kind == "counter" else name
        assert families.get(family) == kind, name


def test_recorded_values_reach_the_scrape() -> None:
    metrics = PrometheusMetrics()
    metrics.http_request("GET", "/api/products", 200, 0.01)
    metrics.tokens(prompt=7, generated=5)
    metrics.tokens(prompt=0, generated=2)
    metrics.request_rejected("overloaded")
    metrics.request_cancelled()
    metrics.engine_load(3, 2, 0.25)
    metrics.prefix_cache(queried_tokens=10, hit_tokens=4)
    metrics.stream_resumed()
    metrics.stream_taken_over()
    metrics.ai_search_request(True)
    metrics.time_to_first_token(0.05)
    found = samples(metrics)
    http = (("method", "GET"), ("route", "/api/products"), ("status", "200"))
    assert found[("http_requests_total", http)] == 1
    assert found[("http_request_duration_seconds_count", http)] == 1
    assert found[("llm_prompt_tokens_total", ())] == 7
    assert found[("llm_generation_tokens_total", ())] == 7
    assert found[("llm_request_rejections_total", (("reason", "overloaded"),))] == 1
    assert found[("llm_requests_cancelled_total", ())] == 1
    assert found[("llm_requests_running", ())] == 3
    assert found[("llm_requests_waiting", ())] == 2
    assert found[("llm_kv_cache_usage_ratio", ())] == 0.25
    assert found[("llm_prefix_cache_queries_total", ())] == 10
    assert found[("llm_prefix_cache_hits_total", ())] == 4
    assert found[("stream_resumes_total", ())] == 1
    assert found[("stream_takeovers_total", ())] == 1
    assert found[("ai_search_requests_total", (("ai_generated", "true"),))] == 1
    assert found[("ai_search_requests_total", (("ai_generated", "false"),))] == 0
    assert found[("llm_time_to_first_token_seconds_count", ())] == 1


def test_two_instances_do_not_share_values() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    first.stream_resumed()
    assert samples(second)[("stream_resumes_total", ())] == 0
