"""Iterate an async iterator until a cancellation event is set, without waiting for its next item."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """Raised by ``until_cancelled`` when the event fired before the iterator ended."""


async def until_cancelled(source: AsyncIterator[T], cancelled: asyncio.Event) -> AsyncIterator[T]:
    """Yield from ``source``; raise ``Cancelled`` as soon as ``cancelled`` is set, even mid-wait.

    The source is closed in every case (``aclose``), which tells a model to free its batch slot.
    """
    waiter = asyncio.ensure_future(cancelled.wait())
    step: asyncio.Future[Any] | None = None
    try:
        while True:
            if cancelled.is_set():
                raise Cancelled
            step = asyncio.ensure_future(anext(source))  # type: ignore[arg-type]
            await asyncio.wait({step, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                raise Cancelled
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            finally:
                step = None
            yield item
    finally:
        waiter.cancel()
        if step is not None and not step.done():
            step.cancel()
        if step is not None:
            with contextlib.suppress(BaseException):
                await step
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
