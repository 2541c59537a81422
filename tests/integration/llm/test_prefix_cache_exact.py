"""The prefix cache loses nothing: a prompt whose prefix comes from it computes, bit for bit, the logits its own
prefill of that prefix gives (same chunks, tiny random-weight models in bf16, the serving dtype)."""

from __future__ import annotations

import pytest
import torch

from adapters.llm.scheduler import PrefillChunk
from adapters.llm.torch_backend import SlotDecodeBackend
from core.domain.generation import SamplingParams
from tests.integration.llm.test_decoder_matches_hf import prompt, tiny_model

GREEDY = SamplingParams(max_tokens=1, temperature=0.0)


def prefill(backend: SlotDecodeBackend, slot: int, chunks: list[list[int]]) -> torch.Tensor:
    """Prefill ``slot`` (started) chunk by chunk; the logits of its last token."""
    for index, chunk in enumerate(chunks):
        backend.step([PrefillChunk(slot, chunk, index == len(chunks) - 1)], [], [])
    return backend.logits(slot).clone()


@pytest.mark.parametrize("kind", ["llama", "qwen3"])
def test_a_cached_prefix_gives_the_logits_of_its_own_prefill(kind: str) -> None:
    model = tiny_model(kind, torch.bfloat16)
    shared, tail = prompt(5, 64), prompt(6, 20)
    uncached = SlotDecodeBackend(model, max_batch_size=2, max_seq_len=256)
    uncached.start(0, shared + tail, GREEDY)
    expected = prefill(uncached, 0, [shared, tail])

    cached = SlotDecodeBackend(model, max_batch_size=2, max_seq_len=256, prefix_cache_tokens=128)
    cached.start(0, [*shared, 1, 2], GREEDY)
    prefill(cached, 0, [shared, [1, 2]])  # the shared prefix prefilled in the same chunk, then cached
    cached.release(0)
    assert cached.start(1, shared + tail, GREEDY) == len(shared)
    assert torch.equal(prefill(cached, 1, [tail]), expected)
