"""The batching scheduler with a hand-written fake backend: no torch, no model."""

from __future__ import annotations

import pytest

from adapters.llm.detokenizer import IncrementalDetokenizer
from adapters.llm.scheduler import BatchScheduler, Sequence
from core.domain.errors import Overloaded
from core.domain.generation import GenerationFinished, SamplingParams, TokenGenerated

EOS = 0


class FakeDecodeBackend:
    """Each sequence produces ``script[prompt_ids[0]]`` token by token, then EOS."""

    def __init__(self, max_rows: int, scripts: dict[int, list[int]]) -> None:
        self.max_rows = max_rows
        self.scripts = scripts
        self.rows: list[Sequence] = []
        self.added: list[int] = []
        self.removed: list[int] = []
        self.step_sizes: list[int] = []
        self.params_seen: dict[int, SamplingParams] = {}

    def _next(self, sequence: Sequence) -> int:
        script = self.scripts[sequence.prompt_ids[0]]
        produced = len(sequence.generated)
        return script[produced] if produced < len(script) else EOS

    def add(self, sequence: Sequence) -> int:
        assert len(self.rows) < self.max_rows
        self.rows.append(sequence)
        self.added.append(sequence.prompt_ids[0])
        self.params_seen[sequence.prompt_ids[0]] = sequence.sampling
        return self._next(sequence)

    def step(self, sequences: list[Sequence]) -> list[int]:
        assert set(map(id, sequences)) == set(map(id, self.rows)), "step must cover exactly the running rows"
        self.step_sizes.append(len(sequences))
        return [self._next(s) for s in sequences]

    def remove(self, sequence: Sequence) -> None:
        self.rows.remove(sequence)
        self.removed.append(sequence.prompt_ids[0])


def make_sequence(key: int, max_tokens: int = 100, events: list | None = None, **params: object) -> Sequence:
    log = events if events is not None else []
    return Sequence([key], SamplingParams(max_tokens=max_tokens, **params), log.append,  # type: ignore[arg-type]
                    IncrementalDetokenizer(lambda ids: "".join(chr(96 + i) for i in ids)))


def run_until_idle(scheduler: BatchScheduler, limit: int = 100) -> None:
    for _ in range(limit):
        if scheduler.running_count == 0 and scheduler.waiting_count == 0:
            return
        scheduler.run_once()
    raise AssertionError("scheduler did not go idle")


def test_tokens_then_stop_on_eos_with_text_and_counts() -> None:
    backend = FakeDecodeBackend(4, {1: [1, 2, 3]})
    events: list = []
    scheduler = BatchScheduler(backend, {EOS}, max_queued=4)
    scheduler.submit(make_sequence(1, events=events))
    run_until_idle(scheduler)
    tokens = [e for e in events if isinstance(e, TokenGenerated)]
    assert "".join(t.text for t in tokens) == "abc"
    assert events[-1] == GenerationFinished(reason="stop", completion_tokens=4)  # EOS counted, never shown
    assert backend.removed == [1]


def test_max_tokens_gives_length() -> None:
    events: list = []
    scheduler = BatchScheduler(FakeDecodeBackend(4, {1: [5] * 50}), {EOS}, max_queued=4)
    scheduler.submit(make_sequence(1, max_tokens=3, events=events))
    run_until_idle(scheduler)
    assert events[-1] == GenerationFinished(reason="length", completion_tokens=3)
    assert sum(isinstance(e, TokenGenerated) for e in events) == 3


def test_new_requests_join_between_steps_without_waiting_for_the_batch_to_drain() -> None:
    backend = FakeDecodeBackend(4, {1: [5] * 20, 2: [6] * 3})
    scheduler = BatchScheduler(backend, {EOS}, max_queued=4)
    scheduler.submit(make_sequence(1))
    scheduler.run_once()
    scheduler.run_once()
    scheduler.submit(make_sequence(2))
    scheduler.run_once()
    assert backend.added == [1, 2]
    assert backend.step_sizes[-1] == 2, "the newcomer is decoded in the same step as the running one"
    run_until_idle(scheduler)
    assert backend.removed == [2, 1], "the short request leaves first, the long one keeps running"


def test_each_sequence_keeps_its_own_settings() -> None:
    backend = FakeDecodeBackend(4, {1: [5], 2: [6]})
    scheduler = BatchScheduler(backend, {EOS}, max_queued=4)
    scheduler.submit(make_sequence(1, temperature=0.0, seed=1, top_k=3))
    scheduler.submit(make_sequence(2, temperature=1.3, seed=9, top_p=0.5))
    run_until_idle(scheduler)
    assert (backend.params_seen[1].temperature, backend.params_seen[1].seed, backend.params_seen[1].top_k) == (0.0, 1, 3)
    assert (backend.params_seen[2].temperature, backend.params_seen[2].seed, backend.params_seen[2].top_p) == (1.3, 9, 0.5)


def test_cancel_frees_the_row_within_one_step_and_reports_cancelled() -> None:
    backend = FakeDecodeBackend(1, {1: [5] * 50, 2: [6, 6]})
    events: list = []
    scheduler = BatchScheduler(backend, {EOS}, max_queued=4)
    first = make_sequence(1, events=events)
    scheduler.submit(first)
    scheduler.run_once()
    scheduler.submit(make_sequence(2))
    scheduler.cancel(first)
    scheduler.run_once()
    assert backend.removed[0] == 1
    assert backend.added == [1, 2], "the freed row went to the waiting request at the same step"
    assert events[-1].reason == "cancelled"


def test_cancelled_while_waiting_never_reaches_the_model() -> None:
    backend = FakeDecodeBackend(1, {1: [5] * 50, 2: [6]})
    events: list = []
    scheduler = BatchScheduler(backend, {EOS}, max_queued=4)
    scheduler.submit(make_sequence(1))
    waiting = make_sequence(2, events=events)
    scheduler.submit(waiting)
    scheduler.run_once()
    scheduler.cancel(waiting)
    scheduler.run_once()
    assert 2 not in backend.added
    assert events == [GenerationFinished(reason="cancelled", completion_tokens=0)]


def test_full_queue_is_refused_at_once() -> None:
    scheduler = BatchScheduler(FakeDecodeBackend(2, {}), {EOS}, max_queued=1)
    for key in range(3):  # two fill the rows, one waits
        scheduler.submit(make_sequence(key))
    with pytest.raises(Overloaded) as error:
        scheduler.submit(make_sequence(9))
    assert error.value.retry_after_seconds >= 1


def test_a_failing_step_fails_its_readers_instead_of_hanging() -> None:
    class Broken(FakeDecodeBackend):
        def step(self, sequences):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    events: list = []
    scheduler = BatchScheduler(Broken(2, {1: [5, 5]}), {EOS}, max_queued=2)
    scheduler.submit(make_sequence(1, events=events))
    scheduler.run_once()
    assert isinstance(events[-1], RuntimeError)
    assert scheduler.running_count == 0


def test_stop_ends_waiting_and_running_readers() -> None:
    events: list = []
    scheduler = BatchScheduler(FakeDecodeBackend(1, {1: [5] * 50, 2: [5]}), {EOS}, max_queued=2)
    scheduler.submit(make_sequence(1, events=events))
    scheduler.submit(make_sequence(2, events=events))
    scheduler.run_once()
    scheduler.stop(timeout=0)  # asks to stop; the loop below then ends at once
    scheduler.run_forever()
    assert sum(isinstance(e, RuntimeError) for e in events) == 2


def test_detokenizer_holds_back_incomplete_characters() -> None:
    pieces = {1: "caf", 2: "\ufffd", 3: "é"}

    def decode(ids: list[int]) -> str:
        text = "".join(pieces[i] for i in ids)
        return text.replace("\ufffdé", "é")  # 2 then 3 form one character

    detokenizer = IncrementalDetokenizer(decode)
    assert detokenizer.push(1) == "caf"
    assert detokenizer.push(2) == ""
    assert detokenizer.push(3) == "é"
