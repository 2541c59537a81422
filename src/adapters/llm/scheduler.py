"""Continuous batching, independent of any tensor library.

``BatchScheduler`` owns the waiting queue and the batch slots and drives a ``DecodeBackend``; one worker
thread calls ``step()`` in a loop. Each step:

1. releases the slots of cancelled requests,
2. admits waiting requests into free slots (``DecodeBackend.start``, which reuses any cached prefix of
   the prompt and says how many prompt tokens it already holds),
3. runs one model step: the token each decoding sequence sampled last, plus the next prompt chunks of
   the sequences still prefilling, at most ``max_prefill_tokens_per_step`` prompt tokens per step (chunked
   prefill: a long prompt joins over several steps while the running streams keep their pace). While
   streams are decoding, the budget also adapts to the measured cost of a step so that one step stays
   within ``step_target_s`` (a token gap of the running streams), whatever the machine's speed or load,
4. samples one token for every decoding sequence (those whose prompt just ended included), each with its
   own settings,
5. emits the events (one ``dispatch`` call per step) and releases the slots of finished sequences at once.

A request may carry a ``TokenConstraint`` (a grammar): the backend applies it to the request's logits row
(``set_processor``) and the scheduler tells it every token the row produced, so only constrained rows pay
for a mask.

The prompt is any token sequence: a continuation (a prompt plus text generated earlier) is prefilled like
any other prompt.

Usage counting: ``GenerationFinished.completion_tokens`` counts every sampled token, the EOS token included
(as vLLM and OpenAI do) although EOS is never emitted as a ``TokenGenerated``. A request finishes with
"stop" on any EOS id, "length" once it has ``max_tokens`` tokens, "cancelled" when cancelled or stopped.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from core.domain.errors import InvalidInput, Overloaded, Unavailable
from core.domain.generation import (
    FinishReason,
    GenerationEvent,
    GenerationFinished,
    SamplingParams,
    TokenGenerated,
    TokenLogprob,
    TokenLogprobs,
)
from core.ports.metrics import NO_METRICS, Metrics

log = structlog.get_logger(__name__)

EventSink = Callable[[GenerationEvent | BaseException], None]
"""Receives a request's events; an exception means the request failed and no more events follow."""

TokenText = Callable[[int], tuple[str, tuple[int, ...]]]
"""A token id as (text, exact bytes), for log-probability reports."""

Dispatch = Callable[[list[tuple[EventSink, GenerationEvent | BaseException]]], None]
"""Delivers one step's events; the default calls each sink in the worker thread."""


@dataclass(frozen=True, slots=True)
class PrefillChunk:
    """The next ``token_ids`` of a slot's prompt; ``last``: they end it (its next-token logits are needed)."""

    slot: int
    token_ids: Sequence[int]
    last: bool


class DecodeBackend(Protocol):
    """The model side of the batch: per-slot KV state, logits and samplers.

    Slots are integers in ``range(max_batch_size)``. After a ``step`` each decoded slot, and each slot whose
    last prompt chunk ran, holds the logits of its next token; ``sample`` turns them into token ids with
    the slot's own settings.
    """

    def start(self, slot: int, prompt_ids: Sequence[int], sampling: SamplingParams) -> int:
        """Begin a sequence in ``slot``. Returns how many leading prompt tokens are already in its KV cache
        (a reused prefix; always fewer than the whole prompt); the rest come as ``PrefillChunk`` s."""

    def step(self, chunks: Sequence[PrefillChunk], slots: Sequence[int], token_ids: Sequence[int]) -> None:
        """One forward: each chunk appended to its slot's prompt, and ``token_ids[i]`` to ``slots[i]``
        (every sequence that finished its prompt), in one batch."""

    def sample(self, slots: Sequence[int]) -> list[int]:
        """Pick the next token for each slot from its pending logits (same order as ``slots``)."""

    def sampled_logprobs(self, slot: int) -> tuple[float, list[tuple[int, float]]] | None:
        """The log-probability of the token ``slot`` sampled last and the (token id, log-probability)
        pairs of the most likely ones, when its ``SamplingParams.logprobs`` asks for them."""

    def release(self, slot: int) -> None:
        """Forget the slot's sequence; it may be reused by the next ``prefill``."""

    def set_processor(self, slot: int, processor: Callable[[Any], Any]) -> None:
        """Apply ``processor`` to the slot's logits before each of its tokens is chosen (until released)."""


class TokenConstraint(Protocol):
    """A per-request logits processor that follows the tokens its row produced (a grammar matcher)."""

    def __call__(self, logits: Any) -> Any: ...

    def accept(self, token_id: int) -> None: ...


class TextStream(Protocol):
    """Incremental detokenizer of one sequence."""

    def push(self, token_id: int) -> str:
        """Text that became printable with this token (empty while a UTF-8 sequence is incomplete)."""

    def flush(self) -> str:
        """Whatever is still held back, at the end of the sequence."""


STEP_TARGET_S = 0.15
"""How long one step may take while streams are decoding: their token gap, with room below 300 ms."""
# A long prompt always progresses, even when decoding alone exceeds the target; small, because at a long
# context each prompt token's attention costs milliseconds (32 tokens at 5,000 took ~300 ms on 2 cores).
MIN_PREFILL_CHUNK = 8
_SMOOTHING = 0.3  # weight of the newest measurement in the running estimates


class StepCostModel:
    """Estimates a step's duration as ``decode + prompt_tokens * per_token`` from the steps measured so
    far (exponentially smoothed, so it follows a growing attention span and the machine's load), and
    turns it into the prompt tokens that fit within the target while streams are decoding."""

    def __init__(self, target_s: float) -> None:
        self.target_s = target_s
        self.decode_s = 0.0  # a step of the decoding rows alone
        self.per_token_s: float | None = None  # each prompt token on top

    def observe(self, decoding: int, prompt_tokens: int, elapsed_s: float) -> None:
        if prompt_tokens:
            base = self.decode_s if decoding else 0.0
            sample = max(0.0, elapsed_s - base) / prompt_tokens
            previous = self.per_token_s
            # up at once (a step that overran must not repeat), down smoothly
            self.per_token_s = (
                sample if previous is None or sample > previous else previous + _SMOOTHING * (sample - previous)
            )
        elif decoding:
            self.decode_s += _SMOOTHING * (elapsed_s - self.decode_s)

    def prefill_tokens(self, budget: int) -> int:
        """At most ``budget`` prompt tokens, fewer when the estimate says they would overrun the target."""
        if not self.per_token_s:  # nothing measured yet
            return budget
        fitting = int((self.target_s - self.decode_s) / self.per_token_s)
        return max(min(budget, MIN_PREFILL_CHUNK), min(budget, fitting))


class ScheduledRequest:
    """Handle of one submitted request. Only the scheduler mutates it."""

    __slots__ = (
        "cancelled",
        "constraint",
        "finish_reason",
        "generated",
        "last_token",
        "prefilled",
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
        constraint: TokenConstraint | None = None,
    ) -> None:
        self.prompt_ids = prompt_ids
        self.constraint = constraint
        self.sampling = sampling
        self.sink = sink
        self.text = text
        self.request_id = request_id
        self.slot: int | None = None
        self.prefilled = 0  # prompt tokens in the KV cache (reused from the prefix cache or computed)
        self.generated = 0
        self.last_token = -1
        self.cancelled = False
        self.finish_reason: FinishReason | None = None

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None


def _token_id_text(token_id: int) -> tuple[str, tuple[int, ...]]:
    text = str(token_id)
    return text, tuple(text.encode())


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
        max_prefill_tokens_per_step: int = 512,
        metrics: Metrics = NO_METRICS,
        token_text: TokenText | None = None,
        step_target_s: float = STEP_TARGET_S,
        clock: Callable[[], float] = time.perf_counter,
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
        if max_prefill_tokens_per_step < 1:
            raise ValueError("max_prefill_tokens_per_step must be at least 1")
        self._prefill_budget = max_prefill_tokens_per_step
        self._step_cost = StepCostModel(step_target_s)
        self._clock = clock
        self.metrics = metrics
        self._token_text = token_text or _token_id_text
        self._kv_capacity = max(1, max_batch_size * context_length)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: deque[ScheduledRequest] = deque()
        self._running: list[ScheduledRequest] = []  # decoding, kept sorted by slot
        self._prefilling: list[ScheduledRequest] = []  # admitted, prompt not fully in the cache yet
        self._free_slots = list(range(max_batch_size))  # a heap: the lowest free slot first
        self._cancel_requested = False
        self._stopping = False
        self._worker_running = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # -- any thread -------------------------------------------------------------------------------

    @property
    def running_count(self) -> int:
        """Sequences holding a batch slot (decoding or still prefilling their prompt)."""
        return len(self._running) + len(self._prefilling)

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
        constraint: TokenConstraint | None = None,
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
        request = ScheduledRequest(prompt_ids, sampling, sink, self._new_text_stream(), request_id, constraint)
        with self._lock:
            if self._stopping:
                raise Unavailable("the language model is shutting down")
            if len(self._waiting) + self.running_count >= self.max_batch_size + self.max_queued_requests:
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
                    while not (self._stopping or self._waiting or self._running or self._prefilling):
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
        self._admit(events)
        if not (self._running or self._prefilling):
            if events:
                self._dispatch(events)
            self._report_load()
            return False
        chunks, completing = self._plan_chunks()
        decoding = len(self._running)
        started = self._clock()
        self._backend.step(
            chunks,
            [request.slot for request in self._running],  # type: ignore[misc]
            [request.last_token for request in self._running],
        )
        if completing:
            done = {id(request) for request in completing}
            self._prefilling = [request for request in self._prefilling if id(request) not in done]
            self._running = sorted([*self._running, *completing], key=lambda r: r.slot)  # type: ignore[arg-type,return-value]
        if self._running:
            self._sample_running(events)  # every decoding sequence has fresh logits now
        self._step_cost.observe(decoding, sum(len(c.token_ids) for c in chunks), self._clock() - started)
        if events:
            self._dispatch(events)
        self._report_load()
        return True

    def _sample_running(self, events: list[tuple[EventSink, GenerationEvent | BaseException]]) -> None:
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
                if request.constraint is not None:
                    request.constraint.accept(token)
                text = request.text.push(token)
                logprobs = self._logprobs(request, token) if request.sampling.logprobs is not None else None
                if request.generated >= request.sampling.max_tokens:
                    events.append((request.sink, TokenGenerated(token, text + request.text.flush(), logprobs)))
                    self._finish(request, "length", events)
                else:
                    events.append((request.sink, TokenGenerated(token, text, logprobs)))
                    request.last_token = token
                    still_running.append(request)
        self._running = still_running

    def _logprobs(self, request: ScheduledRequest, token: int) -> TokenLogprobs | None:
        sampled = self._backend.sampled_logprobs(request.slot)  # type: ignore[arg-type]
        if sampled is None:
            return None
        chosen, top = sampled
        return TokenLogprobs(self._describe(token, chosen), tuple(self._describe(i, lp) for i, lp in top))

    def _describe(self, token_id: int, logprob: float) -> TokenLogprob:
        text, raw = self._token_text(token_id)
        return TokenLogprob(text, raw, logprob)

    def _plan_chunks(self) -> tuple[list[PrefillChunk], list[ScheduledRequest]]:
        """The next prompt chunks, first admitted first, within the per-step prompt token budget."""
        budget = self._prefill_budget
        if self._running:  # streams are waiting for this step: keep it within the step target
            budget = self._step_cost.prefill_tokens(budget)
        chunks: list[PrefillChunk] = []
        completing: list[ScheduledRequest] = []
        for request in self._prefilling:
            if budget <= 0:
                break
            start = request.prefilled
            end = min(len(request.prompt_ids), start + budget)
            last = end == len(request.prompt_ids)
            chunks.append(PrefillChunk(request.slot, request.prompt_ids[start:end], last))  # type: ignore[arg-type]
            budget -= end - start
            request.prefilled = end
            if last:
                completing.append(request)
        return chunks, completing

    def _report_load(self) -> None:
        """Running and waiting counts and the KV cache share the live sequences hold."""
        usage = getattr(self._backend, "kv_cache_usage", None)
        if callable(usage):
            ratio = float(usage())
        else:
            held = sum(len(r.prompt_ids) + r.generated for r in self._running)
            ratio = (held + sum(r.prefilled for r in self._prefilling)) / self._kv_capacity
        self.metrics.engine_load(self.running_count, len(self._waiting), min(1.0, ratio))

    def _admit(self, events: list[tuple[EventSink, GenerationEvent | BaseException]]) -> None:
        """Start waiting requests in free slots while the prompts already being prefilled leave budget."""
        while True:
            with self._lock:
                if not self._waiting or not self._free_slots:
                    return
                pending = sum(len(r.prompt_ids) - r.prefilled for r in self._prefilling)
                if pending >= self._prefill_budget:  # later requests may reuse this step's prefixes
                    return
                request = self._waiting.popleft()
                request.slot = heapq.heappop(self._free_slots)
            try:
                cached = self._backend.start(request.slot, request.prompt_ids, request.sampling)
                if request.constraint is not None:
                    self._backend.set_processor(request.slot, request.constraint)
            except Exception as error:
                log.exception("llm.scheduler.start_failed")
                self._release(request, "cancelled")
                events.append((request.sink, Unavailable(f"generation failed: {error}")))
                continue
            self.metrics.prefix_cache(len(request.prompt_ids), cached)
            request.prefilled = cached
            self._prefilling.append(request)

    def _reap_cancelled(self, events: list[tuple[EventSink, GenerationEvent | BaseException]] | None) -> None:
        with self._lock:
            self._cancel_requested = False
        sink_events = events if events is not None else []
        kept: list[ScheduledRequest] = []
        for request in self._running:
            if request.cancelled:
                self._finish(request, "cancelled", sink_events)
            else:
                kept.append(request)
        self._running = kept
        still_prefilling: list[ScheduledRequest] = []
        for request in self._prefilling:
            if request.cancelled:
                self._finish(request, "cancelled", sink_events)
            else:
                still_prefilling.append(request)
        self._prefilling = still_prefilling
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
        for request in [*self._running, *self._prefilling]:
            self._release(request, "cancelled")
            failures.append((request.sink, Unavailable(f"generation failed: {error}")))
        self._running = []
        self._prefilling = []
        self._dispatch(failures)

    def _cancel_everything(self) -> None:
        events: list[tuple[EventSink, GenerationEvent | BaseException]] = []
        with self._lock:
            waiting = list(self._waiting)
            self._waiting.clear()
        for request in [*self._running, *self._prefilling, *waiting]:
            request.cancelled = True
            self._finish(request, "cancelled", events)
        self._running = []
        self._prefilling = []
        if events:
            self._dispatch(events)
        self._report_load()
