"""Sampler benchmark: what one ``TokenSampler.sample`` step of a batch costs with each sampling feature.

A batch of 8 rows over SmolLM2's vocabulary (49,152) of random logits; the configurations are timed in
turns, ``--repeats`` times, and each prints its best time per step and its ratio to plain temperature
sampling (best times, because other load only ever adds). No model: the figure is the sampler's share of
a decode step.

    .venv/bin/python bench/sampler.py [--rows 8] [--steps 50] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from adapters.llm.sampler import TokenSampler
from core.domain.generation import SamplingParams

VOCAB = 49_152

CONFIGS: dict[str, SamplingParams] = {
    "greedy": SamplingParams(max_tokens=1, temperature=0.0),
    "temperature": SamplingParams(max_tokens=1, temperature=0.8),
    "temperature + min_p": SamplingParams(max_tokens=1, temperature=0.8, min_p=0.05),
    "temperature + top_p": SamplingParams(max_tokens=1, temperature=0.8, top_p=0.9),
    "temperature + top_p 0.99": SamplingParams(max_tokens=1, temperature=0.8, top_p=0.99),
    "temperature + top_k 50": SamplingParams(max_tokens=1, temperature=0.8, top_k=50),
    "top_k 50 + top_p 0.9": SamplingParams(max_tokens=1, temperature=0.8, top_k=50, top_p=0.9),
    "repetition_penalty": SamplingParams(max_tokens=1, temperature=0.8, repetition_penalty=1.2),
    "logit_bias (10 tokens)": SamplingParams(
        max_tokens=1, temperature=0.8, logit_bias=tuple((i * 97, -100.0) for i in range(10))
    ),
    "logprobs, top 5": SamplingParams(max_tokens=1, temperature=0.8, logprobs=5),
    "logprobs, top 20": SamplingParams(max_tokens=1, temperature=0.8, logprobs=20),
    "all of them": SamplingParams(
        max_tokens=1,
        temperature=0.8,
        min_p=0.05,
        repetition_penalty=1.2,
        logit_bias=((5, -100.0),),
        logprobs=20,
    ),
}


def per_step_us(params: SamplingParams, rows: int, steps: int) -> float:
    sampler = TokenSampler(VOCAB, rows)
    for slot in range(rows):
        sampler.configure(slot, params, prompt_ids=list(range(0, 4000, 7)))
    logits = torch.randn(rows, VOCAB) * 4
    slots = list(range(rows))
    with torch.inference_mode():
        for _ in range(10):
            sampler.sample(slots, logits)
        start = time.perf_counter()
        for _ in range(steps):
            sampler.sample(slots, logits)
    return (time.perf_counter() - start) / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a loaded machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, rows {args.rows}")
    best = {name: float("inf") for name in CONFIGS}
    for _ in range(args.repeats):
        for name, params in CONFIGS.items():
            best[name] = min(best[name], per_step_us(params, args.rows, args.steps))
    for name, micros in best.items():
        print(f"{name:24s} {micros:9.0f} us/step   x{micros / best['temperature']:.2f} of temperature sampling")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
