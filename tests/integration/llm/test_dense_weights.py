"""Dense copies of quantized weights: written once into the model cache, checked against the weights they
were made from, memory-mapped only while in use, and chosen per kind of linear from measured costs."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from adapters.llm.quantized import (
    DENSE_TILE_ROWS,
    DenseWeights,
    Int4Linear,
    SwitchingLinear,
    dense_in_tiles,
    dense_prompts_faster,
    quantize_int4,
    remembered_choice,
)


def weights(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {"qkv.0": torch.randn(96, 64, generator=generator), "down.0": torch.randn(64, 128, generator=generator)}


def entries(tensors: dict[str, torch.Tensor], made: list[str]):  # type: ignore[no-untyped-def]
    def maker(name: str):  # type: ignore[no-untyped-def]
        def make() -> torch.Tensor:
            made.append(name)
            return tensors[name]

        return make

    return [(name, maker(name)) for name in tensors]


def test_the_copies_are_written_once_and_again_only_for_other_weights(tmp_path: Path) -> None:
    path = tmp_path / "dense" / "model-int4.bin"
    made: list[str] = []
    first = DenseWeights.open_or_write(path, entries(weights(0), made), torch.bfloat16, "weights-0")
    assert sorted(made) == ["down.0", "qkv.0"]
    for name, tensor in weights(0).items():
        assert torch.equal(first.tensor(name), tensor.to(torch.bfloat16))

    made.clear()
    again = DenseWeights.open_or_write(path, entries(weights(0), made), torch.bfloat16, "weights-0")
    assert made == [], "the file of the same weights is reused"
    assert torch.equal(again.tensor("down.0"), weights(0)["down.0"].to(torch.bfloat16))

    other = DenseWeights.open_or_write(path, entries(weights(1), made), torch.bfloat16, "weights-1")
    assert sorted(made) == ["down.0", "qkv.0"], "other weights (another fingerprint) write it anew"
    assert torch.equal(other.tensor("qkv.0"), weights(1)["qkv.0"].to(torch.bfloat16))


def test_a_truncated_file_is_written_again(tmp_path: Path) -> None:
    path = tmp_path / "model-int4.bin"
    DenseWeights.open_or_write(path, entries(weights(0), []), torch.bfloat16, "weights-0")
    with open(path, "r+b") as file:
        file.truncate(100)
    made: list[str] = []
    dense = DenseWeights.open_or_write(path, entries(weights(0), made), torch.bfloat16, "weights-0")
    assert made and torch.equal(dense.tensor("qkv.0"), weights(0)["qkv.0"].to(torch.bfloat16))


def mapped_paths() -> str:
    return Path("/proc/self/maps").read_text()


def test_the_file_is_mapped_while_used_and_unmapped_on_release(tmp_path: Path) -> None:
    path = tmp_path / "model-int4.bin"
    dense = DenseWeights.open_or_write(path, entries(weights(0), []), torch.bfloat16, "weights-0")
    assert not dense.mapped and str(path) not in mapped_paths()
    provider = dense.provider("down.0")
    value = provider().clone()
    assert dense.mapped and str(path) in mapped_paths()
    dense.release()
    import gc

    gc.collect()
    assert not dense.mapped and str(path) not in mapped_paths()
    assert torch.equal(provider(), value), "mapped again on the next use"


class CountingDense:
    def __init__(self, weight: torch.Tensor) -> None:
        self.weight, self.calls = weight, 0

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        return self.weight


def test_prompt_rows_run_on_the_dense_copy_and_decoded_rows_on_the_kernel() -> None:
    int4 = quantize_int4(torch.randn(96, 64))
    linear = Int4Linear(int4, None, torch.bfloat16)
    dense = CountingDense(int4.dequantize().to(torch.bfloat16))
    linear.use_dense(dense)
    x = torch.randn(5, 64).to(torch.bfloat16)
    quantized = linear(x)
    assert dense.calls == 0, "decoded rows always take the quantized kernel"
    through_copy = linear.prompt(x)
    assert dense.calls == 1
    torch.testing.assert_close(through_copy.float(), quantized.float(), atol=0.05, rtol=0.02)
    linear.use_dense(None)
    assert torch.equal(linear.prompt(x), quantized), "without a dense copy prompts take the kernel too"


def test_a_prompt_row_computes_the_same_whatever_rows_share_its_step() -> None:
    weight = (torch.randn(960, 576) * 0.02).to(torch.bfloat16)
    rows = torch.randn(3 * DENSE_TILE_ROWS + 5, 576).to(torch.bfloat16)
    alone = torch.cat([dense_in_tiles(rows[i : i + 1], weight, None) for i in range(rows.shape[0])])
    for count in (1, 7, DENSE_TILE_ROWS, DENSE_TILE_ROWS + 1, rows.shape[0]):
        together = dense_in_tiles(rows[:count], weight, None)
        assert together.shape == (count, 960)
        assert torch.equal(together, alone[:count]), f"{count} rows together differ from each row alone"
    shuffled = torch.randperm(rows.shape[0])
    assert torch.equal(dense_in_tiles(rows[shuffled], weight, None), alone[shuffled])


class Costed(SwitchingLinear):
    """A linear whose quantized kernel costs ``per_row_s`` a row, beside a real dense weight."""

    __slots__ = ("bias", "dense", "per_row_s", "weight")

    def __init__(self, weight: torch.Tensor, per_row_s: float) -> None:
        self.bias, self.weight, self.per_row_s = None, weight, per_row_s
        self.use_dense(lambda: self.weight)

    def quantized(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.per_row_s * x.shape[0])
        return x.new_zeros(x.shape[0], self.weight.shape[0])

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]


def test_prompts_use_the_dense_copies_only_for_the_kinds_where_they_are_faster() -> None:
    small = torch.zeros(16, 16, dtype=torch.bfloat16)  # a dense matmul of microseconds
    huge = torch.zeros(4096, 4096, dtype=torch.bfloat16)  # milliseconds, against a free quantized kernel
    groups: dict[str, list[SwitchingLinear]] = {
        "slow_kernel": [Costed(small, 0.0005), Costed(small, 0.0005)],
        "free_kernel": [Costed(huge, 0.0)],
    }
    faster = dense_prompts_faster(groups, {"slow_kernel": 16, "free_kernel": 4096}, torch.bfloat16, repeats=1)
    assert faster == {"slow_kernel": True, "free_kernel": False}


def test_the_choice_of_dense_copies_is_measured_once_and_kept_for_the_same_weights(tmp_path: Path) -> None:
    path = tmp_path / "model-int4.choice.json"
    answers = iter([{"qkv": True, "down": False}, {"qkv": False, "down": True}, {"qkv": False, "down": False}])
    measured: list[dict[str, bool]] = []

    def measure() -> dict[str, bool]:
        measured.append(next(answers))
        return measured[-1]

    first = remembered_choice(path, "weights-a", measure)
    assert remembered_choice(path, "weights-a", measure) == first == {"qkv": True, "down": False}
    assert len(measured) == 1, "a restart with the same weights reuses the choice: the same greedy text"
    assert remembered_choice(path, "weights-b", measure) == {"qkv": False, "down": True}, "other weights: measured"
    path.write_text("{not json")
    assert remembered_choice(path, "weights-b", measure) == {"qkv": False, "down": False}, "a broken file: measured"
    assert len(measured) == 3
