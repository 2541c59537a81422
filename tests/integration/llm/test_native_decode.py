"""The native decode step's kernels (``adapters/llm/native/decode.c``, built for this machine) against torch.

A matmul through the kernels must equal, up to float32 summation order, the same int8-quantized activations
times the dequantized weights computed in float64; every row's result must be bit-identical whatever else is
in the batch (a seeded request samples the same tokens in any company). The whole decode step is checked
against Hugging Face in ``test_decoder_matches_hf.py`` and on the real model in ``test_quantized_quality.py``.
"""

from __future__ import annotations

import itertools
import platform
from pathlib import Path

import pytest
import torch

from adapters.llm.native_decode import HEAD, NativeDecoder, NativeLayer, NativeMatrix, load_library
from adapters.llm.quantized import GROUP_SIZE, quantize_int4, quantize_int8
from tests.conftest import require_native_decode

HIDDEN, INTER, HEADS, KV_HEADS, HEAD_DIM, VOCAB = 64, 96, 4, 2, 16, 67  # odd output counts on purpose
QKV, O_PROJ, GATE_UP, DOWN = range(4)


# The kernels as this machine runs them, and their other paths: AVX2 without VNNI, and portable C.
VARIANTS = {"native": (), "no-vnni": ("-mno-avx512vnni", "-mno-avxvnni"), "portable": ("-mno-avx2", "-mno-fma")}


@pytest.fixture(scope="module", params=list(VARIANTS))
def library(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    if request.param != "native" and platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the other paths are x86 instruction sets")
    return require_native_decode(tmp_path_factory.mktemp("native"), VARIANTS[request.param])


def random_weight(out: int, inner: int, seed: int) -> torch.Tensor:
    return torch.randn(out, inner, generator=torch.Generator().manual_seed(seed)) * 0.1


def decoder(
    library: Path, qkv_out: int = (HEADS + 2 * KV_HEADS) * HEAD_DIM, vocab: int = VOCAB
) -> tuple[NativeDecoder, dict]:
    """One layer of int4 matrices with an int8 LM head (interleaved where ``vocab`` comes in eights), and the
    dequantized weights they hold."""
    weights = {
        QKV: quantize_int4(random_weight(qkv_out, HIDDEN, 1)),
        O_PROJ: quantize_int4(random_weight(HIDDEN, HEADS * HEAD_DIM, 2)),
        GATE_UP: quantize_int4(random_weight(2 * INTER, HIDDEN, 3)),
        DOWN: quantize_int4(random_weight(HIDDEN, INTER, 4)),
    }
    bias = torch.randn(qkv_out, generator=torch.Generator().manual_seed(5))
    head = quantize_int8(random_weight(vocab, HIDDEN, 6))
    ones = torch.ones(HIDDEN)
    layer = NativeLayer(
        ones,
        ones,
        None,
        None,
        NativeMatrix.q4(weights[QKV], bias),
        *(NativeMatrix.q4(weights[which], None) for which in (O_PROJ, GATE_UP, DOWN)),
    )
    native = NativeDecoder(
        load_library(library),
        hidden=HIDDEN,
        heads=HEADS,
        kv_heads=KV_HEADS,
        head_dim=HEAD_DIM,
        inter=INTER,
        vocab=vocab,
        eps=1e-5,
        layers=[layer],
        final_norm=ones,
        head=NativeMatrix.q8(head.codes, head.scale, None, interleaved=True),
        threads=2,
    )
    # The kernels read d and m as halves (as the GGUF stores them): the reference rounds them the same way.
    dense = {}
    for which, weight in weights.items():
        d = weight.scale.half().float()
        m = (weight.zero - 8 * weight.scale).half().float()
        codes = weight.codes.view(weight.codes.shape[0], -1, GROUP_SIZE).double()
        dense[which] = (codes * d[..., None].double() + m[..., None].double()).flatten(1)
    return native, {"dense": dense, "bias": bias.double(), "head": head}


def quantized_activations(x: torch.Tensor) -> torch.Tensor:
    """x rounded as the kernels quantize it: int8 per block of 32 with scale amax / 127."""
    blocks = x.float().view(x.shape[0], -1, GROUP_SIZE)
    scale = blocks.abs().amax(-1, keepdim=True) / 127
    codes = torch.round(blocks * torch.where(scale > 0, 1 / scale, 0)).clamp(-127, 127)
    return (codes * scale).flatten(1).double()


@pytest.mark.parametrize("rows", [1, 3, 4, 5, 9])
def test_int4_matmul_equals_quantized_activations_times_dequantized_weights(library: Path, rows: int) -> None:
    native, reference = decoder(library, qkv_out=(HEADS + 2 * KV_HEADS) * HEAD_DIM + 1)  # an odd output count
    x = torch.randn(rows, HIDDEN, generator=torch.Generator().manual_seed(rows))
    for which, bias in ((QKV, reference["bias"]), (GATE_UP, None)):
        expected = quantized_activations(x) @ reference["dense"][which].T
        if bias is not None:
            expected += bias
        got = native.matmul(0, which, x)
        torch.testing.assert_close(got.double(), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("vocab", [64, VOCAB], ids=["interleaved", "plain-rows"])
@pytest.mark.parametrize("rows", [1, 5, 9])
def test_the_int8_head_equals_quantized_activations_times_its_weights(library: Path, vocab: int, rows: int) -> None:
    native, reference = decoder(library, vocab=vocab)
    head = reference["head"]
    weights = head.codes.double() * head.scale.double()[:, None]
    x = torch.randn(rows, HIDDEN, generator=torch.Generator().manual_seed(rows))
    torch.testing.assert_close(
        native.matmul(HEAD, 0, x).double(), quantized_activations(x) @ weights.T, atol=1e-4, rtol=1e-4
    )
    ids = torch.tensor([[0, vocab - 1], [9, 42]])
    torch.testing.assert_close(native.embed(ids).double(), weights[ids])
    for outside in (-1, vocab):
        with pytest.raises(IndexError):
            native.embed(torch.tensor([3, outside]))


def test_every_row_computes_the_same_whatever_shares_its_batch(library: Path) -> None:
    native, _ = decoder(library)
    x = torch.randn(9, HIDDEN, generator=torch.Generator().manual_seed(0))
    together = native.matmul(0, GATE_UP, x)
    for row in range(9):
        alone = native.matmul(0, GATE_UP, x[row : row + 1])
        assert torch.equal(alone[0], together[row])
    assert torch.equal(native.matmul(0, GATE_UP, x.flip(0)), together.flip(0))


def test_the_decode_step_writes_each_rows_cache_and_is_batch_independent(library: Path) -> None:
    """Rows with their own caches at different positions: each row's logits and KV are the same decoded
    alone or together, and the new key and value land at the row's position, nowhere else."""
    native, _ = decoder(library)
    cos = torch.ones(64, HEAD_DIM)
    sin = torch.zeros(64, HEAD_DIM)
    positions = [0, 5, 17]

    def caches() -> list[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(7)
        shape = (1, KV_HEADS, 32, HEAD_DIM)
        return [
            (torch.randn(shape, generator=generator).half(), torch.randn(shape, generator=generator).half())
            for _ in positions
        ]

    def decode(rows: list[int], held: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        from adapters.llm.native_decode import RowCache

        x = torch.randn(3, HIDDEN, generator=torch.Generator().manual_seed(11))[rows]
        row_caches = [
            RowCache(held[r][0].data_ptr(), held[r][1].data_ptr(), held[r][0][0].numel(), 32 * HEAD_DIM) for r in rows
        ]
        return native.decode(x, [positions[r] for r in rows], row_caches, cos, sin)

    together_caches = caches()
    before = [(k.clone(), v.clone()) for k, v in together_caches]
    together = decode([0, 1, 2], together_caches)
    assert together.shape == (3, VOCAB) and torch.isfinite(together).all()
    for r, position in enumerate(positions):
        alone_caches = caches()
        alone = decode([r], alone_caches)
        assert torch.equal(alone[0], together[r])
        assert torch.equal(alone_caches[r][0], together_caches[r][0])
        keys, old = together_caches[r][0], before[r][0]
        changed = (keys != old).any(-1)[0]  # [kv_heads, capacity]
        assert changed[:, position].all() and changed.sum() == KV_HEADS, "only the row's position was written"


def test_the_cache_rounds_to_half_exactly_as_torch_does(library: Path) -> None:
    """Keys and values go into the cache as IEEE half, rounded to nearest even like torch's cast: ties,
    subnormals, overflow to infinity, signed zeros and NaN, in the vector path and its scalar tail."""
    lib = load_library(library)
    special = [0.0, -0.0, 1.0, 65504.0, 65519.99, 65520.0, -70000.0, 1e-8, 2.98e-8, 2.99e-8, 6.1e-5, 6.09e-5]
    ties = [1 + k * 2**-11 for k in range(1, 8)] + [2**-14 * (1 + 2**-11), 3 * 2**-25, 5 * 2**-25]
    spread = torch.randn(4000, generator=torch.Generator().manual_seed(3)) * torch.logspace(-9, 5, 4000)
    values = torch.cat([torch.tensor(special + ties + [float("inf"), -float("inf")]), spread]).float()
    ours = torch.empty(values.numel(), dtype=torch.float16)
    lib.nd_to_half(values.data_ptr(), ours.data_ptr(), values.numel())
    assert torch.equal(ours.view(torch.int16), values.half().view(torch.int16))
    nan = torch.full((9,), float("nan"))
    lib.nd_to_half(nan.data_ptr(), ours.data_ptr(), 9)
    assert ours[:9].isnan().all()


def test_the_team_shrinks_to_one_thread_only_when_one_thread_is_measured_clearly_faster() -> None:
    from adapters.llm.native_decode import TeamSize

    team = TeamSize(2)
    sizes = []
    for _ in range(3 * TeamSize.PROBE_EVERY):  # a busy machine: a one-thread step takes half the time
        size = team.next(4)
        sizes.append(size)
        team.took(4, size, 0.010 if size == 1 else 0.020)
    assert sizes[: TeamSize.PROBE_EVERY - 1] == [2] * (TeamSize.PROBE_EVERY - 1)
    assert sizes[TeamSize.PROBE_EVERY - 1] == 1, "the probe"
    assert set(sizes[TeamSize.PROBE_EVERY :]) == {1, 2} and team.threads == 1
    for _ in range(2 * TeamSize.PROBE_EVERY):  # quiet again: two threads are faster, and come back
        size = team.next(4)
        team.took(4, size, 0.010 if size == 1 else 0.006)
    assert team.threads == 2
    team.took(5, 1, 0.001)  # a probe with other rows than the step before it proves nothing
    assert team.threads == 2
    assert TeamSize(1).next(4) == 1


def test_probes_that_lose_come_ever_more_seldom_and_a_change_of_size_resets_them() -> None:
    from adapters.llm.native_decode import TeamSize

    team = TeamSize(2)
    probes = []
    for step in range(4000):  # a quiet machine: every probe of one thread loses
        size = team.next(8)
        if size == 1:
            probes.append(step)
        team.took(8, size, 0.020 if size == 1 else 0.011)
    gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
    assert gaps[:4] == [64, 128, 256, 512] and set(gaps[4:]) == {TeamSize.PROBE_EVERY_MOST}
    assert team.threads == 2
    while team.next(8) == 2:  # then a busy one: the next probe wins, and probing starts over
        team.took(8, 2, 0.030)
    team.took(8, 1, 0.012)
    assert team.threads == 1 and team.every == TeamSize.PROBE_EVERY


def test_without_a_working_compiler_or_cache_the_torch_path_decodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No library (None) rather than a failed start: a compiler that fails, or a cache that can't be written."""
    from adapters.llm import native_decode

    monkeypatch.setenv("CC", "false")  # exits 1 for --version and for the build
    assert native_decode.build_library(tmp_path / "cache") is None
    monkeypatch.delenv("CC")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert native_decode.build_library(not_a_folder / "cache") is None


def test_a_model_whose_shapes_the_kernels_do_not_take_decodes_in_torch(library: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from adapters.llm.scheduler import PrefillChunk
    from adapters.llm.torch_backend import SlotDecodeBackend
    from core.domain.generation import SamplingParams

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=48, intermediate_size=96, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
    backend = SlotDecodeBackend(model, max_batch_size=1, max_seq_len=64, weight_quant="int8", native_library=library)
    assert not backend.native_decode, "48 inputs are not whole blocks of 32"
    backend.start(0, [1, 2, 3], SamplingParams(max_tokens=2, temperature=0.0))
    backend.step([PrefillChunk(0, [1, 2, 3], True)], [], [])
    backend.step([], [0], backend.sample([0]))
    assert 0 <= backend.sample([0])[0] < 64
