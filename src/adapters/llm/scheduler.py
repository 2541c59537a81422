"""Continuous batching, independent of torch.

One worker thread owns the model. Between two decode steps it admits waiting requests into free
rows (prefill), then decodes one token for every running sequence at once. Each sequence keeps
its own sampling settings, seed, token limit and EOS handling; a finished or cancelled sequence
leaves the batch at once, so its row is free for the next request at the next step.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from core.domain.errors import Overloaded
from core.domain.generation import FinishReason, GenerationFinished, SamplingParams, TokenGenerated

from adapters.llm.detokenizer import IncrementalDetokenizer

log = structlog.get_logger(__name__)

# Receives TokenGenerated, GenerationFinished, or an Exception to raise at the reader. Called from
# the worker thread; implementations hand the item over to the reader's event loop.
Emit = Callable[[object], None]


@dataclass(eq=False)
class Sequence:
    prompt_ids: list[int]
    sampling: SamplingParams
    emit: Emit
    detokenizer: IncrementalDetokenizer
    generated: list[int] = field(default_factory=list)
    cancelled: bool = False
    done: bool = False

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.generated)


class DecodeBackend(Protocol):
    """The model side of the scheduler: owns rows of KV cache and samples tokens."""

    max_rows: int

    def add(self, sequence: Sequence) -> int:
        """Prefill the prompt into a free row and return the first sampled token."""

    def step(self, sequences: list[Sequence]) -> list[int]:
        """Decode one token for each of these sequences (all added, in any order)."""

    def remove(self, sequence: Sequence) -> None:
        """Free the sequence's row."""


class BatchScheduler:
    def __init__(self, backend: DecodeBackend, eos_token_ids: set[int], *, max_queued: int) -> None:
        self._backend = backend
        self._eos = eos_token_ids
        self._max_queued = max_queued
        self._waiting: deque[Sequence] = deque()
        self._running: list[Sequence] = []
        self._wakeup = threading.Condition()
        self._stopping = False
        self._stopped = threading.Event()
        self.steps = 0  # decode steps taken, for tests and metrics

    # -- called from any thread -------------------------------------------------------------

    def submit(self, sequence: Sequence) -> None:
        with self._wakeup:
            if self._stopping:
                raise RuntimeError("the scheduler is stopped")
            # Waiting requests that a free row will take at the next step are not "queued".
            queued = len(self._running) + len(self._waiting) - self._backend.max_rows
            if queued >= self._max_queued:
                raise Overloaded(
                    f"The server is busy: {len(self._running)} sequences running and {len(self._waiting)} "
                    "waiting. Retry shortly.",
                    retry_after_seconds=1,
                )
            self._waiting.append(sequence)
            self._wakeup.notify()

    def cancel(self, sequence: Sequence) -> None:
        with self._wakeup:
            sequence.cancelled = True
            self._wakeup.notify()

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def waiting_count(self) -> int:
        return len(self._waiting)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask ``run_forever`` to end (readers of unfinished sequences get an error) and wait for it."""
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify()
        self._stopped.wait(timeout)

    # -- the worker thread ------------------------------------------------------------------

    def run_forever(self) -> None:
        while True:
            with self._wakeup:
                while not self._stopping and not self._waiting and not self._running:
                    self._wakeup.wait()
                if self._stopping:
                    break
            self.run_once()
        self._abort_all(RuntimeError("the model is shutting down"))
        self._stopped.set()

    def run_once(self) -> None:
        """One iteration: drop cancelled sequences, admit waiting ones, decode one step."""
        self._sweep()
        self._admit()
        if self._running:
            try:
                tokens = self._backend.step(self._running)
            except Exception as error:  # a broken step must not hang every reader
                log.exception("llm.step.failed")
                for sequence in list(self._running):
                    self._fail(sequence, error)
                return
            self.steps += 1
            for sequence, token in zip(list(self._running), tokens, strict=True):
                self._accept(sequence, token)

    def _admit(self) -> None:
        while len(self._running) < self._backend.max_rows:
            with self._wakeup:
                if not self._waiting:
                    return
                sequence = self._waiting.popleft()
            if sequence.cancelled:
                self._finish(sequence, "cancelled", in_batch=False)
                continue
            try:
                token = self._backend.add(sequence)
            except Exception as error:
                log.exception("llm.prefill.failed")
                sequence.done = True
                sequence.emit(error)
                continue
            self._running.append(sequence)
            self._accept(sequence, token)

    def _accept(self, sequence: Sequence, token: int) -> None:
        if sequence.done:
            return
        sequence.generated.append(token)
        if token in self._eos:
            self._finish(sequence, "stop")
            return
        sequence.emit(TokenGenerated(token_id=token, text=sequence.detokenizer.push(token)))
        if len(sequence.generated) >= sequence.sampling.max_tokens:
            self._finish(sequence, "length")

    def _sweep(self) -> None:
        for sequence in [s for s in self._running if s.cancelled]:
            self._finish(sequence, "cancelled")
        with self._wakeup:
            cancelled = [s for s in self._waiting if s.cancelled]
            for sequence in cancelled:
                self._waiting.remove(sequence)
        for sequence in cancelled:
            self._finish(sequence, "cancelled", in_batch=False)

    def _finish(self, sequence: Sequence, reason: FinishReason, *, in_batch: bool = True) -> None:
        sequence.done = True
        if in_batch and sequence in self._running:
            self._running.remove(sequence)
            self._backend.remove(sequence)
        sequence.emit(GenerationFinished(reason=reason, completion_tokens=len(sequence.generated)))

    def _fail(self, sequence: Sequence, error: Exception) -> None:
        sequence.done = True
        if sequence in self._running:
            self._running.remove(sequence)
            try:
                self._backend.remove(sequence)
            except Exception:
                log.exception("llm.remove.failed")
        sequence.emit(error)

    def _abort_all(self, error: Exception) -> None:
        with self._wakeup:
            waiting = list(self._waiting)
            self._waiting.clear()
        for sequence in [*self._running, *waiting]:
            self._fail(sequence, error)
