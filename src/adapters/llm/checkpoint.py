"""What ``SlotDecodeBackend`` is built from: a Llama-family decoder's config and weights by parameter name.

``DecoderWeights.of_model`` takes them from a Hugging Face model. ``DecoderWeights.from_folder`` reads a
checkpoint folder (``config.json``, ``model.safetensors``) itself, as the embedded model's converted folder
is: building the Hugging Face model would import transformers' modeling stack (torch._dynamo,
torch.distributed, accelerate, sympy: about 110 MB resident for the life of the process) and read every
dense weight, while the backend of a GGUF's int4 blocks needs only the norms and the embedding. Each
tensor is read from the memory-mapped file when the backend asks for it; the backend keeps copies, so
the file is unmapped once the weights are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

FAST_PATH_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3"})
_UNSUPPORTED_ROPE = frozenset({"dynamic", "longrope"})  # their tables depend on the sequence length
WEIGHTS_FILE = "model.safetensors"


def decoder_supported(config: Any) -> bool:
    """Whether ``SlotDecodeBackend`` runs a decoder of this config (a Hugging Face config or ``DecoderConfig``)."""
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    window = getattr(config, "sliding_window", None)
    windowed = window is not None and getattr(config, "use_sliding_window", True)
    return bool(
        getattr(config, "model_type", None) in FAST_PATH_MODEL_TYPES
        and rope.get("rope_type", "default") not in _UNSUPPORTED_ROPE
        and (not windowed or window >= getattr(config, "max_position_embeddings", 0))
    )


@dataclass(frozen=True, slots=True)
class DecoderConfig:
    """The fields of a ``config.json`` the backend reads, under Hugging Face's names; ``eos_token_id`` also
    holds ``generation_config.json``'s."""

    model_type: str
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    max_position_embeddings: int
    rope_parameters: dict[str, Any]
    hidden_act: str
    sliding_window: int | None
    use_sliding_window: bool
    eos_token_id: list[int]

    @classmethod
    def read(cls, folder: Path) -> DecoderConfig:
        raw = json.loads((folder / "config.json").read_text())
        generation_path = folder / "generation_config.json"
        generation = json.loads(generation_path.read_text()) if generation_path.exists() else {}
        heads = int(raw["num_attention_heads"])
        # transformers 5 writes rope_parameters; older configs rope_theta and rope_scaling
        legacy_rope = {**(raw.get("rope_scaling") or {}), "rope_theta": raw.get("rope_theta", 10000.0)}
        rope = raw.get("rope_parameters") or legacy_rope
        return cls(
            model_type=str(raw.get("model_type")),
            vocab_size=int(raw["vocab_size"]),
            hidden_size=int(raw["hidden_size"]),
            num_hidden_layers=int(raw["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(raw.get("num_key_value_heads") or heads),
            head_dim=int(raw.get("head_dim") or raw["hidden_size"] // heads),
            rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
            max_position_embeddings=int(raw.get("max_position_embeddings") or 0),
            rope_parameters=dict(rope),
            hidden_act=str(raw.get("hidden_act", "silu")),
            sliding_window=raw.get("sliding_window"),
            use_sliding_window=bool(raw.get("use_sliding_window", True)),
            eos_token_id=[*_ids(raw.get("eos_token_id")), *_ids(generation.get("eos_token_id"))],
        )


def _ids(value: Any) -> list[int]:
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value] if isinstance(value, list | tuple) else []


@dataclass(frozen=True, slots=True)
class DecoderWeights:
    """A decoder's config, tensors by Hugging Face parameter name (``lm_head.weight`` absent when the LM
    head is the embedding), activation and rotary tables (``rope(positions)``: float32 cos and sin
    ``[positions, head_dim]``)."""

    config: Any
    shapes: Mapping[str, tuple[int, ...]]
    read: Callable[[str], torch.Tensor]
    device: torch.device
    dtype: torch.dtype
    act: Callable[[torch.Tensor], torch.Tensor]
    rope: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

    @classmethod
    def of_model(cls, model: Any) -> DecoderWeights:
        """The weights of a Hugging Face Llama-family model (views of its parameters)."""
        tensors = {name: p.detach() for name, p in model.named_parameters(remove_duplicate=False)}
        embed = tensors["model.embed_tokens.weight"]
        if tensors.get("lm_head.weight", embed).data_ptr() == embed.data_ptr():
            tensors.pop("lm_head.weight", None)
        rotary = model.model.rotary_emb

        def rope(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            probe = torch.zeros(1, dtype=torch.float32, device=positions.device)
            cos, sin = rotary(probe, positions[None, :])
            return cos[0], sin[0]

        return cls(
            config=model.config,
            shapes={name: tuple(t.shape) for name, t in tensors.items()},
            read=tensors.__getitem__,
            device=embed.device,
            dtype=embed.dtype,
            act=model.model.layers[0].mlp.act_fn,
            rope=rope,
        )

    @classmethod
    def from_folder(cls, folder: Path, device: str, dtype: torch.dtype | str) -> DecoderWeights | None:
        """The folder's decoder read from its files, in ``dtype`` (not a torch dtype: the file's); None when
        it is not one read this way (no ``model.safetensors``, or a type, activation or RoPE other than plain
        Llama-family ones)."""
        from safetensors import safe_open

        if not (folder / "config.json").exists() or not (folder / WEIGHTS_FILE).exists():
            return None
        config = DecoderConfig.read(folder)
        rope_type = config.rope_parameters.get("rope_type", config.rope_parameters.get("type", "default"))
        if not decoder_supported(config) or rope_type != "default" or config.hidden_act != "silu":
            return None
        opened = safe_open(str(folder / WEIGHTS_FILE), framework="pt", device=str(device))
        shapes = {name: tuple(opened.get_slice(name).get_shape()) for name in opened.keys()}
        if not isinstance(dtype, torch.dtype):
            dtype = opened.get_tensor("model.embed_tokens.weight").dtype
        inverse = _default_inverse_frequencies(float(config.rope_parameters["rope_theta"]), config.head_dim)

        def rope(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return _rotary_tables(inverse.to(positions.device), positions)

        return cls(
            config=config,
            shapes=shapes,
            read=lambda name: opened.get_tensor(name).to(dtype),
            device=torch.device(device),
            dtype=dtype,
            act=F.silu,
            rope=rope,
        )


def _default_inverse_frequencies(theta: float, head_dim: int) -> torch.Tensor:
    """Plain RoPE's inverse frequencies, as transformers computes them (``rope_type`` default)."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))


def _rotary_tables(inverse: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin ``[positions, head_dim]`` in float32, as transformers' Llama rotary embedding."""
    freqs = positions[..., None].float() * inverse
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos(), angles.sin()
