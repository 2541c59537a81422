"""The per-slot torch sampler on hand-made logits (torch, no model)."""

from __future__ import annotations

import math

import torch

from adapters.llm import sampler as sampler_module
from adapters.llm.sampler import TokenSampler
from core.domain.generation import SamplingParams

VOCAB = 6


def logits(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


FLAT = [0.0] * VOCAB


def draw(sampler: TokenSampler, slots: list[int], rows: torch.Tensor, steps: int) -> list[list[int]]:
    return [sampler.sample(slots, rows) for _ in range(steps)]


def test_greedy_rows_take_the_argmax_next_to_sampled_rows() -> None:
    sampler = TokenSampler(VOCAB, 4)
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=0.0))
    sampler.configure(3, SamplingParams(max_tokens=9, temperature=1.0, seed=1))
    tokens = draw(sampler, [0, 3], logits([0, 0, 5, 0, 0, 0], FLAT), 20)
    assert {row[0] for row in tokens} == {2}
    assert len({row[1] for row in tokens}) > 1


def test_a_seed_gives_the_same_draws_whatever_else_is_in_the_batch() -> None:
    alone = TokenSampler(VOCAB, 4)
    alone.configure(1, SamplingParams(max_tokens=9, seed=42))
    crowded = TokenSampler(VOCAB, 4)
    crowded.configure(0, SamplingParams(max_tokens=9, seed=7))
    crowded.configure(1, SamplingParams(max_tokens=9, seed=42))
    crowded.configure(2, SamplingParams(max_tokens=9))  # random seed
    solo = [row[0] for row in draw(alone, [1], logits(FLAT), 30)]
    mixed = [row[1] for row in draw(crowded, [0, 1, 2], logits(FLAT, FLAT, FLAT), 30)]
    assert solo == mixed
    again = TokenSampler(VOCAB, 4)
    again.configure(1, SamplingParams(max_tokens=9, seed=43))
    assert [row[0] for row in draw(again, [1], logits(FLAT), 30)] != solo


def test_reconfiguring_a_slot_restarts_its_seeded_stream() -> None:
    sampler = TokenSampler(VOCAB, 2)
    sampler.configure(0, SamplingParams(max_tokens=9, seed=5))
    first = draw(sampler, [0], logits(FLAT), 10)
    sampler.release(0)
    sampler.configure(0, SamplingParams(max_tokens=9, seed=5))
    assert draw(sampler, [0], logits(FLAT), 10) == first


def test_top_k_and_top_p_restrict_the_candidates() -> None:
    sampler = TokenSampler(VOCAB, 2)
    sampler.configure(0, SamplingParams(max_tokens=9, top_k=2, seed=3))
    sampler.configure(1, SamplingParams(max_tokens=9, top_p=0.5, seed=3))
    rows = logits([3, 2.9, 0, 0, 0, 0], [0, 0, 0, 4, 0, 0])
    tokens = draw(sampler, [0, 1], rows, 40)
    assert {row[0] for row in tokens} == {0, 1}
    assert {row[1] for row in tokens} == {3}


def test_frequency_and_presence_penalties_follow_openai() -> None:
    # Greedy with a frequency penalty: token 0 leads by 1.5; after two uses (-2.0) token 1 wins.
    sampler = TokenSampler(VOCAB, 2)
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=0.0, frequency_penalty=1.0))
    row = logits([1.5, 0, -5, -5, -5, -5])
    assert [sampler.sample([0], row)[0] for _ in range(3)] == [0, 0, 1]
    # Presence penalty counts a token once, however often it appeared.
    sampler.configure(1, SamplingParams(max_tokens=9, temperature=0.0, presence_penalty=1.0))
    row = logits([1.5, 0.4, -5, -5, -5, -5])
    assert [sampler.sample([1], row)[0] for _ in range(3)] == [0, 0, 0]
    sampler.configure(1, SamplingParams(max_tokens=9, temperature=0.0, presence_penalty=1.2))
    assert [sampler.sample([1], row)[0] for _ in range(3)] == [0, 1, 0]


def test_a_slot_logits_processor_constrains_only_its_own_row() -> None:
    sampler = TokenSampler(VOCAB, 3)
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=0.0))
    sampler.configure(1, SamplingParams(max_tokens=9, temperature=1.0, seed=2))
    sampler.configure(2, SamplingParams(max_tokens=9, temperature=0.0))

    def only_token_4(row: torch.Tensor) -> torch.Tensor:
        masked = torch.full_like(row, float("-inf"))
        masked[4] = row[4]
        return masked

    sampler.set_processor(0, only_token_4)
    sampler.set_processor(1, only_token_4)
    rows = logits([0, 0, 5, 0, 0, 0], FLAT, [0, 0, 5, 0, 0, 0])
    assert all(row == [4, 4, 2] for row in draw(sampler, [0, 1, 2], rows, 10))
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=0.0))  # a new request in the slot: no processor
    assert sampler.sample([0], logits([0, 0, 5, 0, 0, 0])) == [2]


def test_temperature_rows_sampled_together_follow_their_distribution() -> None:
    sampler = TokenSampler(VOCAB, 2)
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=1.0, seed=11))
    sampler.configure(1, SamplingParams(max_tokens=9, temperature=0.5, seed=12))
    skewed = [2.0, 0.0, 0.0, 0.0, 0.0, float("-inf")]
    draws = draw(sampler, [0, 1], logits(skewed, skewed), 400)
    for column, temperature in ((0, 1.0), (1, 0.5)):
        share = sum(row[column] == 0 for row in draws) / len(draws)
        expected = torch.softmax(torch.tensor(skewed) / temperature, -1)[0].item()
        assert abs(share - expected) < 0.08
        assert all(row[column] != 5 for row in draws), "a token of probability zero is never drawn"


def test_a_bias_of_minus_100_bans_a_token_even_when_sampling_hot() -> None:
    sampler = TokenSampler(VOCAB, 2)
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=0.0, logit_bias=((2, -100.0),)))
    sampler.configure(1, SamplingParams(max_tokens=9, temperature=2.0, seed=1, logit_bias=((2, -100.0),)))
    rows = logits([0, 0, 30, 0, 0, 0], [0, 0, 30, 0, 0, 0])
    tokens = draw(sampler, [0, 1], rows, 200)
    assert all(row[0] != 2 and row[1] != 2 for row in tokens)
    assert tokens[0][0] == 0  # greedy picks the next best (the first of the ties)


def test_a_positive_bias_makes_a_token_the_greedy_choice() -> None:
    sampler = TokenSampler(VOCAB, 1)
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=0.0, logit_bias=((4, 6.0),)))
    assert sampler.sample([0], logits([0, 0, 5, 0, 0, 0])) == [4]


def test_min_p_drops_tokens_below_its_share_of_the_top_probability() -> None:
    # probabilities ~ e^3 : e^2.5 : 1 ...: with min_p 0.5 only tokens 0 and 1 (e^-0.5 = 0.61 of the top) stay
    row = [3.0, 2.5, 0.0, 0.0, 0.0, 0.0]
    plain = TokenSampler(VOCAB, 2)
    plain.configure(0, SamplingParams(max_tokens=9, seed=4, min_p=0.5))
    plain.configure(1, SamplingParams(max_tokens=9, seed=4, min_p=0.5, top_k=5))  # the top-k path
    drawn = draw(plain, [0, 1], logits(row, row), 300)
    assert {t for pair in drawn for t in pair} == {0, 1}
    without = TokenSampler(VOCAB, 1)
    without.configure(0, SamplingParams(max_tokens=9, seed=4))
    assert len({pair[0] for pair in draw(without, [0], logits(row), 300)}) > 2


def test_repetition_penalty_covers_prompt_and_output_tokens() -> None:
    sampler = TokenSampler(VOCAB, 2)
    penalised = SamplingParams(max_tokens=9, temperature=0.0, repetition_penalty=2.0)
    sampler.configure(0, penalised, prompt_ids=[1])
    sampler.configure(1, SamplingParams(max_tokens=9, temperature=0.0), prompt_ids=[1])
    row = [0.0, 4.0, 3.0, 2.5, -1.0, -1.0]
    # slot 0: token 1 was in the prompt (4 / 2 = 2), so 2 wins, then 3 (2 was output: 1.5), then 1 (2 > 1.25)
    assert [sampler.sample([0, 1], logits(row, row)) for _ in range(3)] == [[2, 1], [3, 1], [1, 1]]
    negative = TokenSampler(VOCAB, 1)
    negative.configure(0, penalised, prompt_ids=[0])
    # a negative logit is multiplied: token 0 at -1 becomes -2, below the unseen -1.5
    assert negative.sample([0], logits([-1.0, -1.5, -3, -3, -3, -3])) == [1]


def test_a_greedy_token_tied_with_others_is_its_own_top_logprob() -> None:
    sampler = TokenSampler(VOCAB, 1)
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=0.0, logprobs=3))
    row = [0.0, 4.0, 1.0, 4.0, 4.0, 2.0]  # three tokens share the top logit
    tokens = sampler.sample([0], logits(row))
    report = sampler.logprobs(0)
    assert report is not None and tokens == [1], "argmax takes the first of the tied tokens"
    assert [token for token, _ in report.top] == [1, 3, 4], "ties listed in token order, the chosen one first"


def test_logprobs_are_the_log_softmax_after_bias_with_the_chosen_token_on_top() -> None:
    sampler = TokenSampler(VOCAB, 3)
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=0.0, logprobs=3, logit_bias=((5, -100.0),)))
    sampler.configure(1, SamplingParams(max_tokens=9, temperature=0.7, seed=2, logprobs=0))
    sampler.configure(2, SamplingParams(max_tokens=9, temperature=0.0))
    row = [1.0, 2.0, 3.0, 0.0, 0.0, 9.0]
    tokens = sampler.sample([0, 1, 2], logits(row, row, row))
    expected = torch.log_softmax(torch.tensor(row[:5]), dim=-1)
    greedy = sampler.logprobs(0)
    assert greedy is not None and tokens[0] == 2
    assert [token for token, _ in greedy.top] == [2, 1, 0]
    assert greedy.chosen == greedy.top[0][1]
    assert all(abs(lp - float(expected[t])) < 1e-5 for t, lp in greedy.top)
    sampled = sampler.logprobs(1)
    assert sampled is not None and sampled.top == []
    assert abs(sampled.chosen - float(torch.log_softmax(torch.tensor(row), -1)[tokens[1]])) < 1e-5
    assert sampler.logprobs(2) is None


# -- top-k / top-p / min_p on the batched path ------------------------------------------------------


def expected_distribution(row: list[float], params: SamplingParams) -> torch.Tensor:
    """The definition, row by row over a full sort (float64): top-k, softmax at the temperature, min_p
    relative to the top token, renormalise, then the smallest prefix reaching top_p (at least one token)."""
    scaled = torch.tensor(row, dtype=torch.float64) / params.temperature
    order = torch.argsort(scaled, descending=True, stable=True)
    if 0 < params.top_k < len(row):
        order = order[: params.top_k]
    probs = torch.softmax(scaled[order], dim=0)
    probs = probs.masked_fill(probs < params.min_p * probs[0], 0.0)
    probs = probs / probs.sum()
    if params.top_p < 1.0:
        drop = probs.cumsum(0) - probs >= params.top_p
        drop[0] = False
        probs = probs.masked_fill(drop, 0.0)
    distribution = torch.zeros(len(row), dtype=torch.float64)
    distribution[order] = probs / probs.sum()
    return distribution


SMALL = [2.0, 1.6, 1.2, 0.9, 0.5, 0.2, 0.0, -0.3, -0.8, -1.5, float("-inf"), 2.7]


def test_top_k_top_p_and_min_p_rows_sampled_together_follow_their_truncated_distributions() -> None:
    configs = [
        SamplingParams(max_tokens=9, top_k=3, seed=1),
        SamplingParams(max_tokens=9, temperature=0.8, top_p=0.6, seed=2),
        SamplingParams(max_tokens=9, temperature=1.2, top_p=0.9, min_p=0.15, seed=3),
        SamplingParams(max_tokens=9, top_k=6, top_p=0.75, seed=4),
        SamplingParams(max_tokens=9, top_k=6, min_p=0.3, seed=5),
        SamplingParams(max_tokens=9, top_k=50, seed=6),  # larger than the vocabulary: no cut
    ]
    sampler = TokenSampler(len(SMALL), len(configs))
    for slot, params in enumerate(configs):
        sampler.configure(slot, params)
    steps = 3000
    rows = torch.tensor([SMALL] * len(configs))
    counts = torch.zeros(len(configs), len(SMALL), dtype=torch.float64)
    for _ in range(steps):
        for slot, token in enumerate(sampler.sample(list(range(len(configs))), rows)):
            counts[slot, token] += 1
    for slot, params in enumerate(configs):
        expected = expected_distribution(SMALL, params)
        assert set(counts[slot].nonzero()[:, 0].tolist()) == set(expected.nonzero()[:, 0].tolist()), params
        assert (counts[slot] / steps - expected).abs().max() < 0.035, (params, counts[slot] / steps, expected)


def test_a_truncated_row_draws_the_same_tokens_alone_or_in_a_crowded_batch() -> None:
    torch.manual_seed(0)
    vocab = 4096
    peaked = torch.randn(vocab) * 4
    tail = torch.cat([torch.tensor([4.0]), -torch.arange(vocab - 1) * 1e-3])
    targets = [
        (SamplingParams(max_tokens=9, top_p=0.9, seed=42), peaked),
        (SamplingParams(max_tokens=9, temperature=0.7, top_k=40, top_p=0.95, seed=5), peaked),
        (SamplingParams(max_tokens=9, top_p=0.8, min_p=0.01, seed=9), tail),
        (SamplingParams(max_tokens=9, top_p=0.97, seed=11), tail),
    ]
    others = [
        (SamplingParams(max_tokens=9, top_p=0.5, seed=1), torch.zeros(vocab)),  # flat: every token a candidate
        (SamplingParams(max_tokens=9, temperature=0.0), peaked),
        (SamplingParams(max_tokens=9, seed=2), peaked),
        (SamplingParams(max_tokens=9, top_k=7, seed=3), tail),
        (SamplingParams(max_tokens=9, top_k=40, seed=4), tail),
    ]
    crowded = TokenSampler(vocab, len(targets) + len(others))
    batch = others[:2] + targets + others[2:]
    for slot, (params, _) in enumerate(batch):
        crowded.configure(slot, params)
    mixed = draw(crowded, list(range(len(batch))), torch.stack([row for _, row in batch]), 40)
    for params, row in targets:
        alone = TokenSampler(vocab, 1)
        alone.configure(0, params)
        solo = [tokens[0] for tokens in draw(alone, [0], row[None], 40)]
        assert solo == [tokens[2 + targets.index((params, row))] for tokens in mixed], params
        assert len(set(solo)) > 1


def floors_spy(monkeypatch, floors=None) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Replace the candidate floors of the top-p rows (by default: keep them) and record (tier, rows)
    for each one tried."""
    tried: list[tuple[int, int]] = []

    def spied(tier: int, floor_of):  # type: ignore[no-untyped-def]
        def floor(probs: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
            tried.append((tier, probs.shape[0]))
            return floor_of(probs, top_p)

        return floor

    chosen = floors if floors is not None else sampler_module.NUCLEUS_FLOORS
    monkeypatch.setattr(sampler_module, "NUCLEUS_FLOORS", tuple(spied(i, f) for i, f in enumerate(chosen)))
    return tried


def long_tail(vocab: int) -> torch.Tensor:
    """Token 17 on top; every other token about 4e-4 of it (below the first floor's thousandth), all
    distinct: the nucleus of top_p 0.9 holds most of the tail."""
    row = math.log(4e-4) - torch.arange(vocab, dtype=torch.float32) * 1e-4
    row[17] = 0.0
    return row


def test_a_nucleus_beyond_the_first_candidates_is_drawn_whole_from_a_lower_floor(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    vocab = 3000
    row = long_tail(vocab)
    params = SamplingParams(max_tokens=9, top_p=0.9, seed=8)
    expected = expected_distribution(row.tolist(), params)
    tried = floors_spy(monkeypatch)
    sampler = TokenSampler(vocab, 1)
    sampler.configure(0, params)
    tokens = [t[0] for t in draw(sampler, [0], row[None], 2000)]
    assert [tier for tier, _ in tried[:2]] == [0, 1], "the first floor's candidates lack the nucleus"
    assert all(expected[t] > 0 for t in tokens), "no token outside the nucleus"
    assert abs(tokens.count(17) / len(tokens) - float(expected[17])) < 0.04
    assert len(set(tokens) - {17}) > 500, "the tail below the first floor is drawn"
    # the nucleus ends inside the tail: its least likely tokens are never drawn
    assert int((expected == 0).sum()) > 100
    assert max(tokens) < vocab - 100


def test_candidate_floors_never_change_a_token_only_the_work(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Whatever floors are tried (the defaults, only the whole-vocabulary sort, a floor far too high whose
    candidates never hold the nucleus), a seed gives the same tokens: the candidates are a prefix of the
    full sort and no probability mass is ever cut off."""
    vocab = 2048
    torch.manual_seed(1)
    banned = torch.randn(vocab) * 3
    banned[::3] = float("-inf")
    rows = torch.stack([torch.randn(vocab) * 4, long_tail(vocab), torch.zeros(vocab), banned])
    configs = [
        SamplingParams(max_tokens=9, top_p=top_p, min_p=min_p, temperature=temperature, seed=seed)
        for seed, (top_p, min_p, temperature) in enumerate(
            [(0.5, 0.0, 1.0), (0.9, 0.0, 0.7), (0.99, 0.0, 1.3), (0.95, 0.0005, 1.0), (0.9, 0.02, 1.0)]
        )
    ]
    everything = sampler_module._every_token
    variants = [
        sampler_module.NUCLEUS_FLOORS,
        (everything,),
        (lambda probs, top_p: probs.amax(dim=-1) * 0.5, everything),
        (sampler_module._mass_reaching_top_p, everything),
    ]
    results = []
    for floors in variants:
        floors_spy(monkeypatch, floors)
        sampler = TokenSampler(vocab, len(configs) * len(rows))
        slots = list(range(len(configs) * len(rows)))
        for slot in slots:
            sampler.configure(slot, configs[slot % len(configs)])
        results.append(draw(sampler, slots, rows.repeat_interleave(len(configs), dim=0), 25))
    assert all(result == results[0] for result in results[1:])
    banned_ids = set(range(0, vocab, 3))
    assert not banned_ids & {t for step in results[0] for t in step[-len(configs) :]}


def test_edge_cases_of_top_k_and_top_p() -> None:
    row = [0.5, 1.0, 3.0, 2.9, 0.0, float("-inf")]
    sampler = TokenSampler(VOCAB, 6)
    sampler.configure(0, SamplingParams(max_tokens=9, temperature=2.0, top_k=1, seed=1))
    sampler.configure(1, SamplingParams(max_tokens=9, temperature=2.0, top_p=1e-9, seed=2))
    sampler.configure(2, SamplingParams(max_tokens=9, temperature=2.0, top_k=VOCAB + 10, seed=3))
    sampler.configure(3, SamplingParams(max_tokens=9, temperature=2.0, seed=3))  # the same seed, no top-k
    sampler.configure(4, SamplingParams(max_tokens=9, temperature=5.0, top_k=VOCAB, top_p=0.9999, seed=4))
    sampler.configure(5, SamplingParams(max_tokens=9, temperature=5.0, top_k=4, seed=5))
    banned_but_one = [float("-inf"), 1.0, float("-inf"), float("-inf"), float("-inf"), float("-inf")]
    tokens = draw(sampler, list(range(6)), logits(row, row, row, row, row, banned_but_one), 300)
    assert {t[0] for t in tokens} == {2} and {t[1] for t in tokens} == {2}, "top_k=1 and a tiny top_p: the argmax"
    assert [t[2] for t in tokens] == [t[3] for t in tokens], "top_k beyond the vocabulary is no cut"
    assert {t[4] for t in tokens} == {0, 1, 2, 3, 4}, "a token of probability 0 is never drawn"
    assert {t[5] for t in tokens} == {1}, "top_k=4 of one allowed token: that token"
