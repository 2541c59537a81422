"""SIGTERM on a real ``marketplace serve`` process with the real model: drain, finish or cancel, exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import MODEL_CACHE
from tests.integration.live_server import free_port

pytestmark = pytest.mark.model

# uvicorn re-raises the signal it handled once it has shut down, so the exit status says "ended by SIGTERM".
EXITED_ON_SIGTERM = (0, -signal.SIGTERM)
STORY = [{"role": "user", "content": "Write a very long story about a cat who travels around the world."}]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def log_lines(self) -> list[dict]:
        lines = []
        for line in self.log_path.read_text().splitlines():
            with_json = line[line.find("{") :] if "{" in line else ""
            try:
                lines.append(json.loads(with_json))
            except ValueError:
                continue
        return lines


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[Server] = []

    def start(grace_seconds: float) -> Server:
        port = free_port()
        log_path = tmp_path / f"server-{port}.log"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shutdown.db'}",
            "MODEL_CACHE_DIR": str(MODEL_CACHE),
            "EAGER_LOAD_MODEL": "1",
            "LOG_FORMAT": "json",
            "SHUTDOWN_GRACE_SECONDS": str(grace_seconds),
            "SESSION_STORE": "memory",
        }
        log = log_path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        server = Server(f"http://127.0.0.1:{port}", process, log_path)
        started.append(server)
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx.get(f"{server.url}/health/ready", timeout=2).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.25)

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)


def stream_request(client: httpx.Client, max_tokens: int, request_id: str):  # type: ignore[no-untyped-def]
    body = {"messages": STORY, "max_tokens": max_tokens, "temperature": 0, "stream": True}
    return client.stream("POST", "/v1/chat/completions", json=body, headers={"X-Request-ID": request_id})


def read_chunks(lines: Iterator[str]) -> list[str]:
    return [line[len("data: ") :] for line in lines if line.startswith("data: ")]


def finish_reasons(payloads: list[str]) -> list[str]:
    reasons = []
    for payload in payloads:
        if payload != "[DONE]":
            reasons += [c["finish_reason"] for c in json.loads(payload)["choices"] if c.get("finish_reason")]
    return reasons


def test_sigterm_refuses_new_work_and_lets_a_running_stream_finish(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(grace_seconds=300)
    with httpx.Client(base_url=server.url, timeout=300) as client, stream_request(client, 8, "ops-trace-1") as stream:
        lines = stream.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        server.process.send_signal(signal.SIGTERM)
        with httpx.Client(base_url=server.url, timeout=30) as other:
            for _ in range(100):  # the signal is handled on the server's loop right away
                refused = other.post("/v1/chat/completions", json={"messages": STORY, "max_tokens": 4})
                if refused.status_code == 503:
                    break
                time.sleep(0.05)
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error"]["type"] == "service_unavailable_error"
            assert refused.headers["x-request-id"]
            ready = other.get("/health/ready")
            assert ready.status_code == 503 and "shutdown" in ready.json()["not_ready"]
            assert other.get("/health").status_code == 200  # still alive while draining
        payloads = [first[len("data: ") :], *read_chunks(lines)]
    assert payloads[-1] == "[DONE]"
    assert finish_reasons(payloads) in (["length"], ["stop"])
    assert server.process.wait(timeout=60) in EXITED_ON_SIGTERM
    logs = server.log_lines()
    events = {line.get("event") for line in logs}
    assert {"shutdown.draining", "shutdown.drained"} <= events
    assert all(line.get("request_id") is None for line in logs if line.get("event", "").startswith("shutdown."))
    traced = [line for line in logs if line.get("request_id") == "ops-trace-1"]
    access = [line for line in traced if line.get("event") == "http.access"]
    assert len(access) == 1 and access[0]["route"] == "/v1/chat/completions" and access[0]["status"] == 200
    assert set(access[0]) >= {"method", "route", "status", "duration_ms", "request_id", "caller"}
    generation = [line for line in traced if line.get("event") == "llm.generation.finished"]
    assert generation and generation[0]["generation_id"] == "ops-trace-1/0"
    assert not any("authorization" in json.dumps(line).lower() for line in access)


def test_past_the_grace_period_a_stream_ends_cancelled_with_done(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(grace_seconds=1)
    with (
        httpx.Client(base_url=server.url, timeout=300) as client,
        stream_request(client, 1500, "ops-trace-2") as stream,
    ):
        lines = stream.iter_lines()
        payloads = [next(line for line in lines if line.startswith("data: "))[len("data: ") :]]
        server.process.send_signal(signal.SIGTERM)
        payloads += read_chunks(lines)
    assert payloads[-1] == "[DONE]"
    assert finish_reasons(payloads) == ["cancelled"]
    assert server.process.wait(timeout=60) in EXITED_ON_SIGTERM
    assert "shutdown.grace_expired" in {line.get("event") for line in server.log_lines()}
