"""Engine benchmark: raw ``model.generate`` baselines against our continuous-batching engine, in one run.

    .venv/bin/python bench/engine.py [--max-tokens 128] [--cache-dir .model-cache]

Prints tokens/s for raw ``generate`` at batch 1 and a static batch of 8, our engine's single stream
(tokens/s and time to first token) and its aggregate tokens/s at 8 and 16 concurrent requests, then the
ratios against the baselines and targets. Greedy decoding throughout. ``run_stream`` and
``run_concurrent`` are reusable by other benchmarks (they only need a ``LanguageModel``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from core.domain.generation import (  # noqa: E402
    ChatMessage,
    GenerationFinished,
    GenerationRequest,
    PromptAccepted,
    SamplingParams,
    TokenGenerated,
)
from core.ports.language_model import LanguageModel  # noqa: E402

# The reference numbers from the task: `transformers serve --continuous-batching` at 8 concurrent.
SERVE_CB_8_TOKENS_PER_S = 113.0

PROMPTS = (
    "Write a long, detailed story about a cat who opens a bakery in Jakarta.",
    "Explain step by step how a refrigerator works, in detail.",
    "Describe a week-long trip through Indonesia, day by day.",
    "Write a detailed guide to starting a small online shop.",
)


@dataclass(frozen=True, slots=True)
class StreamRun:
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float  # request start to first TokenGenerated
    total_s: float  # request start to GenerationFinished

    @property
    def decode_tokens_per_s(self) -> float:
        """Tokens after the first, over the time after the first token."""
        span = self.total_s - self.ttft_s
        return (self.completion_tokens - 1) / span if span > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ConcurrentRun:
    runs: tuple[StreamRun, ...]
    wall_s: float

    @property
    def completion_tokens(self) -> int:
        return sum(run.completion_tokens for run in self.runs)

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_s

    @property
    def median_ttft_s(self) -> float:
        return statistics.median(run.ttft_s for run in self.runs)


def greedy_request(prompt: str, max_tokens: int, request_id: str = "") -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage("user", prompt),),
        sampling=SamplingParams(max_tokens=max_tokens, temperature=0.0),
        request_id=request_id,
    )


async def run_stream(model: LanguageModel, request: GenerationRequest) -> StreamRun:
    """Consume one generation and time it."""
    start = time.perf_counter()
    first: float | None = None
    prompt_tokens = 0
    async for event in model.generate(request):
        if isinstance(event, PromptAccepted):
            prompt_tokens = event.prompt_tokens
        elif isinstance(event, TokenGenerated):
            if first is None:
                first = time.perf_counter()
        elif isinstance(event, GenerationFinished):
            end = time.perf_counter()
            return StreamRun(prompt_tokens, event.completion_tokens, (first or end) - start, end - start)
    raise RuntimeError("the stream ended without GenerationFinished")


async def run_concurrent(model: LanguageModel, requests: list[GenerationRequest]) -> ConcurrentRun:
    """Start every request at once; aggregate tokens/s over the wall time of the whole set."""
    start = time.perf_counter()
    runs = await asyncio.gather(*(run_stream(model, request) for request in requests))
    return ConcurrentRun(tuple(runs), time.perf_counter() - start)


def raw_generate_tokens_per_s(model: Any, tokenizer: Any, batch: int, max_tokens: int) -> float:
    """``model.generate`` on a static batch of identical prompts, forced to ``max_tokens`` new tokens."""
    import torch

    messages = [{"role": "user", "content": PROMPTS[0]}]
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    inputs = {name: tensor.repeat(batch, 1) for name, tensor in encoded.items()}
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=4, do_sample=False)  # warm-up
        start = time.perf_counter()
        model.generate(**inputs, max_new_tokens=max_tokens, min_new_tokens=max_tokens, do_sample=False)
        elapsed = time.perf_counter() - start
    return batch * max_tokens / elapsed


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".model-cache")
    parser.add_argument("--max-batch-size", type=int, default=16, help="engine slots (the service default is 8)")
    parser.add_argument("--skip-raw", action="store_true", help="skip the raw model.generate baselines")
    args = parser.parse_args()

    from adapters.llm import TransformersLanguageModel, TransformersModelSettings

    n = args.max_tokens
    engine = TransformersLanguageModel(
        TransformersModelSettings(cache_dir=args.cache_dir, max_batch_size=args.max_batch_size)
    )
    start = time.perf_counter()
    await engine.start()
    print(f"model loaded in {time.perf_counter() - start:.1f} s: {engine.info()}")
    print(f"engine slots: {args.max_batch_size}, completions: {n} tokens, greedy; load average {_load()}")

    raw1 = raw8 = None
    if not args.skip_raw:
        # The engine's worker is idle meanwhile, so the two never compete for the cores.
        # The engine keeps no Hugging Face copy of the weights: the baseline loads its own.
        from transformers import AutoModelForCausalLM

        from adapters.llm.model_store import ensure_converted, find_embedded_gguf

        _, tokenizer = engine.loaded_model()
        folder = ensure_converted(find_embedded_gguf(), args.cache_dir)
        hf_model = AutoModelForCausalLM.from_pretrained(folder, dtype="bfloat16").eval()
        raw1 = raw_generate_tokens_per_s(hf_model, tokenizer, 1, n)
        print(f"raw generate, batch 1:        {raw1:7.1f} tokens/s")
        raw8 = raw_generate_tokens_per_s(hf_model, tokenizer, 8, n)
        print(f"raw generate, static batch 8: {raw8:7.1f} tokens/s")

    await run_stream(engine, greedy_request(PROMPTS[0], 8))  # warm-up
    single = await run_stream(engine, greedy_request(PROMPTS[0], n))
    single_tps = single.completion_tokens / single.total_s
    print(
        f"engine, single stream:        {single_tps:7.1f} tokens/s ({single.completion_tokens} tokens, "
        f"TTFT {single.ttft_s * 1000:.0f} ms, decode {single.decode_tokens_per_s:.1f} tokens/s)"
    )
    results: dict[int, ConcurrentRun] = {}
    for concurrency in (8, 16):
        requests = [greedy_request(PROMPTS[i % len(PROMPTS)], n, f"bench-{i}") for i in range(concurrency)]
        results[concurrency] = run = await run_concurrent(engine, requests)
        print(
            f"engine, {concurrency:2d} concurrent:        {run.tokens_per_s:7.1f} tokens/s aggregate "
            f"({run.completion_tokens} tokens in {run.wall_s:.1f} s, "
            f"median TTFT {run.median_ttft_s * 1000:.0f} ms)"
        )
    await engine.close()

    agg8 = results[8].tokens_per_s
    print("\nratios")
    if raw1 is not None and raw8 is not None:
        print(f"  single stream / raw generate batch 1:   {single_tps / raw1:5.2f}  (target >= 0.90)")
        print(f"  8 concurrent / raw static batch 8:      {agg8 / raw8:5.2f}")
    print(f"  8 concurrent / our single stream:       {agg8 / single_tps:5.2f}  (target >= 5.00)")
    print(f"  8 concurrent / serve --cb (113 tok/s):  {agg8 / SERVE_CB_8_TOKENS_PER_S:5.2f}  (target >= 1.20)")
    print(f"  16 concurrent / 8 concurrent:           {results[16].tokens_per_s / agg8:5.2f}")


if __name__ == "__main__":
    asyncio.run(main())
