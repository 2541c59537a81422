"""The asyncio side of the batching scheduler: one async generator per request.

The scheduler's worker thread hands each step's events over with ONE ``call_soon_threadsafe`` per event
loop (not one per token), into per-request queues. Closing a stream early (``aclose()``, ``break`` or task
cancellation) cancels its request, which frees its batch slot at the next step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from adapters.llm.scheduler import BatchScheduler, EventSink, TokenConstraint
from core.domain.generation import GenerationEvent, GenerationFinished, PromptAccepted, SamplingParams

Item = GenerationEvent | BaseException


class LoopSink:
    """An ``EventSink`` feeding an asyncio queue that belongs to ``loop``."""

    __slots__ = ("loop", "queue")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Item] = asyncio.Queue()

    def __call__(self, event: Item) -> None:
        self.queue.put_nowait(event)


def _deliver(events: list[tuple[EventSink, Item]]) -> None:
    for sink, event in events:
        sink(event)


def dispatch_to_loops(events: list[tuple[EventSink, Item]]) -> None:
    """The scheduler's ``dispatch``: one thread-safe callback per event loop per step."""
    by_loop: dict[asyncio.AbstractEventLoop | None, list[tuple[EventSink, Item]]] = {}
    for sink, event in events:
        by_loop.setdefault(getattr(sink, "loop", None), []).append((sink, event))
    for loop, batch in by_loop.items():
        if loop is None:
            _deliver(batch)
            continue
        try:
            loop.call_soon_threadsafe(_deliver, batch)
        except RuntimeError:  # the reader's loop is closed: nobody is listening any more
            pass


async def stream_events(
    scheduler: BatchScheduler,
    prompt_ids: Sequence[int],
    sampling: SamplingParams,
    request_id: str = "",
    constraint: TokenConstraint | None = None,
) -> AsyncIterator[GenerationEvent]:
    """Submit a request and yield ``PromptAccepted``, its tokens and ``GenerationFinished``.

    ``InvalidInput``/``Overloaded`` from ``submit`` surface at the first ``__anext__``, before any event.
    The scheduler must have been built with ``dispatch=dispatch_to_loops``.
    """
    sink = LoopSink(asyncio.get_running_loop())
    request = scheduler.submit(prompt_ids, sampling, sink, request_id, constraint)
    finished = False
    try:
        yield PromptAccepted(prompt_tokens=len(prompt_ids))
        while True:
            event = await sink.queue.get()
            if isinstance(event, BaseException):
                finished = True
                raise event
            yield event
            if isinstance(event, GenerationFinished):
                finished = True
                return
    finally:
        if not finished:
            scheduler.cancel(request)
