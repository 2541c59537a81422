"""Readiness: every dependency the service needs answers now (a load balancer sends traffic only then)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

Probe = Callable[[], Awaitable[None]]
"""Returns when the dependency answers; raises (with a short reason) when it does not."""


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    checks: dict[str, str]  # dependency -> "ok" or why not

    @property
    def not_ready(self) -> list[str]:
        return [name for name, state in self.checks.items() if state != "ok"]

    @property
    def ready(self) -> bool:
        return not self.not_ready


class CheckReadiness:
    def __init__(self, probes: Mapping[str, Probe], timeout_seconds: float = 3.0) -> None:
        self._probes = dict(probes)
        self._timeout = timeout_seconds

    async def __call__(self, *extra: tuple[str, str]) -> ReadinessReport:
        """Run every probe at once, each bounded by the timeout; ``extra`` adds known states."""
        names = list(self._probes)
        results = await asyncio.gather(*(self._run(self._probes[name]) for name in names))
        checks = dict(zip(names, results, strict=True))
        checks.update(dict(extra))
        return ReadinessReport(checks)

    async def _run(self, probe: Probe) -> str:
        try:
            await asyncio.wait_for(probe(), self._timeout)
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except Exception as error:
            message = getattr(error, "message", None) or str(error) or type(error).__name__
            return str(message)[:200]
        return "ok"
