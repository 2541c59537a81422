"""Graceful shutdown on SIGTERM (and SIGINT).

1. Stop admitting: new requests get 503 with ``Retry-After`` (probes, scrapes, cancels and resumes still pass;
   ``/health/ready`` turns 503 so the load balancer moves on).
2. Let running generations finish, for up to ``SHUTDOWN_GRACE_SECONDS``.
3. End the rest: every local stream gets a final ``cancelled`` chunk and ``[DONE]``; the model stops, so a
   plain completion still waiting returns with ``finish_reason: "cancelled"``.
4. Hand the signal to the server (uvicorn), which closes the connections and runs the lifespan shutdown.

A second signal skips the wait. The handlers are installed only in the main thread (a server run in a
worker thread, as in tests, keeps uvicorn's own behaviour).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import signal
import threading
from types import FrameType
from typing import Any

import structlog
from dishka import AsyncContainer

from core.ports.language_model import LanguageModel
from core.use_cases.stream_sessions import StreamSessions
from entrypoints.http.request_context import Admission

logger = structlog.get_logger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_FLUSH_SECONDS = 5.0
_POLL_SECONDS = 0.05


class GracefulShutdown:
    def __init__(self, admission: Admission, container: AsyncContainer, grace_seconds: float) -> None:
        self._admission = admission
        self._container = container
        self._grace = grace_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[int, Any] = {}
        self._drain: asyncio.Task[None] | None = None

    def install(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False
        self._loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)
        return True

    def uninstall(self) -> None:
        for sig, previous in self._previous.items():
            with contextlib.suppress(Exception):
                signal.signal(sig, previous)
        self._previous = {}

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is not None or self._loop is None:
            logger.warning("shutdown.forced", signal=signal.Signals(sig).name)
            self._hand_over(sig, frame)
            return
        # A fresh context: the signal may land while a request's task runs (its request id must not leak).
        self._loop.call_soon_threadsafe(self._start, sig, context=contextvars.Context())

    def _start(self, sig: int) -> None:
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_task(self.drain(sig), name="graceful-shutdown")

    async def drain(self, sig: int = signal.SIGTERM) -> None:
        admission, sessions = self._admission, await self._container.get(StreamSessions)
        admission.drain(self._grace)
        logger.info(
            "shutdown.draining",
            signal=signal.Signals(sig).name,
            grace_seconds=self._grace,
            streams=sessions.running_count,
            in_flight=admission.in_flight,
        )
        try:
            await asyncio.wait_for(self._quiet(sessions), self._grace)
            logger.info("shutdown.drained")
        except TimeoutError:
            logger.warning("shutdown.grace_expired", streams=sessions.running_count, in_flight=admission.in_flight)
            await sessions.close()  # a final "cancelled" chunk and [DONE] for every local stream
            model = await self._container.get(LanguageModel)
            await model.close()  # what still waits on the engine ends as "cancelled"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(admission.wait_idle(), _FLUSH_SECONDS)
        self._hand_over(sig, None)

    async def _quiet(self, sessions: StreamSessions) -> None:
        # Two conditions, and a stream with no follower left has no event to wait on: poll both.
        while sessions.running_count or self._admission.in_flight:  # noqa: ASYNC110
            await asyncio.sleep(_POLL_SECONDS)

    def _hand_over(self, sig: int, frame: FrameType | None) -> None:
        previous = self._previous.get(sig)
        self.uninstall()
        if callable(previous):
            previous(sig, frame)  # uvicorn's handler: should_exit
        else:
            signal.raise_signal(sig)
