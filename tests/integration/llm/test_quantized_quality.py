"""Quality guard of the int4 path (the embedded GGUF's own Q4_1 weights) against bf16 and plain transformers.

Stated tolerances: on the fixed prompts the int4 path's first greedy token equals the bf16 path's and plain
transformers' on every prompt, and its first four tokens on most; its perplexity on a shipped text is
within 5 % of plain transformers' bf16 perplexity (the bf16 weights are the same Q4_1 values dequantized,
so the int4 path differs only by the rounding of scales and minimums to bf16 and the int8 LM head).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from adapters.llm.model_store import converted_folder_name, ensure_q4_weights, find_embedded_gguf
from adapters.llm.quantized import load_q4
from adapters.llm.scheduler import PrefillChunk
from adapters.llm.torch_backend import SlotDecodeBackend
from core.domain.generation import SamplingParams, TokenGenerated
from tests.conftest import require_native_decode
from tests.integration.conftest import MODEL_CACHE
from tests.integration.llm.conftest import chat, run

pytestmark = pytest.mark.model

PROMPTS = [
    "What is the capital of Indonesia?",
    "Name three fruits.",
    "Write one sentence about the sea.",
    "What is 12 plus 7?",
    "Give me a tip for saving money.",
    "Translate 'good morning' into French.",
]
TEXT = (Path(__file__).resolve().parents[2] / "data" / "perplexity.txt").read_text()
GREEDY = SamplingParams(max_tokens=1, temperature=0.0)


@pytest.fixture(scope="module")
def hf(real_model):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM

    gguf = find_embedded_gguf()
    model = AutoModelForCausalLM.from_pretrained(MODEL_CACHE / converted_folder_name(gguf), dtype=torch.bfloat16)
    return model.eval(), real_model.loaded_model()[1]


@pytest.fixture(scope="module")
def backends(hf, tmp_path_factory):  # type: ignore[no-untyped-def]
    model, _ = hf
    q4 = ensure_q4_weights(find_embedded_gguf(), MODEL_CACHE)
    assert q4 is not None, "the embedded GGUF holds Q4_1 weights"

    def int4_backend(**options: object) -> SlotDecodeBackend:
        return SlotDecodeBackend(
            model, max_batch_size=1, max_seq_len=1024, weight_quant="int4", int4_weights=load_q4(q4), **options
        )

    int4 = int4_backend()
    # The same int4 weights, prompt rows through their dense bf16 copies (as the engine runs where faster).
    int4_dense = int4_backend(dense_weights_path=tmp_path_factory.mktemp("dense") / "int4.bin", dense_prompts=True)
    # The same int4 weights decoded by the native step (int8 activations, as llama.cpp's Q4_1 x Q8_1).
    int4_native = int4_backend(native_library=require_native_decode(MODEL_CACHE))
    assert int4_native.native_decode
    bf16 = SlotDecodeBackend(model, max_batch_size=1, max_seq_len=1024, weight_quant="none")
    return {"int4": int4, "int4-dense": int4_dense, "int4-native": int4_native, "bf16": bf16}


def prompt_ids(tokenizer, text: str) -> list[int]:  # type: ignore[no-untyped-def]
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
    )
    return list(tokenizer.encode(rendered, add_special_tokens=False))


def greedy(backend: SlotDecodeBackend, ids: list[int], count: int) -> list[int]:
    backend.start(0, ids, GREEDY)
    backend.step([PrefillChunk(0, ids, True)], [], [])
    tokens = [backend.sample([0])[0]]
    while len(tokens) < count:
        backend.step([], [0], [tokens[-1]])
        tokens.append(backend.sample([0])[0])
    backend.release(0)
    return tokens


def hf_greedy(model, ids: list[int], count: int) -> list[int]:  # type: ignore[no-untyped-def]
    with torch.inference_mode():
        out = model.generate(torch.tensor([ids]), max_new_tokens=count, do_sample=False, min_new_tokens=count)
    return out[0, len(ids) :].tolist()


def test_the_embedded_model_is_served_on_its_own_4_bit_weights(real_model) -> None:  # type: ignore[no-untyped-def]
    assert real_model.weight_quant == "int4"
    assert real_model.loaded_model()[0] is None, "no Hugging Face copy of the weights is kept beside the engine's"
    backend = real_model.backend()
    assert backend.native_decode, "decoded rows go through the native step (a C compiler is on this machine)"
    assert set(backend.dense_prompts) == {"qkv", "o", "gate_up", "down"}, "measured at start"


def test_greedy_tokens_agree_with_bf16_and_plain_transformers(hf, backends) -> None:  # type: ignore[no-untyped-def]
    model, tokenizer = hf
    first_agree = prefix_agree = 0
    for text in PROMPTS:
        ids = prompt_ids(tokenizer, text)
        mine = greedy(backends["int4"], ids, 8)
        through_copies = greedy(backends["int4-dense"], ids, 8)
        native = greedy(backends["int4-native"], ids, 8)
        dense = greedy(backends["bf16"], ids, 8)
        plain = hf_greedy(model, ids, 8)
        first_agree += mine[0] == through_copies[0] == native[0] == dense[0] == plain[0]
        prefix_agree += mine[:4] == plain[:4] and through_copies[:4] == plain[:4] and native[:4] == plain[:4]
    assert first_agree == len(PROMPTS)
    assert prefix_agree >= len(PROMPTS) - 2


async def test_the_engine_answers_like_plain_transformers_on_short_prompts(real_model, hf) -> None:  # type: ignore[no-untyped-def]
    model, tokenizer = hf
    for text in PROMPTS[:3]:
        events = await run(real_model, chat(text, max_tokens=3, temperature=0.0))
        engine = [e.token_id for e in events if isinstance(e, TokenGenerated)]
        assert engine[0] == hf_greedy(model, prompt_ids(tokenizer, text), 1)[0]


def perplexity(backend: SlotDecodeBackend, ids: list[int]) -> float:
    """Teacher-forced through the backend's decode path, one token per step."""
    backend.start(0, ids[:1], GREEDY)
    backend.step([PrefillChunk(0, ids[:1], True)], [], [])
    total = 0.0
    for position in range(1, len(ids)):
        logits = backend.logits(0)
        total -= torch.log_softmax(logits.float(), -1)[ids[position]].item()
        backend.step([], [0], [ids[position]])
    backend.release(0)
    return math.exp(total / (len(ids) - 1))


def test_int4_perplexity_is_within_5_percent_of_plain_transformers(hf, backends) -> None:  # type: ignore[no-untyped-def]
    model, tokenizer = hf
    ids = tokenizer.encode(TEXT)[:200]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    reference = math.exp(torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:])).item())
    mine = perplexity(backends["int4"], ids)
    native = perplexity(backends["int4-native"], ids)
    print(f"perplexity on {len(ids)} tokens: transformers bf16 {reference:.3f}, int4 {mine:.3f}, native {native:.3f}")
    assert mine <= reference * 1.05
    assert native <= reference * 1.05
