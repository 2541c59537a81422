"""Weight-only quantized linears on torch's own CPU kernels, and where their weights come from.

* int4: group-wise asymmetric 4-bit weights (group 32) through ``aten._weight_int4pack_mm_for_cpu``.
  The embedded GGUF's Q4_1 blocks (32 weights, an fp16 scale ``d`` and minimum ``m``: ``w = d * q + m``)
  map onto it exactly up to the rounding of ``d`` and ``m`` to bf16: the kernel computes
  ``w = (q - 8) * scale + zero``, so ``scale = d`` and ``zero = m + 8 d``.
* int8: per-output-channel symmetric 8-bit weights through ``aten._weight_int8pack_mm`` (the LM head and
  the embedding, stored as Q8_0 in the GGUF, and every linear under ``WEIGHT_QUANT=int8``).

Measured on this project's 2-core AVX2 machine (bf16 activations, 3072x576 weight): at 1 to 16 rows both
kernels beat bf16 ``F.linear`` several times over (bf16 GEMV has no fast path without AVX-512). torchao's
CPU int4 layout dispatches to the same aten kernel, so it would add a dependency and no speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

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


class Int4Linear:
    """``x @ w.T (+ bias)`` for 2-D bf16 ``x`` with int4 packed weights."""

    __slots__ = ("bias", "packed", "scale_zero")

    def __init__(self, weight: Int4Weight, bias: torch.Tensor | None, dtype: torch.dtype) -> None:
        self.packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(weight.codes.to(torch.int32), 1)
        # [in / GROUP_SIZE, out, 2]: the kernel's layout of (scale, zero) per group and output channel
        self.scale_zero = torch.stack([weight.scale.t(), weight.zero.t()], dim=-1).to(dtype).contiguous()
        self.bias = bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
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


class Int8Linear:
    __slots__ = ("bias", "codes", "scale")

    def __init__(self, weight: Int8Weight, bias: torch.Tensor | None, dtype: torch.dtype) -> None:
        self.codes = weight.codes.contiguous()
        self.scale = weight.scale.to(dtype)
        self.bias = bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.ops.aten._weight_int8pack_mm(x.contiguous(), self.codes, self.scale)
        return y if self.bias is None else y + self.bias

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """The rows of the (tied) embedding for ``ids``, dequantized."""
        return torch.nn.functional.embedding(ids, self.codes).to(self.scale.dtype) * self.scale[ids][..., None]


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
