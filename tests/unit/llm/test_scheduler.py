"""The batching scheduler driven step by step over a hand-written fake backend: no torch, no model."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.llm.detokenizer import IncrementalDetokenizer
from adapters.llm.scheduler import BatchScheduler, PrefillChunk, ScheduledRequest
from core.domain.errors import InvalidInput, Overloaded, Unavailable
from core.domain.generation import GenerationFinished, SamplingParams, TokenGenerated

EOS = 0


class FakeDecodeBackend:
    """A prompt ``[key, ...]`` produces ``scripts[key]`` token by token, then EOS forever.

    With ``echo_seed`` the sampled token is the request's seed instead, to show which settings reached
    which sequence. ``cached`` maps a key to how many prompt tokens its prefix cache "holds". It checks the
    protocol as it goes: start only free slots, chunks only in prompt order and never beyond the prompt,
    decode exactly the slots whose prompt ended, sample only slots with fresh logits.
    """

    def __init__(
        self,
        scripts: dict[int, list[int]] | None = None,
        *,
        echo_seed: bool = False,
        cached: dict[int, int] | None = None,
    ) -> None:
        self.scripts = scripts or {}
        self.echo_seed = echo_seed
        self.cached = cached or {}
        self.active: dict[int, tuple[int, SamplingParams]] = {}  # slot -> (key, params)
        self.prompts: dict[int, list[int]] = {}
        self.filled: dict[int, int] = {}  # slot -> prompt tokens in its "cache"
        self.produced: dict[int, int] = {}
        self.fresh: set[int] = set()
        self.starts: list[tuple[int, int]] = []  # (slot, key)
        self.prefills: list[list[tuple[int, int]]] = []  # per step whose prompts ended: (slot, key)
        self.steps: list[tuple[list[tuple[int, int]], list[int]]] = []  # per step: (slot, chunk length), decoded
        self.decodes: list[list[int]] = []
        self.released: list[int] = []
        self.slots_used: set[int] = set()

    def start(self, slot: int, prompt_ids: Sequence[int], sampling: SamplingParams) -> int:
        assert slot not in self.active, "start in an occupied slot"
        key = prompt_ids[0]
        self.active[slot] = (key, sampling)
        self.prompts[slot] = list(prompt_ids)
        self.filled[slot] = min(self.cached.get(key, 0), len(prompt_ids) - 1)
        self.produced[slot] = 0
        self.slots_used.add(slot)
        self.starts.append((slot, key))
        return self.filled[slot]

    def step(self, chunks: Sequence[PrefillChunk], slots: Sequence[int], token_ids: Sequence[int]) -> None:
        decoding = {s for s in self.active if self.filled[s] == len(self.prompts[s])}
        assert sorted(slots) == sorted(decoding), "decode must cover exactly the slots whose prompt ended"
        assert len(slots) == len(token_ids)
        ended = []
        for chunk in chunks:
            start = self.filled[chunk.slot]
            prompt = self.prompts[chunk.slot]
            assert list(chunk.token_ids) == prompt[start : start + len(chunk.token_ids)], "chunks follow the prompt"
            self.filled[chunk.slot] = start + len(chunk.token_ids)
            assert chunk.last == (self.filled[chunk.slot] == len(prompt))
            if chunk.last:
                self.fresh.add(chunk.slot)
                ended.append((chunk.slot, prompt[0]))
        if ended:
            self.prefills.append(ended)
        self.steps.append(([(c.slot, len(c.token_ids)) for c in chunks], list(slots)))
        if slots:
            self.decodes.append(list(slots))
        self.fresh.update(slots)

    def sample(self, slots: Sequence[int]) -> list[int]:
        tokens = []
        for slot in slots:
            assert slot in self.fresh, "sampling a slot without fresh logits"
            self.fresh.discard(slot)
            key, params = self.active[slot]
            if self.echo_seed:
                tokens.append(params.seed or 99)
                continue
            script = self.scripts.get(key, [])
            index = self.produced[slot]
            self.produced[slot] += 1
            tokens.append(script[index] if index < len(script) else EOS)
        return tokens

    def release(self, slot: int) -> None:
        del self.active[slot]
        self.fresh.discard(slot)
        self.released.append(slot)


def letters(ids: list[int]) -> str:
    return "".join(chr(96 + i) for i in ids)  # 1 -> "a", 2 -> "b", ...


def make_scheduler(
    backend: FakeDecodeBackend, *, batch: int = 4, queued: int = 8, context: int = 100
) -> BatchScheduler:
    return BatchScheduler(
        backend,
        max_batch_size=batch,
        max_queued_requests=queued,
        context_length=context,
        eos_token_ids={EOS},
        new_text_stream=lambda: IncrementalDetokenizer(letters),
    )


def submit(
    scheduler: BatchScheduler,
    key: int,
    events: list | None = None,
    *,
    max_tokens: int = 50,
    prompt_len: int = 1,
    **params: object,
) -> ScheduledRequest:
    sink = events.append if events is not None else (lambda _event: None)
    prompt = [key] + [7] * (prompt_len - 1)
    return scheduler.submit(prompt, SamplingParams(max_tokens=max_tokens, **params), sink)  # type: ignore[arg-type]


def run_until_idle(scheduler: BatchScheduler, limit: int = 200) -> None:
    for _ in range(limit):
        if scheduler.running_count == 0 and scheduler.waiting_count == 0:
            return
        scheduler.step()
    raise AssertionError("the scheduler did not go idle")


def test_tokens_then_one_stop_event_on_eos_with_text_and_usage() -> None:
    backend = FakeDecodeBackend({1: [1, 2, 3]})
    scheduler = make_scheduler(backend)
    events: list = []
    submit(scheduler, 1, events)
    run_until_idle(scheduler)
    assert [type(e) for e in events] == [TokenGenerated] * 3 + [GenerationFinished]
    assert "".join(e.text for e in events[:-1]) == "abc"
    assert [e.token_id for e in events[:-1]] == [1, 2, 3]
    # The EOS token counts as generated (as in vLLM and OpenAI) but is never shown as text.
    assert events[-1] == GenerationFinished(reason="stop", completion_tokens=4)
    assert backend.released == [0] and scheduler.free_slot_count == 4


def test_max_tokens_ends_with_length_after_exactly_that_many_tokens() -> None:
    scheduler = make_scheduler(FakeDecodeBackend({1: [5] * 50}))
    events: list = []
    submit(scheduler, 1, events, max_tokens=3)
    run_until_idle(scheduler)
    assert sum(isinstance(e, TokenGenerated) for e in events) == 3
    assert events[-1] == GenerationFinished(reason="length", completion_tokens=3)


def test_each_request_has_its_own_token_limit_and_eos_in_one_batch() -> None:
    backend = FakeDecodeBackend({1: [5] * 50, 2: [6, 6], 3: [7] * 50})
    scheduler = make_scheduler(backend)
    logs: dict[int, list] = {1: [], 2: [], 3: []}
    submit(scheduler, 1, logs[1], max_tokens=4)
    submit(scheduler, 2, logs[2], max_tokens=10)
    submit(scheduler, 3, logs[3], max_tokens=7)
    run_until_idle(scheduler)
    assert logs[1][-1] == GenerationFinished("length", 4)
    assert logs[2][-1] == GenerationFinished("stop", 3)
    assert logs[3][-1] == GenerationFinished("length", 7)
    assert len(backend.prefills) == 1, "the three waiting requests were prefilled together"


def test_new_requests_join_between_steps_without_waiting_for_the_batch_to_drain() -> None:
    backend = FakeDecodeBackend({1: [5] * 20, 2: [6] * 3})
    scheduler = make_scheduler(backend)
    first: list = []
    submit(scheduler, 1, first)
    scheduler.step()
    scheduler.step()
    submit(scheduler, 2)
    scheduler.step()
    assert backend.prefills == [[(0, 1)], [(1, 2)]], "the newcomer got the free slot at the next step"
    assert backend.steps[-1] == ([(1, 1)], [0]), "its prompt ran in the same forward as the running decode"
    assert not any(isinstance(e, GenerationFinished) for e in first), "while the first one keeps running"
    run_until_idle(scheduler)
    assert backend.released == [1, 0], "the short request left first"


def test_per_request_settings_reach_the_right_sequence() -> None:
    backend = FakeDecodeBackend(echo_seed=True)
    scheduler = make_scheduler(backend)
    logs: dict[int, list] = {1: [], 2: [], 3: []}
    submit(scheduler, 1, logs[1], max_tokens=3, seed=11, temperature=0.0, top_k=3)
    submit(scheduler, 2, logs[2], max_tokens=3, seed=22, temperature=1.3, top_p=0.5)
    submit(scheduler, 3, logs[3], max_tokens=3, seed=33, frequency_penalty=0.5, presence_penalty=0.2)
    scheduler.step()
    settings = {key: params for key, params in backend.active.values()}
    assert (settings[1].temperature, settings[1].top_k) == (0.0, 3)
    assert (settings[2].temperature, settings[2].top_p) == (1.3, 0.5)
    assert (settings[3].frequency_penalty, settings[3].presence_penalty) == (0.5, 0.2)
    run_until_idle(scheduler)
    for key, seed in ((1, 11), (2, 22), (3, 33)):
        assert {e.token_id for e in logs[key] if isinstance(e, TokenGenerated)} == {seed}


def test_cancel_frees_the_slot_within_one_step_for_the_next_request() -> None:
    backend = FakeDecodeBackend({1: [5] * 50, 2: [6, 6]})
    scheduler = make_scheduler(backend, batch=1)
    events: list = []
    first = submit(scheduler, 1, events)
    scheduler.step()
    submit(scheduler, 2)
    assert scheduler.waiting_count == 1
    scheduler.cancel(first)
    scheduler.step()
    assert backend.released == [0]
    assert backend.prefills[-1] == [(0, 2)], "the freed slot went to the waiting request in the same step"
    assert events[-1] == GenerationFinished(reason="cancelled", completion_tokens=1)
    scheduler.cancel(first)  # idempotent


def test_cancelled_while_waiting_never_reaches_the_model() -> None:
    backend = FakeDecodeBackend({1: [5] * 50})
    scheduler = make_scheduler(backend, batch=1)
    submit(scheduler, 1)
    waiting = submit(scheduler, 2)
    scheduler.step()
    scheduler.cancel(waiting)
    assert scheduler.waiting_count == 0
    scheduler.step()
    assert all(key != 2 for batch in backend.prefills for _, key in batch)
    assert waiting.finish_reason == "cancelled"


def test_a_full_queue_is_refused_at_once_and_accepts_again_when_slots_free() -> None:
    backend = FakeDecodeBackend({key: [5] for key in range(10)})
    scheduler = make_scheduler(backend, batch=2, queued=1)
    for key in range(3):  # two fill the slots, one waits
        submit(scheduler, key, max_tokens=1)
    with pytest.raises(Overloaded) as error:
        submit(scheduler, 9)
    assert error.value.retry_after_seconds == 1
    run_until_idle(scheduler)
    submit(scheduler, 9)  # room again


def test_a_prompt_that_does_not_fit_the_context_is_refused_with_both_numbers() -> None:
    backend = FakeDecodeBackend({1: [5]})
    scheduler = make_scheduler(backend, context=100)
    with pytest.raises(InvalidInput) as error:
        submit(scheduler, 1, prompt_len=60, max_tokens=41)
    assert error.value.field == "messages"
    assert "100" in error.value.message and "60" in error.value.message and "41" in error.value.message
    submit(scheduler, 1, prompt_len=60, max_tokens=40)  # exactly the context fits
    assert backend.prefills == [] and scheduler.waiting_count == 1


def test_slots_are_reused_and_never_exceed_the_batch() -> None:
    backend = FakeDecodeBackend({key: [5] * key for key in range(1, 8)})
    scheduler = make_scheduler(backend, batch=2)
    logs = [[] for _ in range(7)]
    for key in range(1, 8):
        submit(scheduler, key, logs[key - 1])
    run_until_idle(scheduler)
    assert backend.slots_used == {0, 1}
    assert all(log[-1] == GenerationFinished("stop", key + 1) for key, log in enumerate(logs, start=1))
    assert scheduler.free_slot_count == 2


def budget_scheduler(backend: FakeDecodeBackend, budget: int) -> BatchScheduler:
    return BatchScheduler(
        backend,
        max_batch_size=4,
        max_queued_requests=4,
        context_length=1000,
        eos_token_ids={EOS},
        new_text_stream=lambda: IncrementalDetokenizer(letters),
        max_prefill_tokens_per_step=budget,
        clock=lambda: 0.0,  # steps take no time: the budget alone limits the chunks
    )


def test_prompts_are_prefilled_in_chunks_within_the_per_step_token_budget() -> None:
    backend = FakeDecodeBackend({1: [5], 2: [5], 3: [5]})
    scheduler = budget_scheduler(backend, 100)
    submit(scheduler, 1, prompt_len=80, max_tokens=2)
    submit(scheduler, 2, prompt_len=50, max_tokens=2)
    submit(scheduler, 3, prompt_len=10, max_tokens=2)
    scheduler.step()
    assert backend.steps[0][0] == [(0, 80), (1, 20)], "the second prompt starts with the budget left"
    assert backend.starts == [(0, 1), (1, 2)], "the third waits: the admitted prompts already fill a step"
    scheduler.step()
    assert backend.steps[1] == ([(1, 30), (2, 10)], [0])
    run_until_idle(scheduler)
    assert all(sum(n for _, n in chunks) <= 100 for chunks, _ in backend.steps)


def test_a_long_prompt_joins_over_several_steps_while_a_running_stream_gets_a_token_every_step() -> None:
    backend = FakeDecodeBackend({1: [5] * 20, 2: [6]})
    scheduler = budget_scheduler(backend, 100)
    running: list = []
    submit(scheduler, 1, running, prompt_len=3, max_tokens=20)
    scheduler.step()
    joining: list = []
    submit(scheduler, 2, joining, prompt_len=250, max_tokens=1)
    for _ in range(3):
        before = len(running)
        scheduler.step()
        assert len(running) == before + 1, "the running stream got its token in this step"
    assert [chunks for chunks, _ in backend.steps[1:]] == [[(1, 100)], [(1, 100)], [(1, 50)]]
    assert isinstance(joining[0], TokenGenerated), "the long prompt's first token came with its last chunk"


class TimedBackend(FakeDecodeBackend):
    """Each step advances a fake clock: 20 ms, plus per prompt token 1 ms and ``span_cost_s`` (2 us by
    default) per earlier position (its attention span)."""

    def __init__(self, scripts: dict[int, list[int]], span_cost_s: float = 2e-6) -> None:
        super().__init__(scripts)
        self.now = 0.0
        self.durations: list[float] = []
        self.span_cost_s = span_cost_s

    def step(self, chunks: Sequence[PrefillChunk], slots: Sequence[int], token_ids: Sequence[int]) -> None:
        cost = 0.02
        for chunk in chunks:
            start = self.filled[chunk.slot]
            cost += sum(0.001 + self.span_cost_s * (start + i) for i in range(len(chunk.token_ids)))
        super().step(chunks, slots, token_ids)
        self.now += cost
        self.durations.append(cost)


def timed_scheduler(backend: TimedBackend) -> BatchScheduler:
    """Budget 256 prompt tokens a step, target 150 ms, on the backend's fake clock."""
    return BatchScheduler(
        backend,
        max_batch_size=4,
        max_queued_requests=4,
        context_length=2000,
        eos_token_ids={EOS},
        new_text_stream=lambda: IncrementalDetokenizer(letters),
        max_prefill_tokens_per_step=256,
        step_target_s=0.15,
        clock=lambda: backend.now,
    )


def join_while_streaming(scheduler: BatchScheduler, *, running_tokens: int, prompt_len: int) -> tuple[list, list]:
    """Slot 1 streams (three steps in), then slot 2's prompt of ``prompt_len`` arrives: their events."""
    running: list = []
    submit(scheduler, 1, running, prompt_len=10, max_tokens=running_tokens)
    for _ in range(3):
        scheduler.step()
    joining: list = []
    submit(scheduler, 2, joining, prompt_len=prompt_len, max_tokens=1)
    return running, joining


def test_while_streams_decode_prompt_chunks_shrink_to_keep_each_step_near_the_target() -> None:
    backend = TimedBackend({1: [5] * 200, 2: [6]})
    scheduler = timed_scheduler(backend)
    running, joining = join_while_streaming(scheduler, running_tokens=200, prompt_len=1200)
    while not joining:
        before = len(running)
        scheduler.step()
        assert len(running) == before + 1, "the running stream got its token in every step"
    chunk_steps = backend.durations[3:]
    assert len(chunk_steps) > 1200 / 256 + 1, "the prompt came in smaller chunks than the budget"
    assert max(chunk_steps) <= 0.15 * 1.1, "every step stayed near the target"


def test_at_a_long_context_where_each_prompt_token_costs_a_lot_running_streams_still_wait_under_300_ms() -> None:
    backend = TimedBackend({1: [5] * 400, 2: [6]}, span_cost_s=2e-5)  # 25 ms a prompt token at 1,200
    scheduler = timed_scheduler(backend)
    _, joining = join_while_streaming(scheduler, running_tokens=400, prompt_len=1200)
    while not joining:
        scheduler.step()
    assert max(backend.durations[3:]) <= 0.3, "no step of the running stream took longer than 300 ms"


def test_a_prompt_alone_is_prefilled_at_the_full_budget_however_slow_the_steps() -> None:
    backend = TimedBackend({1: [5]})
    scheduler = timed_scheduler(backend)
    submit(scheduler, 1, prompt_len=600, max_tokens=1)
    run_until_idle(scheduler)
    assert [n for chunks, _ in backend.steps for _, n in chunks] == [256, 256, 88], "nobody waits on these steps"


def test_a_cached_prefix_is_not_prefilled_again_and_is_counted() -> None:
    from tests.fakes.metrics import FakeMetrics

    backend = FakeDecodeBackend({1: [5]}, cached={1: 64})
    metrics = FakeMetrics()
    scheduler = BatchScheduler(
        backend,
        max_batch_size=2,
        max_queued_requests=2,
        context_length=1000,
        eos_token_ids={EOS},
        new_text_stream=lambda: IncrementalDetokenizer(letters),
        metrics=metrics,
    )
    submit(scheduler, 1, prompt_len=70, max_tokens=1)
    scheduler.step()
    assert backend.steps[0][0] == [(0, 6)], "only the 6 tokens after the cached 64 ran"
    assert metrics.prefix == [(70, 64)]


def test_a_request_cancelled_while_its_prompt_is_prefilled_frees_its_slot() -> None:
    backend = FakeDecodeBackend({1: [5]})
    scheduler = budget_scheduler(backend, 16)
    events: list = []
    request = submit(scheduler, 1, events, prompt_len=100)
    scheduler.step()
    scheduler.cancel(request)
    scheduler.step()
    assert backend.released == [0] and scheduler.running_count == 0
    assert events == [GenerationFinished("cancelled", 0)]


def test_a_failing_decode_fails_its_readers_and_frees_their_slots() -> None:
    class BrokenBackend(FakeDecodeBackend):
        def step(self, chunks: Sequence[PrefillChunk], slots: Sequence[int], token_ids: Sequence[int]) -> None:
            if slots:
                raise RuntimeError("boom")
            super().step(chunks, slots, token_ids)

    scheduler = make_scheduler(BrokenBackend({1: [5, 5]}))
    events: list = []
    submit(scheduler, 1, events)
    scheduler.start()
    try:
        for _ in range(200):
            if events and isinstance(events[-1], Exception):
                break
            import time

            time.sleep(0.01)
    finally:
        scheduler.stop()
    assert isinstance(events[-1], Unavailable)
    assert scheduler.running_count == 0 and scheduler.free_slot_count == 4


def test_stop_finishes_running_and_waiting_readers_as_cancelled() -> None:
    scheduler = make_scheduler(FakeDecodeBackend({1: [5] * 50, 2: [5]}), batch=1)
    logs: list[list] = [[], []]
    submit(scheduler, 1, logs[0])
    submit(scheduler, 2, logs[1])
    scheduler.step()
    scheduler.stop()
    assert [log[-1].reason for log in logs] == ["cancelled", "cancelled"]
    with pytest.raises(Unavailable):
        submit(scheduler, 1)


def test_the_batch_state_is_reported_after_each_step_and_ends_idle() -> None:
    from tests.fakes.metrics import FakeMetrics

    metrics = FakeMetrics()
    scheduler = BatchScheduler(
        FakeDecodeBackend({1: [1, 2, 3], 2: [4, 5]}),
        max_batch_size=1,
        max_queued_requests=8,
        context_length=100,
        eos_token_ids={EOS},
        new_text_stream=lambda: IncrementalDetokenizer(letters),
        metrics=metrics,
    )
    submit(scheduler, 1, prompt_len=10)
    submit(scheduler, 2, prompt_len=10)
    assert metrics.loads[-1] == (0, 2, 0.0)  # both waiting
    scheduler.step()
    running, waiting, usage = metrics.loads[-1]
    assert (running, waiting) == (1, 1)
    assert usage == pytest.approx(11 / 100)  # 10 prompt tokens + 1 generated, out of one row of 100
    run_until_idle(scheduler)
    assert metrics.loads[-1] == (0, 0, 0.0)


class LogprobBackend(FakeDecodeBackend):
    """Reports a log-probability of -token for each sampled token, and token 9 as the alternative."""

    def __init__(self, scripts: dict[int, list[int]]) -> None:
        super().__init__(scripts)
        self.last: dict[int, int] = {}

    def sample(self, slots: Sequence[int]) -> list[int]:
        tokens = super().sample(slots)
        self.last.update(zip(slots, tokens, strict=True))
        return tokens

    def sampled_logprobs(self, slot: int) -> tuple[float, list[tuple[int, float]]] | None:
        _, params = self.active[slot]
        if params.logprobs is None:
            return None
        return -float(self.last[slot]), [(9, -0.5)][: params.logprobs]


def test_tokens_carry_their_logprobs_as_text_only_when_asked() -> None:
    backend = LogprobBackend({1: [2, 3], 4: [2]})
    scheduler = BatchScheduler(
        backend,
        max_batch_size=2,
        max_queued_requests=2,
        context_length=100,
        eos_token_ids={EOS},
        new_text_stream=lambda: IncrementalDetokenizer(letters),
        token_text=lambda token: (letters([token]), (96 + token,)),
    )
    asked: list = []
    plain: list = []
    submit(scheduler, 1, asked, logprobs=1)
    submit(scheduler, 4, plain)
    run_until_idle(scheduler)
    reports = [e.logprobs for e in asked if isinstance(e, TokenGenerated)]
    assert [(r.chosen.token, r.chosen.bytes, r.chosen.logprob) for r in reports] == [
        ("b", (98,), -2.0),
        ("c", (99,), -3.0),
    ]
    assert [[(t.token, t.logprob) for t in r.top] for r in reports] == [[("i", -0.5)], [("i", -0.5)]]
    assert all(e.logprobs is None for e in plain if isinstance(e, TokenGenerated))


class RecordingConstraint:
    """A stand-in grammar: records the tokens its row produced."""

    def __init__(self) -> None:
        self.accepted: list[int] = []

    def __call__(self, logits: object) -> object:
        return logits

    def accept(self, token_id: int) -> None:
        self.accepted.append(token_id)


def test_a_constrained_request_installs_its_processor_and_follows_its_tokens() -> None:
    backend = FakeDecodeBackend({1: [3, 4, 5], 2: [6, 7]})
    installed: dict[int, object] = {}
    backend.set_processor = lambda slot, processor: installed.__setitem__(slot, processor)  # type: ignore[attr-defined]
    scheduler = make_scheduler(backend)
    constraint = RecordingConstraint()
    events: list = []
    constrained = scheduler.submit([1], SamplingParams(max_tokens=10), events.append, "", constraint)
    submit(scheduler, 2)
    while scheduler.step():
        pass
    assert installed == {constrained.slot: constraint}  # the unconstrained row got none
    assert constraint.accepted == [3, 4, 5]  # every token it produced, not EOS, not the other row's
    assert [e.token_id for e in events if isinstance(e, TokenGenerated)] == [3, 4, 5]
