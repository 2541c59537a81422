"""Weight-only quantized linears on torch's own CPU kernels, and where their weights come from.

* int4: group-wise asymmetric 4-bit weights (group 32) through ``aten._weight_int4pack_mm_for_cpu``.
  The embedded GGUF's Q4_1 blocks (32 weights, an fp16 scale ``d`` and minimum ``m``: ``w = d * q + m``)
  map onto it exactly up to the rounding of ``d`` and ``m`` to bf16: the kernel computes
  ``w = (q - 8) * scale + zero``, so ``scale = d`` and ``zero = m + 8 d``.
* int8: per-output-channel symmetric 8-bit weights through ``aten._weight_int8pack_mm`` (the LM head and
  the embedding, stored as Q8_0 in the GGUF, and every linear under ``WEIGHT_QUANT=int8``).

Both kernels run about one output row at a time, so their cost grows with the rows of ``x``: for decoded
tokens (a row per stream) they beat dense ``F.linear`` (they read a quarter or half of the bytes), while
for prompt chunks dense bf16 GEMM is several times faster (AMX or AVX-512 where the CPU has them).
``DenseWeights`` keeps dense bf16 copies of the quantized weights in one file in the model cache,
memory-mapped only while the engine is busy (the idle process holds none of it, the page cache keeps it
warm); prompt rows use them, in tiles of ``DENSE_TILE_ROWS``, for each kind of linear where that was
measured faster when the engine started (``dense_prompts_faster``). Both kernels and the tiles give each
row a result that does not depend on the other rows, so a seeded request samples the same tokens
whatever shares its steps. torchao's CPU int4 layout dispatches to the same aten kernel, so it would add
a dependency and no speed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
import torch
import torch.nn.functional as F

log = structlog.get_logger(__name__)

GROUP_SIZE = 32
WEIGHT_QUANT_CHOICES = ("auto", "none", "int8", "int4")


@dataclass(frozen=True, slots=True)
class Int4Weight:
    """Unpacked 4-bit codes [out, in] (0..15) with per-group scale and zero [out, in / GROUP_SIZE]."""

    codes: torch.Tensor  # uint8
    scale: torch.Tensor  # float32
    zero: torch.Tensor  # float32, the kernel's zero: w = (code - 8) * scale + zero

    def dequantize(self) -> torch.Tensor:
        out, inner = self.codes.shape
        groups = (self.codes.view(out, inner // GROUP_SIZE, GROUP_SIZE).float() - 8) * self.scale[..., None]
        return (groups + self.zero[..., None]).view(out, inner)


def concat_int4(parts: list[Int4Weight]) -> Int4Weight:
    return Int4Weight(
        torch.cat([p.codes for p in parts]), torch.cat([p.scale for p in parts]), torch.cat([p.zero for p in parts])
    )


def quantize_int4(weight: torch.Tensor) -> Int4Weight:
    """Round-to-nearest group-wise asymmetric 4-bit quantization of a dense [out, in] weight."""
    out, inner = weight.shape
    groups = weight.float().view(out, inner // GROUP_SIZE, GROUP_SIZE)
    low, high = groups.amin(-1), groups.amax(-1)
    scale = ((high - low) / 15).clamp(min=1e-8)
    codes = torch.round((groups - low[..., None]) / scale[..., None]).clamp(0, 15).to(torch.uint8)
    return Int4Weight(codes.view(out, inner), scale, low + 8 * scale)


def int4_supported(weight_shape: tuple[int, int]) -> bool:
    return weight_shape[1] % GROUP_SIZE == 0 and hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu")


DENSE_TILE_ROWS = 64
"""Prompt rows go through the dense copies in tiles of exactly this many rows (the last one padded): a
GEMM's rounding depends on its number of rows, and in tiles of a fixed size each row's result depends on
that row alone (checked by the tests), so a prompt token computes the same whatever shares its step."""


def dense_in_tiles(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    rows = x.shape[0]
    padded = F.pad(x, (0, 0, 0, -rows % DENSE_TILE_ROWS))
    tiles = [F.linear(padded[at : at + DENSE_TILE_ROWS], weight, bias) for at in range(0, rows, DENSE_TILE_ROWS)]
    return (tiles[0] if len(tiles) == 1 else torch.cat(tiles))[:rows]


class SwitchingLinear:
    """A quantized linear whose prompt rows may run on a dense copy (``use_dense``); decoded tokens
    always run on the quantized kernel, whose rows never depend on the batch."""

    __slots__ = ()
    bias: torch.Tensor | None
    dense: Callable[[], torch.Tensor] | None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantized(x)

    def prompt(self, x: torch.Tensor) -> torch.Tensor:
        """The linear for prompt rows: the dense copy in fixed tiles, when it is in use."""
        if self.dense is not None:
            return dense_in_tiles(x, self.dense(), self.bias)
        return self.quantized(x)

    def quantized(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def in_features(self) -> int:
        raise NotImplementedError

    def identity(self) -> Iterable[torch.Tensor]:
        """Small tensors that differ whenever the quantized weight does (for ``weights_fingerprint``)."""
        raise NotImplementedError

    def use_dense(self, dense: Callable[[], torch.Tensor] | None) -> None:
        self.dense = dense


class Int4Linear(SwitchingLinear):
    """``x @ w.T (+ bias)`` for 2-D bf16 ``x`` with int4 packed weights."""

    __slots__ = ("bias", "dense", "packed", "scale_zero")

    def __init__(self, weight: Int4Weight, bias: torch.Tensor | None, dtype: torch.dtype) -> None:
        self.packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(weight.codes.to(torch.int32), 1)
        # [in / GROUP_SIZE, out, 2]: the kernel's layout of (scale, zero) per group and output channel
        self.scale_zero = torch.stack([weight.scale.t(), weight.zero.t()], dim=-1).to(dtype).contiguous()
        self.bias = bias
        self.use_dense(None)

    @property
    def in_features(self) -> int:
        return self.scale_zero.shape[0] * GROUP_SIZE

    def identity(self) -> Iterable[torch.Tensor]:
        return (self.scale_zero, self.packed[:, :64])

    def quantized(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(x.contiguous(), self.packed, GROUP_SIZE, self.scale_zero)
        return y if self.bias is None else y + self.bias


@dataclass(frozen=True, slots=True)
class Int8Weight:
    """Per-row symmetric int8: ``w = codes * scale[:, None]``."""

    codes: torch.Tensor  # int8 [out, in]
    scale: torch.Tensor  # [out]


def quantize_int8(weight: torch.Tensor) -> Int8Weight:
    w = weight.float()
    scale = (w.abs().amax(dim=1) / 127).clamp(min=1e-8)
    return Int8Weight(torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8), scale)


class Int8Linear(SwitchingLinear):
    __slots__ = ("bias", "codes", "dense", "scale")

    def __init__(self, weight: Int8Weight, bias: torch.Tensor | None, dtype: torch.dtype) -> None:
        self.codes = weight.codes.contiguous()
        self.scale = weight.scale.to(dtype)
        self.bias = bias
        self.use_dense(None)

    def dequantize(self) -> torch.Tensor:
        return self.codes.to(self.scale.dtype) * self.scale[:, None]

    @property
    def in_features(self) -> int:
        return self.codes.shape[1]

    def identity(self) -> Iterable[torch.Tensor]:
        return (self.scale, self.codes[:, :64])

    def quantized(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.ops.aten._weight_int8pack_mm(x.contiguous(), self.codes, self.scale)
        return y if self.bias is None else y + self.bias

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """The rows of the (tied) embedding for ``ids``, dequantized."""
        return torch.nn.functional.embedding(ids, self.codes).to(self.scale.dtype) * self.scale[ids][..., None]


class DenseWeights:
    """Dense copies of quantized weights, by name, in one raw file (``name.bin`` beside ``name.json``,
    its layout), memory-mapped on first use and unmapped by ``release``."""

    def __init__(self, path: Path, layout: dict[str, tuple[int, list[int]]], dtype: torch.dtype) -> None:
        self._path, self._layout, self._dtype = path, layout, dtype
        self._mapped: dict[str, torch.Tensor] | None = None

    @classmethod
    def open_or_write(
        cls,
        path: Path,
        weights: Iterable[tuple[str, Callable[[], torch.Tensor]]],
        dtype: torch.dtype,
        fingerprint: str,
    ) -> DenseWeights:
        """The file at ``path`` when it was written for these names and this ``fingerprint`` of the
        quantized weights, else written anew (each weight dequantized in turn, so at most one dense
        weight is in memory at a time)."""
        index = path.with_suffix(".json")
        entries = list(weights)
        try:
            saved = json.loads(index.read_text())
            layout = {name: (int(at), list(shape)) for name, (at, shape) in saved["layout"].items()}
            expected = sum(math.prod(shape) for _, shape in layout.values()) * dtype.itemsize
            if (
                saved["fingerprint"] == fingerprint
                and sorted(layout) == sorted(name for name, _ in entries)
                and path.stat().st_size == expected
            ):
                return cls(path, layout, dtype)
        except (OSError, ValueError, TypeError, KeyError):
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        layout, offset = {}, 0
        with open(scratch, "wb") as out:
            for name, make in entries:
                tensor = make().to(dtype).contiguous()
                out.write(tensor.view(torch.uint8).numpy().tobytes())
                layout[name] = (offset, list(tensor.shape))
                offset += tensor.numel()
        scratch.replace(path)
        index.write_text(json.dumps({"fingerprint": fingerprint, "layout": layout}))
        return cls(path, layout, dtype)

    def tensor(self, name: str) -> torch.Tensor:
        mapped = self._mapped
        if mapped is None:
            mapped = self._mapped = self._map()
        return mapped[name]

    def provider(self, name: str) -> Callable[[], torch.Tensor]:
        return lambda: self.tensor(name)

    @property
    def mapped(self) -> bool:
        return self._mapped is not None

    def release(self) -> None:
        """Unmap the file (its pages stay in the page cache, out of this process's memory)."""
        self._mapped = None

    def _map(self) -> dict[str, torch.Tensor]:
        total = sum(math.prod(shape) for _, shape in self._layout.values())
        flat = torch.from_file(str(self._path), shared=True, size=total, dtype=self._dtype)
        return {
            name: flat[offset : offset + math.prod(shape)].view(shape) for name, (offset, shape) in self._layout.items()
        }


def weights_fingerprint(linears: Iterable[SwitchingLinear]) -> str:
    """A digest of the quantized weights (their scales and first codes, with shapes): a dense copy made
    from other weights never passes for theirs."""
    digest = hashlib.blake2b(digest_size=16)
    for linear in linears:
        for tensor in linear.identity():
            digest.update(repr(tuple(tensor.shape)).encode())
            digest.update(tensor.contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


DENSE_MARGIN = 0.8  # the dense copies serve prompts only when they take at most this share of the time


def dense_prompts_faster(
    groups: dict[str, list[SwitchingLinear]], in_features: dict[str, int], dtype: torch.dtype, repeats: int = 3
) -> dict[str, bool]:
    """For each kind of linear, whether a tile of prompt rows runs clearly faster on the dense copies
    than on the quantized kernel. Each pass runs every linear in the order of a step (layer by layer,
    kind by kind), so the weights come from memory as they do in a step, not from the cache."""
    layers = max(len(linears) for linears in groups.values())
    order = [(kind, linears[i]) for i in range(layers) for kind, linears in groups.items() if i < len(linears)]
    x_of = {kind: torch.randn(DENSE_TILE_ROWS, size).to(dtype) for kind, size in in_features.items()}

    def timed_pass(dense: bool) -> dict[str, float]:
        spent = dict.fromkeys(groups, 0.0)
        for kind, linear in order:
            start = time.perf_counter()
            if dense:
                linear.prompt(x_of[kind])
            else:
                linear.quantized(x_of[kind])
            spent[kind] += time.perf_counter() - start
        return spent

    best = {path: dict.fromkeys(groups, float("inf")) for path in (False, True)}
    with torch.inference_mode():
        for _ in range(repeats + 1):  # the first pass also maps the dense copies
            for path in (False, True):
                for kind, spent in timed_pass(path).items():
                    best[path][kind] = min(best[path][kind], spent)
    return {kind: best[True][kind] <= DENSE_MARGIN * best[False][kind] for kind in groups}


def remembered_choice(path: Path, fingerprint: str, measure: Callable[[], dict[str, bool]]) -> dict[str, bool]:
    """``measure()``'s answer for these weights on this kind of machine, measured once and kept in ``path``:
    the dense copies change the rounding of prompt rows, so a choice timed anew at every start (and
    swayed by the machine's load) would change the greedy text from one restart to the next."""
    key = f"{fingerprint}/{torch.backends.cpu.get_cpu_capability()}/{os.cpu_count()}/{torch.__version__}"
    try:
        saved = json.loads(path.read_text())
        if saved.get("key") == key and isinstance(saved.get("choice"), dict):
            return {kind: bool(dense) for kind, dense in saved["choice"].items()}
    except (OSError, ValueError):
        pass
    choice = measure()
    try:
        path.write_text(json.dumps({"key": key, "choice": choice}))
    except OSError as error:  # measured again at the next start
        log.warning("llm.dense.choice_not_saved", path=str(path), error=str(error))
    return choice


_GGUF_LLAMA_NAMES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def _unpermute_rows(rows: int, heads: int) -> torch.Tensor:
    """The row order transformers' GGUF loader gives q/k (llama.cpp stores them permuted for its RoPE)."""
    dim = rows // heads // 2
    return torch.arange(rows).view(heads, dim, 2).transpose(1, 2).reshape(rows)


def gguf_q4_weights(path: Path, config: Any) -> dict[str, Int4Weight]:
    """The file's Q4_1 linear weights, by Hugging Face parameter name (``model.layers.0.mlp.up_proj.weight``).

    Tensors stored in another format are left out (the caller keeps them dense or quantizes them itself).
    """
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader

    reader = GGUFReader(path)
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    weights: dict[str, Int4Weight] = {}
    for tensor in reader.tensors:
        parts = tensor.name.split(".")
        if tensor.tensor_type != GGMLQuantizationType.Q4_1 or len(parts) != 4 or parts[0] != "blk":
            continue
        hf = _GGUF_LLAMA_NAMES.get(parts[2])
        if hf is None:
            continue
        blocks = np.asarray(tensor.data).reshape(tensor.data.shape[0], -1, 20)  # [out, in / 32, 20 bytes]
        d = torch.from_numpy(blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32))
        m = torch.from_numpy(blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32))
        qs = torch.from_numpy(blocks[..., 4:20].copy())  # byte j: element j (low nibble) and j + 16 (high)
        codes = torch.cat([qs & 0x0F, qs >> 4], dim=-1).reshape(qs.shape[0], -1)
        weight = Int4Weight(codes, d, m + 8 * d)
        if parts[2] in ("attn_q", "attn_k"):
            order = _unpermute_rows(codes.shape[0], heads if parts[2] == "attn_q" else kv_heads)
            weight = Int4Weight(weight.codes[order], weight.scale[order], weight.zero[order])
        weights[f"model.layers.{parts[1]}.{hf}.weight"] = weight
    return weights


def save_q4(weights: dict[str, Int4Weight], path: Path) -> None:
    """Two codes per byte (low nibble first), scales and zeros in float32."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for name, weight in weights.items():
        pairs = weight.codes.view(weight.codes.shape[0], -1, 2)
        tensors[f"{name}.codes"] = (pairs[..., 0] | (pairs[..., 1] << 4)).contiguous()
        tensors[f"{name}.scale"] = weight.scale.contiguous()
        tensors[f"{name}.zero"] = weight.zero.contiguous()
    save_file(tensors, str(path))


def load_q4(path: Path) -> dict[str, Int4Weight]:
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    weights: dict[str, Int4Weight] = {}
    for key in tensors:
        if key.endswith(".codes"):
            name = key.removesuffix(".codes")
            packed = tensors[key]
            codes = torch.stack([packed & 0x0F, packed >> 4], dim=-1).view(packed.shape[0], -1)
            weights[name] = Int4Weight(codes, tensors[f"{name}.scale"], tensors[f"{name}.zero"])
    return weights
