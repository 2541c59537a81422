"""The per-slot torch sampler on hand-made logits (torch, no model)."""

from __future__ import annotations

import torch

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
    plain.configure(1, SamplingParams(max_tokens=9, seed=4, min_p=0.5, top_k=5))  # the row-by-row path
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
