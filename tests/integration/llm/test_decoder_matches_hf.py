"""The hand-written decoder against Hugging Face's own forward, on tiny random-weight models (no download).

Every logit the engine samples from is compared with the logit Hugging Face computes for the same position
of the same token sequence, under several batch compositions: requests prefilled together, a long prompt
prefilled in chunks while others decode, requests joining and leaving mid-way (rows move), a prompt whose
prefix comes from the prefix cache, long prompts decoding in their own KV cache beside the shared one.
Then the same with int4 and int8 weights, against Hugging Face running the dequantized weights, and the
serial fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

from adapters.llm.detokenizer import IncrementalDetokenizer
from adapters.llm.quantized import quantize_int4, quantize_int8
from adapters.llm.scheduler import BatchScheduler
from adapters.llm.torch_backend import SerialDecodeBackend, SlotDecodeBackend
from core.domain.generation import SamplingParams, TokenGenerated
from tests.conftest import require_native_decode

VOCAB = 256
COMMON = {
    "vocab_size": VOCAB,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
}


def tiny_model(kind: str, dtype: torch.dtype) -> Any:
    torch.manual_seed(0)
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(**COMMON, tie_word_embeddings=True))
    else:
        # heads of 80 values: the native attention's 64-value register tiles and its 8-value remainder
        model = Qwen3ForCausalLM(Qwen3Config(**COMMON, head_dim=80, tie_word_embeddings=False))
    return model.to(dtype).eval()


class RecordingBackend:
    """Wraps a backend and keeps, per slot, the logits every ``sample`` call used."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.logits: dict[int, list[torch.Tensor]] = {}
        sample = inner._sampler.sample

        def recording(slots: Sequence[int], logits: torch.Tensor) -> list[int]:
            """What the backend hands its sampler, row by row, as it hands it."""
            for row, slot in enumerate(slots):
                self.logits[slot].append(logits[row].clone().float())
            return sample(slots, logits)

        inner._sampler.sample = recording
        self.cached: list[int] = []

    def start(self, slot: int, prompt_ids: Sequence[int], sampling: SamplingParams) -> int:
        self.logits[slot] = []
        cached = self.inner.start(slot, prompt_ids, sampling)
        self.cached.append(cached)
        return cached

    def step(self, chunks, slots, token_ids) -> None:  # type: ignore[no-untyped-def]
        self.inner.step(chunks, slots, token_ids)

    def sample(self, slots: Sequence[int]) -> list[int]:
        return self.inner.sample(slots)

    def release(self, slot: int) -> None:
        self.inner.release(slot)


class Run:
    def __init__(self, backend: Any, *, budget: int) -> None:
        self.backend = RecordingBackend(backend)
        self.scheduler = BatchScheduler(
            self.backend,
            max_batch_size=4,
            max_queued_requests=8,
            context_length=512,
            eos_token_ids={-1},
            new_text_stream=lambda: IncrementalDetokenizer(lambda ids: ""),
            max_prefill_tokens_per_step=budget,
        )
        self.requests: list[tuple[list[int], list[int], Any]] = []  # prompt, generated ids, handle

    def submit(self, prompt: list[int], max_tokens: int) -> None:
        generated: list[int] = []

        def sink(event: object) -> None:
            if isinstance(event, TokenGenerated):
                generated.append(event.token_id)

        handle = self.scheduler.submit(prompt, SamplingParams(max_tokens=max_tokens, temperature=0.0), sink)
        self.requests.append((prompt, generated, handle))

    def steps(self, count: int) -> None:
        for _ in range(count):
            self.scheduler.step()

    def finish(self) -> None:
        for _ in range(500):
            if self.scheduler.running_count == 0 and self.scheduler.waiting_count == 0:
                return
            self.scheduler.step()
        raise AssertionError("did not finish")


def prompt(seed: int, length: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (length,), generator=generator).tolist()


def scenario(run: Run) -> None:
    """Several batch compositions in one run (batch of 4 rows)."""
    shared = prompt(99, 70)
    run.submit(prompt(8, 50), 3)  # alone: its first chunks run with nothing decoding
    run.finish()
    run.submit(prompt(1, 5), 12)  # short prompt, leaves early
    run.submit(prompt(2, 41), 20)
    run.submit(prompt(3, 17), 6)
    run.steps(3)
    run.submit(prompt(4, 90), 10)  # a long prompt joins while the others decode (chunked by the budget)
    run.steps(4)
    run.submit(shared + prompt(5, 3), 8)
    run.finish()
    run.submit(shared + prompt(6, 9), 8)  # reuses the cached blocks of the shared prefix
    run.submit(prompt(7, 2), 5)
    run.finish()


def assert_matches_reference(run: Run, reference: Any, *, atol: float, rtol: float) -> None:
    for (prompt_ids, generated, handle), logits in zip(run.requests, run.per_request_logits, strict=True):  # type: ignore[attr-defined]
        assert len(logits) == len(generated) == handle.sampling.max_tokens
        ids = torch.tensor([prompt_ids + generated[:-1]])
        with torch.inference_mode():
            expected = reference(input_ids=ids).logits[0, len(prompt_ids) - 1 :].float()
        torch.testing.assert_close(torch.stack(logits), expected, atol=atol, rtol=rtol)
        assert [int(x) for x in torch.stack(logits).argmax(-1)] == generated


def run_scenario(backend: Any, *, budget: int = 16) -> Run:
    run = Run(backend, budget=budget)
    per_request: list[list[torch.Tensor]] = []
    original_start = run.backend.start

    def start(slot: int, prompt_ids: Sequence[int], sampling: SamplingParams) -> int:
        cached = original_start(slot, prompt_ids, sampling)
        per_request.append(run.backend.logits[slot])
        return cached

    run.backend.start = start  # type: ignore[method-assign]
    scenario(run)
    # Requests are started in submission order here (FIFO admission).
    run.per_request_logits = per_request  # type: ignore[attr-defined]
    return run


@pytest.mark.parametrize("solo_tokens", [1024, 40], ids=["shared-cache", "long-prompts-in-their-own-cache"])
@pytest.mark.parametrize("kind", ["llama", "qwen3"])
def test_float32_logits_match_hugging_face_at_every_step(kind: str, solo_tokens: int) -> None:
    model = tiny_model(kind, torch.float32)
    backend = SlotDecodeBackend(
        model, max_batch_size=4, max_seq_len=512, prefix_cache_tokens=256, solo_tokens=solo_tokens
    )
    run = run_scenario(backend)
    assert max(run.backend.cached) >= 64, "the shared prefix came from the prefix cache"
    assert_matches_reference(run, model, atol=2e-4, rtol=1e-4)
    assert backend.kv_cache_bytes() == 0, "the KV cache is released once every sequence left"


@pytest.mark.parametrize("kind", ["llama", "qwen3"])
def test_bfloat16_logits_match_hugging_face_within_bf16_tolerance(kind: str) -> None:
    model = tiny_model(kind, torch.bfloat16)
    run = run_scenario(SlotDecodeBackend(model, max_batch_size=4, max_seq_len=512, prefix_cache_tokens=256))
    reference = tiny_model(kind, torch.float32)
    assert_matches_reference_loosely(run, reference)


def assert_matches_reference_loosely(run: Run, reference: Any) -> None:
    """bf16 has 8 bits of mantissa: a few percent of the logit range, and the same top token nearly always."""
    agree = total = 0
    for (prompt_ids, generated, _), logits in zip(run.requests, run.per_request_logits, strict=True):  # type: ignore[attr-defined]
        ids = torch.tensor([prompt_ids + generated[:-1]])
        with torch.inference_mode():
            expected = reference(input_ids=ids).logits[0, len(prompt_ids) - 1 :].float()
        mine = torch.stack(logits)
        scale = expected.abs().max().item()
        assert (mine - expected).abs().max().item() <= 0.05 * scale + 0.02
        agree += int((mine.argmax(-1) == expected.argmax(-1)).sum())
        total += len(generated)
    assert agree >= 0.9 * total


@pytest.fixture(scope="module")
def native_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return require_native_decode(tmp_path_factory.mktemp("native"))


@pytest.mark.parametrize("native", [False, True], ids=["torch-decode", "native-decode"])
@pytest.mark.parametrize("dense_prompts", [False, True], ids=["quantized-kernels", "dense-copies-for-prompts"])
@pytest.mark.parametrize("quant", ["int4", "int8"])
@pytest.mark.parametrize("kind", ["llama", "qwen3"])
def test_quantized_weights_match_hugging_face_on_the_same_dequantized_weights(
    kind: str, quant: str, dense_prompts: bool, native: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    model = tiny_model(kind, torch.bfloat16)
    reference = tiny_model(kind, torch.float32)
    int4: dict[str, Any] = {}
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("_proj.weight"):
                if quant == "int4":
                    int4[name] = quantize_int4(param)
                    dequantized = int4[name].dequantize()
                else:
                    q = quantize_int8(param)
                    dequantized = q.codes.float() * q.scale[:, None]
                param.copy_(dequantized)
                reference.get_parameter(name).copy_(dequantized)
        head = quantize_int8(model.lm_head.weight)
        reference.lm_head.weight.copy_(head.codes.float() * head.scale[:, None])  # llama's is tied: the embedding too
    backend = SlotDecodeBackend(
        model,
        max_batch_size=4,
        max_seq_len=512,
        weight_quant=quant,
        int4_weights=int4,
        prefix_cache_tokens=256,
        solo_tokens=60,
        dense_weights_path=tmp_path / "dense.bin",
        dense_prompts=dense_prompts,
        native_library=request.getfixturevalue("native_library") if native else None,
    )
    assert backend.linear_kind == quant
    assert backend.native_decode == native
    assert_matches_reference_loosely(run_scenario(backend), reference)
    if dense_prompts:
        assert backend.dense_prompts == dict.fromkeys(["qkv", "o", "gate_up", "down"], True)
        assert not backend.dense_copies_mapped(), "the dense copies are unmapped once every sequence left"


def test_the_serial_fallback_matches_hugging_face() -> None:
    model = tiny_model("llama", torch.float32)
    run = run_scenario(SerialDecodeBackend(model, max_batch_size=4))
    assert_matches_reference(run, model, atol=2e-4, rtol=1e-4)


def test_kv_memory_follows_the_live_sequences_and_is_released_when_they_leave() -> None:
    from adapters.llm.scheduler import PrefillChunk

    backend = SlotDecodeBackend(tiny_model("llama", torch.float32), max_batch_size=4, max_seq_len=512)
    greedy = SamplingParams(max_tokens=1, temperature=0.0)
    backend.start(0, prompt(1, 5), greedy)
    backend.start(1, prompt(2, 400), greedy)
    backend.step([PrefillChunk(0, prompt(1, 5), True), PrefillChunk(1, prompt(2, 400), True)], [], [])
    with_long = backend.kv_cache_bytes()
    assert backend.kv_cache_usage() == pytest.approx(405 / (4 * 512))
    backend.release(1)
    assert 0 < backend.kv_cache_bytes() <= with_long / 2, "the long sequence's room went with it"
    backend.step([], [0], backend.sample([0]))
    backend.release(0)
    assert backend.kv_cache_bytes() == 0 and backend.kv_cache_usage() == 0.0


def test_a_long_prompt_decodes_its_first_tokens_without_copying_its_cache() -> None:
    from adapters.llm.scheduler import PrefillChunk

    backend = SlotDecodeBackend(tiny_model("llama", torch.float32), max_batch_size=2, max_seq_len=512, solo_tokens=64)
    long_prompt = prompt(3, 192)  # a whole number of the cache's steps
    backend.start(0, long_prompt, SamplingParams(max_tokens=12, temperature=0.0))
    backend.step([PrefillChunk(0, long_prompt, True)], [], [])
    held = backend.kv_cache_bytes()
    for _ in range(11):
        backend.step([], [0], backend.sample([0]))
    assert backend.kv_cache_bytes() == held, "its cache had room for its tokens from the start"
    backend.release(0)


def test_a_prompt_still_being_prefilled_already_shares_its_prefix() -> None:
    from adapters.llm.scheduler import PrefillChunk

    backend = SlotDecodeBackend(
        tiny_model("llama", torch.float32), max_batch_size=2, max_seq_len=512, prefix_cache_tokens=256
    )
    shared = prompt(4, 160)
    greedy = SamplingParams(max_tokens=4, temperature=0.0)
    backend.start(0, shared, greedy)
    backend.step([PrefillChunk(0, shared[:96], False)], [], [])  # three blocks of 32 prefilled, not the rest
    assert backend.start(1, [*shared[:100], 7, 8], greedy) == 96, "the blocks prefilled so far are reused"
