"""With several worker processes, a scrape answered by any worker counts the requests of all of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_URL
from tests.integration.live_server import free_port
from tests.integration.ops.conftest import parse_scrape

pytestmark = pytest.mark.redis
HEALTH = (("method", "GET"), ("route", "/health"), ("status", "200"))


def test_two_workers_report_one_set_of_counters(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'workers.db'}",
        "SESSION_STORE": "redis",
        "REDIS_URL": REDIS_URL,
        "WEB_CONCURRENCY": "2",
        "HOST": "127.0.0.1",
        "LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # --role api: no model to load
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli.main", "serve", "--role", "api", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        answered = 0
        deadline = time.monotonic() + 180
        while answered == 0:
            assert process.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the workers did not start"
            try:
                answered += httpx.get(f"{url}/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.25)
        for _ in range(30):  # a new connection each time, so both workers take some
            assert httpx.get(f"{url}/health", headers={"Connection": "close"}, timeout=10).status_code == 200
            answered += 1
        for _ in range(6):
            scrape = httpx.get(f"{url}/metrics", headers={"Connection": "close"}, timeout=10)
            assert scrape.status_code == 200
            assert parse_scrape(scrape.text)[("http_requests_total", HEALTH)] == answered
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
