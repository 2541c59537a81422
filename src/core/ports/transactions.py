"""Opening units of work outside an HTTP request (background generation tasks)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from core.ports.marketplace import UnitOfWork


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A fresh unit of work; anything not committed is rolled back when the block ends."""
