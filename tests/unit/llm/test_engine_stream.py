"""The asyncio bridge: a worker thread runs the scheduler over the fake backend, readers await events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence

import pytest

from adapters.llm.detokenizer import IncrementalDetokenizer
from adapters.llm.engine import dispatch_to_loops, stream_events
from adapters.llm.scheduler import BatchScheduler
from core.domain.errors import InvalidInput, Overloaded
from core.domain.generation import GenerationFinished, PromptAccepted, SamplingParams, TokenGenerated
from tests.unit.llm.test_scheduler import EOS, FakeDecodeBackend, letters


class SlowFakeBackend(FakeDecodeBackend):
    """Each decode step takes a little time, like a real model."""

    def decode(self, slots: Sequence[int], token_ids: Sequence[int]) -> None:
        time.sleep(0.002)
        super().decode(slots, token_ids)


@pytest.fixture
def backend() -> SlowFakeBackend:
    return SlowFakeBackend({1: [1, 2, 3], 2: [5] * 10_000})


@pytest.fixture
def scheduler(backend: SlowFakeBackend) -> Iterator[BatchScheduler]:
    scheduler = BatchScheduler(
        backend,
        max_batch_size=2,
        max_queued_requests=1,
        context_length=100_000,
        eos_token_ids={EOS},
        new_text_stream=lambda: IncrementalDetokenizer(letters),
        dispatch=dispatch_to_loops,
    )
    scheduler.start()
    yield scheduler
    scheduler.stop()


async def collect(scheduler: BatchScheduler, key: int, max_tokens: int = 1000) -> list:
    return [e async for e in stream_events(scheduler, [key], SamplingParams(max_tokens=max_tokens))]


async def wait_for(condition, limit_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def test_events_arrive_in_order_prompt_tokens_then_finish(scheduler: BatchScheduler) -> None:
    events = await collect(scheduler, 1)
    assert events[0] == PromptAccepted(prompt_tokens=1)
    assert [e.text for e in events[1:-1]] == ["a", "b", "c"]
    assert all(isinstance(e, TokenGenerated) for e in events[1:-1])
    assert events[-1] == GenerationFinished(reason="stop", completion_tokens=4)


async def test_concurrent_streams_each_get_their_own_events(scheduler: BatchScheduler) -> None:
    short, long = await asyncio.gather(collect(scheduler, 1), collect(scheduler, 2, max_tokens=30))
    assert short[-1] == GenerationFinished("stop", 4)
    assert long[-1] == GenerationFinished("length", 30)
    assert {e.token_id for e in long if isinstance(e, TokenGenerated)} == {5}


async def test_errors_are_raised_before_the_first_event(scheduler: BatchScheduler) -> None:
    stream = stream_events(scheduler, [1] * 60, SamplingParams(max_tokens=100_000))
    with pytest.raises(InvalidInput):
        await anext(stream)


async def test_a_full_queue_raises_overloaded_before_the_first_event(scheduler: BatchScheduler) -> None:
    streams = [stream_events(scheduler, [2], SamplingParams(max_tokens=10_000)) for _ in range(4)]
    for stream in streams[:3]:  # two running, one waiting
        await anext(stream)
    with pytest.raises(Overloaded):
        await anext(streams[3])
    for stream in streams[:3]:
        await stream.aclose()


async def test_closing_a_stream_cancels_it_and_frees_its_slot(
    scheduler: BatchScheduler, backend: SlowFakeBackend
) -> None:
    stream = stream_events(scheduler, [2], SamplingParams(max_tokens=10_000))
    async for event in stream:
        if isinstance(event, TokenGenerated):
            break
    await stream.aclose()
    await wait_for(lambda: scheduler.running_count == 0)
    assert backend.released == [0]
    assert scheduler.free_slot_count == 2


async def test_cancelling_the_reading_task_cancels_the_request(scheduler: BatchScheduler) -> None:
    task = asyncio.create_task(collect(scheduler, 2, max_tokens=10_000))
    await wait_for(lambda: scheduler.running_count == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for(lambda: scheduler.running_count == 0)
