"""``/health/ready`` answers 200 only when the database, the stream store and the model answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from core.domain.generation import ModelInfo
from tests.conftest import REDIS_URL
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.live_server import free_port
from tests.integration.ops.forwarder import TcpForwarder


class LazyModel(FakeLanguageModel):
    """Not loaded until ``start``, which takes a moment."""

    def __init__(self) -> None:
        super().__init__("ok")
        self.loaded = asyncio.Event()

    def info(self) -> ModelInfo:
        return ModelInfo(self.model_id, self.context_length, ready=self.loaded.is_set())

    async def start(self) -> None:
        await asyncio.sleep(0.05)
        self.loaded.set()


async def test_ready_when_everything_answers_and_health_keeps_its_shape(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(), timeout=30) as client:
        ready = await client.get("/health/ready")
        health = await client.get("/health")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"database": "ok", "stream_store": "ok", "model": "ok"},
        "not_ready": [],
    }
    assert health.status_code == 200
    assert set(health.json()) == {"ok", "modelReady", "modelId", "error"}


async def test_a_model_not_loaded_yet_is_named_then_loads(serve: Callable[..., str]) -> None:
    model = LazyModel()
    async with httpx.AsyncClient(base_url=serve(model), timeout=30) as client:
        first = await client.get("/health/ready")
        assert first.status_code == 503
        assert first.json()["not_ready"] == ["model"] and first.json()["checks"]["model"] == "loading"
        # Liveness stays 200 meanwhile.
        assert (await client.get("/health")).json()["ok"] is True
        for _ in range(200):
            if (await client.get("/health/ready")).status_code == 200:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the model never became ready")


async def test_an_unreachable_database_is_named(serve: Callable[..., str]) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    async with httpx.AsyncClient(base_url=serve(database_url=url), timeout=30) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["not_ready"] == ["database"]


@pytest.mark.redis
async def test_redis_going_away_is_named(serve: Callable[..., str]) -> None:
    host, port = REDIS_URL.split("//", 1)[1].split("/", 1)[0].split(":")
    with TcpForwarder((host, int(port))) as forwarder:
        url = serve(session_store="redis", redis_url=f"redis://127.0.0.1:{forwarder.port}/0")
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await client.get("/health/ready")).status_code == 200
            forwarder.stop()  # Redis is gone for this server
            response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["not_ready"] == ["stream_store"]


@pytest.mark.redis
async def test_a_reachable_redis_store_is_ready(serve: Callable[..., str]) -> None:
    async with httpx.AsyncClient(base_url=serve(session_store="redis", redis_url=REDIS_URL), timeout=30) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
