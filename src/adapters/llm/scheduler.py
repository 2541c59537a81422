"""Continuous batching, independent of any tensor library.

``BatchScheduler`` owns the waiting queue and the batch slots and drives a ``DecodeBackend``; one worker
thread calls ``step()`` in a loop. Each step:

1. releases the slots of cancelled requests,
2. admits waiting requests into free slots and prefills them together (new requests never wait for the
   running batch to drain),
3. samples one token for every running sequence, each with its own settings,
4. emits the events (one ``dispatch`` call per step) and releases the slots of finished sequences at once,
5. runs one batched decode step for the sequences still running.

Because every running sequence has fresh logits after step 2 (prefill) or step 5 (decode), step 3 is a
single ``sample`` call over the whole batch.

Usage counting: ``GenerationFinished.completion_tokens`` counts every sampled token, the EOS token included
(as vLLM and OpenAI do) although EOS is never emitted as a ``TokenGenerated``. A request finishes with
"stop" on any EOS id, "length" once it has ``max_tokens`` tokens, "cancelled" when cancelled or stopped.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from core.domain.errors import InvalidInput, Overloaded, Unavailable
from core.domain.generation import (
    FinishReason,
    GenerationEvent,
    GenerationFinished,
    SamplingParams,
    TokenGenerated,
)
from core.ports.metrics import NO_METRICS, Metrics

log = structlog.get_logger(__name__)

EventSink = Callable[[GenerationEvent | BaseException], None]
"""Receives a request's events; an exception means the request failed and no more events follow."""

Dispatch = Callable[[list[tuple[EventSink, GenerationEvent | BaseException]]], None]
"""Delivers one step's events; the default calls each sink in the worker thread."""


@dataclass(frozen=True, slots=True)
class PrefillItem:
    slot: int
    prompt_ids: Sequence[int]
    sampling: SamplingParams


class DecodeBackend(Protocol):
    """The model side of the batch: per-slot KV state, logits and samplers.

    Slots are integers in ``range(max_batch_size)``. After ``prefill`` or ``decode`` each listed slot holds
    the logits of its next token; ``sample`` turns them into token ids with the slot's own settings.
    """

    def prefill(self, items: Sequence[PrefillItem]) -> None:
        """Start a sequence in each item's slot from its prompt (the slot's old state is discarded)."""

    def decode(self, slots: Sequence[int], token_ids: Sequence[int]) -> None:
        """Append one token to each slot's sequence and compute its next logits, in one batch."""

    def sample(self, slots: Sequence[int]) -> list[int]:
        """Pick the next token for each slot from its pending logits (same order as ``slots``)."""

    def release(self, slot: int) -> None:
        """Forget the slot's sequence; it may be reused by the next ``prefill``."""


class TextStream(Protocol):
    """Incremental detokenizer of one sequence."""

    def push(self, token_id: int) -> str:
        """Text that became printable with this token (empty while a UTF-8 sequence is incomplete)."""

    def flush(self) -> str:
        """Whatever is still held back, at the end of the sequence."""


class ScheduledRequest:
    """Handle of one submitted request. Only the scheduler mutates it."""

    __slots__ = (
        "cancelled",
        "finish_reason",
        "generated",
        "last_token",
        "prompt_ids",
        "request_id",
        "sampling",
        "sink",
        "slot",
        "text",
    )

    def __init__(
        self,
        prompt_ids: Sequence[int],
        sampling: SamplingParams,
        sink: EventSink,
        text: TextStream,
        request_id: str,
    ) -> None:
        self.prompt_ids = prompt_ids
        self.sampling = sampling
        self.sink = sink
        self.text = text
        self.request_id = request_id
        self.slot: int | None = None
        self.generated = 0
        self.last_token = -1
        self.cancelled = False
        self.finish_reason: FinishReason | None = None

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None


def _call_each(events: list[tuple[EventSink, GenerationEvent | BaseException]]) -> None:
    for sink, event in events:
        sink(event)


class BatchScheduler:
    """Queue, admission, slots, cancellation and stop checks around a ``DecodeBackend``.

    ``submit`` and ``cancel`` are thread-safe. ``step`` runs one scheduling iteration; ``start`` runs it in
    a dedicated worker thread, which must be the only thread touching the backend.
    """

    def __init__(
        self,
        backend: DecodeBackend,
        *,
        max_batch_size: int,
        max_queued_requests: int,
        context_length: int,
        eos_token_ids: Collection[int],
        new_text_stream: Callable[[], TextStream],
        dispatch: Dispatch = _call_each,
        prefill_token_budget: int = 2048,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if max_queued_requests < 0:
            raise ValueError("max_queued_requests must not be negative")
        self._backend = backend
        self.max_batch_size = max_batch_size
        self.max_queued_requests = max_queued_requests
        self.context_length = context_length
        self._eos = frozenset(eos_token_ids)
        self._new_text_stream = new_text_stream
        self._dispatch = dispatch
        self._prefill_token_budget = prefill_token_budget
        self.metrics = metrics
        self._kv_capacity = max(1, max_batch_size * context_length)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: deque[ScheduledRequest] = deque()
        self._running: list[ScheduledRequest] = []  # kept sorted by slot
        self._free_slots = list(range(max_batch_size))  # a heap: the lowest free slot first
        self._cancel_requested = False
        self._stopping = False
        self._worker_running = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # -- any thread -------------------------------------------------------------------------------

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def waiting_count(self) -> int:
        return len(self._waiting)

    @property
    def free_slot_count(self) -> int:
        return len(self._free_slots)

    def submit(
        self,
        prompt_ids: Sequence[int],
        sampling: SamplingParams,
        sink: EventSink,
        request_id: str = "",
    ) -> ScheduledRequest:
        """Queue a request. Raises ``InvalidInput`` or ``Overloaded`` at once, never later."""
        prompt_tokens = len(prompt_ids)
        if sampling.max_tokens < 1:
            raise InvalidInput("max_tokens must be at least 1", field="max_tokens")
        if prompt_tokens < 1:
            raise InvalidInput("the prompt is empty", field="messages")
        if prompt_tokens + sampling.max_tokens > self.context_length:
            raise InvalidInput(
                f"This model's maximum context length is {self.context_length} tokens; the request asks for "
                f"{prompt_tokens + sampling.max_tokens} tokens ({prompt_tokens} in the messages, "
                f"{sampling.max_tokens} for the completion). Shorten the messages or lower max_tokens.",
                field="messages",
                code="context_length_exceeded",
            )
        request = ScheduledRequest(prompt_ids, sampling, sink, self._new_text_stream(), request_id)
        with self._lock:
            if self._stopping:
                raise Unavailable("the language model is shutting down")
            if len(self._waiting) + len(self._running) >= self.max_batch_size + self.max_queued_requests:
                raise Overloaded(
                    f"{self.max_queued_requests} requests are already waiting for the model; retry shortly",
                    retry_after_seconds=1,
                )
            self._waiting.append(request)
            self._wake.notify()
        self._report_load()
        return request

    def cancel(self, request: ScheduledRequest) -> None:
        """Stop a request; its slot is freed at the start of the next step. Idempotent."""
        with self._lock:
            if request.finished or request.cancelled:
                return
            request.cancelled = True
            if request.slot is None:
                try:
                    self._waiting.remove(request)
                except ValueError:
                    pass
                request.finish_reason = "cancelled"
            else:
                self._cancel_requested = True
                self._wake.notify()

    def start(self) -> None:
        """Run ``run_forever`` in a daemon worker thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self.run_forever, name="llm-batch-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """End the worker loop; every unfinished request gets ``GenerationFinished("cancelled")``."""
        with self._lock:
            self._stopping = True
            worker = self._worker_running
            self._wake.notify()
        if worker:
            self._stopped.wait(timeout)  # the worker cancels everything itself, on its own thread
        else:
            self._cancel_everything()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- worker thread ----------------------------------------------------------------------------

    def run_forever(self) -> None:
        """The worker loop: ``step`` while there is work, sleep otherwise, until ``stop``."""
        with self._lock:
            self._worker_running = True
        log.info("llm.scheduler.started", max_batch_size=self.max_batch_size)
        try:
            while True:
                with self._lock:
                    while not (self._stopping or self._waiting or self._running):
                        self._wake.wait()
                    if self._stopping:
                        break
                try:
                    self.step()
                except Exception as error:  # a backend failure must not kill the worker
                    log.exception("llm.scheduler.step_failed")
                    self._fail_running(error)
            self._cancel_everything()
        finally:
            self._stopped.set()
            log.info("llm.scheduler.stopped")

    def step(self) -> bool:
        """One scheduling iteration. Returns whether any sequence ran."""
        events: list[tuple[EventSink, GenerationEvent | BaseException]] = []
        if self._cancel_requested:
            self._reap_cancelled(events)
        self._admit()
        if not self._running:
            if events:
                self._dispatch(events)
            self._report_load()
            return False
        running = self._running
        tokens = self._backend.sample([request.slot for request in running])  # type: ignore[misc]
        still_running: list[ScheduledRequest] = []
        for request, token in zip(running, tokens, strict=True):
            if request.cancelled:
                self._finish(request, "cancelled", events)
            elif token in self._eos:  # counted as generated (as vLLM and OpenAI do), never shown as text
                request.generated += 1
                self._finish(request, "stop", events)
            else:
                request.generated += 1
                text = request.text.push(token)
                if request.generated >= request.sampling.max_tokens:
                    events.append((request.sink, TokenGenerated(token, text + request.text.flush())))
                    self._finish(request, "length", events)
                else:
                    events.append((request.sink, TokenGenerated(token, text)))
                    request.last_token = token
                    still_running.append(request)
        self._running = still_running
        self._dispatch(events)
        if self._cancel_requested:
            self._reap_cancelled(None)
        self._report_load()
        if self._running:
            self._backend.decode(
                [request.slot for request in self._running],  # type: ignore[misc]
                [request.last_token for request in self._running],
            )
        return True

    def _report_load(self) -> None:
        """Running and waiting counts and the KV cache share the running sequences hold."""
        running = self._running
        usage = getattr(self._backend, "kv_cache_usage", None)
        if callable(usage):
            ratio = float(usage())
        else:
            ratio = sum(len(r.prompt_ids) + r.generated for r in running) / self._kv_capacity
        self.metrics.engine_load(len(running), len(self._waiting), min(1.0, ratio))

    def _admit(self) -> None:
        if not self._waiting or not self._free_slots:
            return
        admitted: list[ScheduledRequest] = []
        budget = self._prefill_token_budget
        with self._lock:
            while self._waiting and self._free_slots:
                request = self._waiting[0]
                if admitted and len(request.prompt_ids) > budget:
                    break
                self._waiting.popleft()
                request.slot = heapq.heappop(self._free_slots)
                budget -= len(request.prompt_ids)
                admitted.append(request)
        try:
            self._backend.prefill([PrefillItem(r.slot, r.prompt_ids, r.sampling) for r in admitted])  # type: ignore[arg-type]
        except Exception as error:
            log.exception("llm.scheduler.prefill_failed", requests=len(admitted))
            failures: list[tuple[EventSink, GenerationEvent | BaseException]] = []
            for request in admitted:
                self._release(request, "cancelled")
                failures.append((request.sink, Unavailable(f"generation failed: {error}")))
            self._dispatch(failures)
            return
        self._running = sorted([*self._running, *admitted], key=lambda r: r.slot)  # type: ignore[arg-type,return-value]

    def _reap_cancelled(self, events: list[tuple[EventSink, GenerationEvent | BaseException]] | None) -> None:
        with self._lock:
            self._cancel_requested = False
        kept: list[ScheduledRequest] = []
        sink_events = events if events is not None else []
        for request in self._running:
            if request.cancelled:
                self._finish(request, "cancelled", sink_events)
            else:
                kept.append(request)
        self._running = kept
        if events is None and sink_events:
            self._dispatch(sink_events)

    def _finish(
        self,
        request: ScheduledRequest,
        reason: FinishReason,
        events: list[tuple[EventSink, GenerationEvent | BaseException]],
    ) -> None:
        self._release(request, reason)
        events.append((request.sink, GenerationFinished(reason, request.generated)))

    def _release(self, request: ScheduledRequest, reason: FinishReason) -> None:
        request.finish_reason = reason
        slot = request.slot
        if slot is not None:
            try:
                self._backend.release(slot)
            except Exception:
                log.exception("llm.scheduler.release_failed", slot=slot)
            with self._lock:
                heapq.heappush(self._free_slots, slot)

    def _fail_running(self, error: Exception) -> None:
        failures: list[tuple[EventSink, GenerationEvent | BaseException]] = []
        for request in self._running:
            self._release(request, "cancelled")
            failures.append((request.sink, Unavailable(f"generation failed: {error}")))
        self._running = []
        self._dispatch(failures)

    def _cancel_everything(self) -> None:
        events: list[tuple[EventSink, GenerationEvent | BaseException]] = []
        with self._lock:
            waiting = list(self._waiting)
            self._waiting.clear()
        for request in [*self._running, *waiting]:
            request.cancelled = True
            self._finish(request, "cancelled", events)
        self._running = []
        if events:
            self._dispatch(events)
        self._report_load()
