"""Readiness runs every probe and names each one that does not answer."""

from __future__ import annotations

import asyncio

from core.domain.errors import Unavailable
from core.use_cases.check_readiness import CheckReadiness


async def fine() -> None:
    return None


async def down() -> None:
    raise Unavailable("connection refused")


async def hangs() -> None:
    await asyncio.sleep(60)


async def test_ready_only_when_every_probe_answers() -> None:
    report = await CheckReadiness({"database": fine, "model": fine})()
    assert report.ready and report.checks == {"database": "ok", "model": "ok"} and report.not_ready == []


async def test_each_failing_probe_is_named_with_its_reason() -> None:
    report = await CheckReadiness({"database": down, "stream_store": hangs, "model": fine}, timeout_seconds=0.05)()
    assert not report.ready
    assert report.not_ready == ["database", "stream_store"]
    assert report.checks["database"] == "connection refused"
    assert "no answer within 0.05 s" in report.checks["stream_store"]


async def test_a_known_state_can_be_added() -> None:
    report = await CheckReadiness({"model": fine})(("shutdown", "shutting down"))
    assert report.not_ready == ["shutdown"]
