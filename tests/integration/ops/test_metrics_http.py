"""``GET /metrics`` after real requests: HTTP, engine, stream and AI search series."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from tests.integration.ops.conftest import JOHN, parse_scrape
from tests.integration.sse_client import sse_events

COMPLETION = "/v1/chat/completions"
ASK = {"model": "fake/model", "messages": [{"role": "user", "content": "Halo"}], "max_tokens": 8}


async def scrape(client: httpx.AsyncClient, **kwargs: object):  # type: ignore[no-untyped-def]
    response = await client.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse_scrape(response.text)


async def test_a_scrape_counts_requests_by_route_template_and_tokens_equal_usage(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(), timeout=30) as client:
        plain = (await client.post(COMPLETION, json=ASK)).json()
        usage = [plain["usage"]]
        async with client.stream(
            "POST", COMPLETION, json={**ASK, "stream": True, "n": 2, "stream_options": {"include_usage": True}}
        ) as stream:
            async for _id, data in sse_events(stream):
                if data != "[DONE]" and json.loads(data).get("usage"):
                    usage.append(json.loads(data)["usage"])
        assert (await client.get("/api/suppliers/1")).status_code == 200
        assert (await client.get("/api/suppliers/999999")).status_code == 404
        found = await scrape(client)

    completions = (("method", "POST"), ("route", COMPLETION), ("status", "200"))
    assert found[("http_requests_total", completions)] == 2
    assert found[("http_request_duration_seconds_count", completions)] == 2
    by_id = (("method", "GET"), ("route", "/api/suppliers/{supplier_id}"), ("status", "200"))
    assert found[("http_requests_total", by_id)] == 1
    assert found[("http_requests_total", (*by_id[:2], ("status", "404")))] == 1
    assert len(usage) == 2
    assert found[("llm_prompt_tokens_total", ())] == sum(u["prompt_tokens"] for u in usage)
    assert found[("llm_generation_tokens_total", ())] == sum(u["completion_tokens"] for u in usage)
    assert found[("llm_time_to_first_token_seconds_count", ())] == 3  # one plain choice, two streamed
    assert found[("llm_e2e_request_latency_seconds_count", ())] == 3
    assert found[("llm_inter_token_latency_seconds_count", ())] == sum(u["completion_tokens"] for u in usage) - 3
    assert found[("llm_requests_cancelled_total", ())] == 0


async def test_resumes_cancellations_and_ai_search_are_counted(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(), timeout=30) as client:
        body = {**ASK, "max_tokens": 20, "stream": True, "session_id": "ops-resume-1"}
        async with client.stream("POST", COMPLETION, json=body) as stream:
            async for event_id, _data in sse_events(stream):
                last = event_id
                break
        async with client.stream("POST", COMPLETION, json=body, headers={"Last-Event-ID": last}) as resumed:
            assert resumed.status_code == 200
            assert [data async for _id, data in sse_events(resumed)][-1] == "[DONE]"
        long = {**ASK, "max_tokens": 20, "stream": True, "session_id": "ops-cancel-1"}
        async with client.stream("POST", COMPLETION, json=long) as stream:
            async for _id, _data in sse_events(stream):
                assert (await client.post("/v1/cancel/ops-cancel-1")).status_code == 200
                break
        answer = await client.post("/api/chat/search", json={"query": "laptop gaming di Jakarta"}, headers=JOHN)
        assert answer.status_code == 200, answer.text
        found = await scrape(client)
    assert found[("stream_resumes_total", ())] == 1
    assert found[("llm_requests_cancelled_total", ())] == 1
    flag = str(answer.json()["ai_generated"]).lower()
    assert found[("ai_search_requests_total", (("ai_generated", flag),))] == 1
    assert found[("ai_search_requests_total", (("ai_generated", "true" if flag == "false" else "false"),))] == 0


async def test_metrics_need_the_key_when_one_is_set(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(metrics_api_key="scrape-secret"), timeout=30) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        await scrape(client, headers={"Authorization": "Bearer scrape-secret"})


async def test_metrics_disabled_means_no_route(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(metrics_enabled=False), timeout=30) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/health")).status_code == 200
