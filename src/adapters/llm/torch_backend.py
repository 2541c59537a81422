"""Decode backends on torch, both implementing the scheduler's ``DecodeBackend`` protocol.

``SlotDecodeBackend`` is the fast path for Llama-family decoders (Llama, Mistral, Qwen2, Qwen3, SmolLM2).
It runs the decoder layers itself:

* one forward per step over every token of the step, flattened: one new token of each decoding row plus
  the prompt chunks of the rows being prefilled (``MAX_PREFILL_TOKENS_PER_STEP``), so the weights are read
  once per step and a long prompt never stalls the running streams;
* q/k/v and gate/up projections are fused into one matmul each; on CPU the weights are int4 (the embedded
  GGUF's own Q4_1 blocks) or int8 through torch's weight-only kernels, or dense (``WEIGHT_QUANT``);
* the KV cache is one tensor per layer ``[rows, kv_heads, capacity, head_dim]`` whose rows and capacity
  follow the live sequences: it grows when they need it and shrinks (to nothing when idle) as they leave.
  Decoding rows are packed first, rows still prefilling after them, so one batched attention call covers
  every decoding row; on CPU attention runs in float32 (bf16 attention has no fast CPU kernel), and the
  native decode step keeps its rows' keys and values in half;
* prompt prefixes are reused through ``PrefixCache`` (their KV blocks are copied into the new row);
* only the positions that need logits (each decoding row, each finished prompt) go through the LM head.

``SerialDecodeBackend`` is the correct-but-slow fallback for other architectures: one Hugging Face
forward per sequence per step, each with its own cache.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import structlog
import torch
import torch.nn.functional as F

from adapters.llm.checkpoint import DecoderWeights, decoder_supported
from adapters.llm.native_decode import (
    HEAD,
    NativeDecoder,
    NativeLayer,
    NativeLinear,
    NativeMatrix,
    RowCache,
    load_library,
)
from adapters.llm.prefix_cache import PrefixCache
from adapters.llm.quantized import (
    GROUP_SIZE,
    DenseWeights,
    Int4Linear,
    Int4Weight,
    Int8Linear,
    SwitchingLinear,
    concat_int4,
    dense_prompts_faster,
    int4_supported,
    quantize_int4,
    quantize_int8,
    remembered_choice,
    weights_fingerprint,
)
from adapters.llm.sampler import LogitsProcessor, SampledLogprobs, TokenSampler
from adapters.llm.scheduler import PrefillChunk
from core.domain.generation import SamplingParams

log = structlog.get_logger(__name__)

_CAPACITY_STEP = 256  # the shared KV capacity grows and shrinks in multiples of this many tokens
_PRIVATE_STEP = 32  # a private KV cache's capacity, in multiples of this many tokens
SOLO_TOKENS = 1024  # a prompt this long decodes in its own KV cache rather than in the shared one


class Linear(Protocol):
    """``x @ w.T + b``; ``prompt`` for the rows of prompt chunks (``SwitchingLinear.prompt``)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def prompt(self, x: torch.Tensor) -> torch.Tensor: ...


class _DenseLinear:
    __slots__ = ("bias", "weight")

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self.weight, self.bias = weight, bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    prompt = __call__


class _Layer(NamedTuple):
    input_norm: torch.Tensor
    qkv: Linear
    o: Linear
    post_norm: torch.Tensor
    gate_up: Linear
    down: Linear
    q_norm: torch.Tensor | None
    k_norm: torch.Tensor | None
    act: Callable[[torch.Tensor], torch.Tensor]
    scale: float


class _PrefixBlock(NamedTuple):
    """One block of a prompt's KV in the prefix cache, ``[layers, kv_heads, block_tokens, head_dim]`` each.
    The values are casts of the model's dtype to the attention's (float32 on CPU): kept in the model's
    dtype they lose nothing and take half the room; the keys have RoPE applied in the attention's dtype."""

    keys: torch.Tensor
    values: torch.Tensor


@dataclass(slots=True, eq=False)
class _Row:
    slot: int
    prompt: Sequence[int]
    length: int = 0  # tokens in the KV cache
    decoding: bool = False
    keys: torch.Tensor | None = None  # its own cache [layers, kv_heads, capacity, head_dim], None in the shared
    values: torch.Tensor | None = None


@dataclass(slots=True)
class _Step:
    """The flattened tokens of one forward and where each comes from."""

    ids: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    chunks: list[tuple[_Row, int, int, int]] = field(default_factory=list)  # (row, start, first token, count)
    logit_tokens: list[int] = field(default_factory=list)  # flattened indices whose logits are needed
    logit_slots: list[int] = field(default_factory=list)


def _own(tensor: torch.Tensor) -> torch.Tensor:
    """A copy the backend owns: a view would keep the Hugging Face model's storage (a memory-mapped
    checkpoint file) resident after the model is dropped."""
    return tensor.detach().clone()


def trim_heap() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def release_memory(*, freeze: bool = False) -> None:
    """Collect garbage, then trim the heap: after loading, and when the engine goes idle (a full
    collection costs a pause of the engine thread, so never per step or per request). ``freeze``, once
    after loading, takes every object alive then out of the collector's sight, as the app's start-up does
    for what it built (a model loaded at its first request comes after that): the ~180,000 objects torch,
    transformers and the app leave made each automatic full collection a pause of every stream (10% of a
    single stream's time in an engine without the freeze, measured)."""
    gc.collect()
    if freeze:
        gc.freeze()
    trim_heap()


class SlotDecodeBackend:
    def __init__(
        self,
        model: DecoderWeights | Any,
        *,
        max_batch_size: int,
        max_seq_len: int,
        weight_quant: str = "none",
        int4_weights: dict[str, Int4Weight] | None = None,
        prefix_cache_tokens: int = 0,
        prefix_block_tokens: int = 32,
        solo_tokens: int = SOLO_TOKENS,
        dense_weights_path: Path | None = None,
        dense_prompts: bool | None = None,
        native_library: Path | None = None,
    ) -> None:
        """``model``: a Hugging Face model or its ``DecoderWeights`` (the backend keeps neither);
        ``dense_weights_path``: where dense copies of the quantized weights are kept for prompt rows
        (none: the quantized kernels run every row); ``dense_prompts``: whether prompt rows use them
        (None: for each kind of linear where that is measured faster when the backend starts);
        ``native_library``: the built ``native/decode.c``, which then decodes the rows of quantized weights."""
        weights = model if isinstance(model, DecoderWeights) else DecoderWeights.of_model(model)
        config, read = weights.config, weights.read
        self._device, self._dtype = weights.device, weights.dtype
        cpu = self._device.type == "cpu"
        self._attn_dtype = torch.float32 if cpu else self._dtype
        self.max_batch_size = max_batch_size
        self.max_seq_len = max_seq_len
        self._heads = config.num_attention_heads
        self._kv_heads = getattr(config, "num_key_value_heads", None) or self._heads
        self._head_dim = getattr(config, "head_dim", None) or config.hidden_size // self._heads
        self._hidden = config.hidden_size
        self._eps = float(getattr(config, "rms_norm_eps", 1e-6))
        self._vocab = config.vocab_size
        quant = weight_quant if cpu else "none"
        int4_weights = int4_weights or {}
        self.linear_kind = {"none": "dense", "int8": "int8", "int4": "int4"}[quant]
        # The quantized linears by kind, with what their dense copies are made of.
        switching: dict[str, list[tuple[SwitchingLinear, Callable[[], torch.Tensor]]]] = {}
        natives: list[NativeMatrix] = []  # the same weights as the native decode step reads them, in order

        def linear(names: list[str], kind: str) -> Linear:
            """The fused linear of these weights (read only where no int4 weight is given for them)."""
            bias = self._fused_bias(weights, names)
            if quant == "int4" and int4_supported(weights.shapes[names[0]]):
                parts = [int4_weights.get(n) or quantize_int4(read(n)) for n in names]
                int4 = concat_int4(parts)
                quantized: Int4Linear | Int8Linear = Int4Linear(int4, bias, self._dtype)
                switching.setdefault(kind, []).append((quantized, int4.dequantize))
                natives.append(NativeMatrix.q4(int4, bias))
                return quantized
            fused = torch.cat([read(n) for n in names]) if len(names) > 1 else read(names[0])
            if quant in ("int4", "int8"):
                quantized = Int8Linear(quantize_int8(fused), bias, self._dtype)
                switching.setdefault(kind, []).append((quantized, quantized.dequantize))
                natives.append(NativeMatrix.q8(quantized.codes, quantized.scale, bias))
                return quantized
            return _DenseLinear(fused.contiguous(), bias)

        def norm(name: str) -> torch.Tensor | None:
            return _own(read(name)) if name in weights.shapes else None

        self._layers: list[_Layer] = []
        for index in range(config.num_hidden_layers):
            prefix = f"model.layers.{index}."
            input_norm = norm(prefix + "input_layernorm.weight")
            post_norm = norm(prefix + "post_attention_layernorm.weight")
            assert input_norm is not None and post_norm is not None
            self._layers.append(
                _Layer(
                    input_norm=input_norm,
                    qkv=linear([prefix + f"self_attn.{p}_proj.weight" for p in "qkv"], "qkv"),
                    o=linear([prefix + "self_attn.o_proj.weight"], "o"),
                    post_norm=post_norm,
                    gate_up=linear([prefix + "mlp.gate_proj.weight", prefix + "mlp.up_proj.weight"], "gate_up"),
                    down=linear([prefix + "mlp.down_proj.weight"], "down"),
                    q_norm=norm(prefix + "self_attn.q_norm.weight"),
                    k_norm=norm(prefix + "self_attn.k_norm.weight"),
                    act=weights.act,
                    scale=self._head_dim**-0.5,
                )
            )
        final_norm = norm("model.norm.weight")
        assert final_norm is not None
        self._final_norm = final_norm
        embed_weight = read("model.embed_tokens.weight")
        tied = "lm_head.weight" not in weights.shapes
        head_weight = embed_weight if tied else read("lm_head.weight")
        head_bias = read("lm_head.bias") if "lm_head.bias" in weights.shapes else None
        if quant != "none":
            # The LM head (and a tied embedding with it) as int8: the GGUF stores it as Q8_0.
            head = Int8Linear(quantize_int8(head_weight), head_bias, self._dtype)
            self._lm_head: Callable[[torch.Tensor], torch.Tensor] = head
            self._embed: Callable[[torch.Tensor], torch.Tensor] = (
                head.embed if tied else partial(F.embedding, weight=_own(embed_weight))
            )
        else:
            self._lm_head = lambda x, w=head_weight, b=head_bias: F.linear(x, w, b)
            self._embed = lambda ids, w=embed_weight: F.embedding(ids, w)
        self._native: NativeDecoder | None = None
        if native_library is not None and quant != "none" and config.hidden_act == "silu" and head_bias is None:
            self._native = self._native_decoder(native_library, natives, head, tied=tied)
        if self._native is not None:
            switching = self._prompts_through(self._native, switching)
        # The decoding rows' caches: half for the native step (its attention reads every cached key and
        # value each step: half the bytes, and llama.cpp's default), the attention's dtype otherwise.
        # Prompts prefill in the attention's dtype; a row's cache is converted once, when it starts decoding.
        self._kv_dtype = torch.float16 if self._native is not None else self._attn_dtype
        with torch.inference_mode():
            cos, sin = weights.rope(torch.arange(max_seq_len, device=self._device))
            # RoPE as x * cos + roll(x, half) * sin with the first half of sin negated (rotate_half folded in).
            half = self._head_dim // 2
            sin = torch.cat((-sin[:, :half], sin[:, half:]), dim=-1)
            self._cos, self._sin = cos.to(self._attn_dtype), sin.to(self._attn_dtype)
        self._sampler = TokenSampler(self._vocab, max_batch_size, self._device)
        self._logits = torch.zeros(max_batch_size, self._vocab, dtype=torch.float32, device=self._device)
        # The last native step's logits, row i for slot i of the list: sampled from where they are when the
        # scheduler asks for exactly those slots (the usual step), spread into ``_logits`` otherwise.
        self._decoded: tuple[list[int], torch.Tensor] | None = None
        self._by_slot: dict[int, _Row] = {}  # every live sequence
        self._rows: list[_Row] = []  # decoding in the shared cache, in its row order
        self._row_of_slot: dict[int, int] = {}  # their rows in it
        self._solo: list[_Row] = []  # decoding long sequences, each in its own cache
        self._prefilling: list[_Row] = []  # each in its own cache
        self._solo_tokens = solo_tokens
        self._keys: torch.Tensor | None = None  # the shared cache [layers, rows, kv_heads, capacity, head_dim]
        self._values: torch.Tensor | None = None
        self._prefix = PrefixCache[_PrefixBlock](prefix_cache_tokens, prefix_block_tokens)
        self._dense: DenseWeights | None = None
        self.dense_prompts: dict[str, bool] = {}
        if switching and dense_weights_path is not None and dense_prompts is not False:
            self._use_dense_copies(switching, dense_weights_path, dense_prompts)
        log.info(
            "llm.backend.ready",
            backend="slot",
            linear=self.linear_kind,
            layers=len(self._layers),
            prefix_cache_tokens=prefix_cache_tokens,
            dense_prompts=self.dense_prompts,
        )

    def _prompts_through(
        self, native: NativeDecoder, switching: dict[str, list[tuple[SwitchingLinear, Callable[[], torch.Tensor]]]]
    ) -> dict[str, list[tuple[SwitchingLinear, Callable[[], torch.Tensor]]]]:
        """Prompt rows go through the native kernels too (faster than torch's int4 kernel at every row count
        measured), so torch's packed copies of the weights are dropped: the weights are held once."""
        kinds = ("qkv", "o", "gate_up", "down")
        for index, layer in enumerate(self._layers):
            linears = [
                NativeLinear(native, index, which, getattr(layer, kind).bias) for which, kind in enumerate(kinds)
            ]
            self._layers[index] = layer._replace(**dict(zip(kinds, linears, strict=True)))
        return {
            kind: [(getattr(self._layers[i], kind), make) for i, (_, make) in enumerate(group)]
            for kind, group in switching.items()
        }

    def _native_decoder(
        self, library: Path, natives: list[NativeMatrix], head: Int8Linear, *, tied: bool
    ) -> NativeDecoder | None:
        """The native decode step over these weights, or None where its kernels don't take their shapes:
        every input a whole number of blocks of 32, heads of at most 512 values in whole KV groups."""
        widths = [self._hidden, self._heads * self._head_dim, *(matrix.inner for matrix in natives)]
        if any(width % GROUP_SIZE for width in widths) or self._head_dim > 512 or self._heads % self._kv_heads:
            log.info("llm.native.unsupported_shapes", hidden=self._hidden, head_dim=self._head_dim)
            return None
        try:
            lib = load_library(library)
        except OSError as error:
            log.warning("llm.native.unavailable", path=str(library), error=str(error))
            return None
        layers = [
            NativeLayer(layer.input_norm, layer.post_norm, layer.q_norm, layer.k_norm, *natives[4 * i : 4 * i + 4])
            for i, layer in enumerate(self._layers)
        ]
        native = NativeDecoder(
            lib,
            hidden=self._hidden,
            heads=self._heads,
            kv_heads=self._kv_heads,
            head_dim=self._head_dim,
            inter=layers[0].down.inner,
            vocab=self._vocab,
            eps=self._eps,
            layers=layers,
            final_norm=self._final_norm,
            head=NativeMatrix.q8(head.codes, head.scale, None, interleaved=True),
            threads=torch.get_num_threads(),
        )
        # The native copies are the ones kept: prompt logits and a tied embedding read the head there, and
        # torch's int8 linears read the layers' int8 codes there.
        self._lm_head = NativeLinear(native, HEAD, 0, None)
        if tied:
            self._embed = native.embed
        for index, layer in enumerate(self._layers):
            for linear, matrix in zip(
                (layer.qkv, layer.o, layer.gate_up, layer.down), native.matrices(index), strict=True
            ):
                if isinstance(linear, Int8Linear):
                    linear.codes = matrix.data
        return native

    def _use_dense_copies(
        self,
        switching: dict[str, list[tuple[SwitchingLinear, Callable[[], torch.Tensor]]]],
        path: Path,
        forced: bool | None,
    ) -> None:
        """Dense copies of the quantized linears in ``path`` (written once, checked against a fingerprint of
        the quantized weights) for the prompt rows of each kind where they are faster."""
        entries = [(f"{kind}.{i}", make) for kind, group in switching.items() for i, (_, make) in enumerate(group)]
        fingerprint = weights_fingerprint(quantized for group in switching.values() for quantized, _ in group)
        try:
            dense = DenseWeights.open_or_write(path, entries, self._dtype, fingerprint)
        except OSError as error:
            log.warning("llm.backend.dense_copies_unavailable", path=str(path), error=str(error))
            return
        for kind, group in switching.items():
            for i, (quantized, _) in enumerate(group):
                quantized.use_dense(dense.provider(f"{kind}.{i}"))
        if forced is None:
            kinds = {kind: [quantized for quantized, _ in group] for kind, group in switching.items()}
            inputs = {kind: group[0][0].in_features for kind, group in switching.items()}
            self.dense_prompts = remembered_choice(
                path.with_suffix(".choice.json"),
                fingerprint,
                lambda: dense_prompts_faster(kinds, inputs, self._dtype),
            )
        else:
            self.dense_prompts = dict.fromkeys(switching, forced)
        for kind, group in switching.items():
            if not self.dense_prompts[kind]:
                for quantized, _ in group:
                    quantized.use_dense(None)
        dense.release()
        self._dense = dense if any(self.dense_prompts.values()) else None

    def _fused_bias(self, weights: DecoderWeights, names: list[str]) -> torch.Tensor | None:
        """The biases of the linears fused from these weights (zeros for those without), or None."""
        biases = [name.removesuffix(".weight") + ".bias" for name in names]
        if not any(b in weights.shapes for b in biases):
            return None
        return torch.cat(
            [
                weights.read(b)
                if b in weights.shapes
                else torch.zeros(weights.shapes[w][0], dtype=self._dtype, device=self._device)
                for b, w in zip(biases, names, strict=True)
            ]
        )

    @staticmethod
    def supports(model: Any) -> bool:
        """Whether this backend runs the Hugging Face ``model`` (its config and its modules' layout)."""
        decoder = getattr(model, "model", None)
        layers = getattr(decoder, "layers", None)
        return bool(
            decoder_supported(model.config)
            and layers is not None
            and hasattr(decoder, "rotary_emb")
            and hasattr(decoder, "norm")
            and hasattr(model, "lm_head")
            and all(hasattr(layer.self_attn, "q_proj") and hasattr(layer.mlp, "gate_proj") for layer in layers)
        )

    # -- DecodeBackend ------------------------------------------------------------------------------

    def start(self, slot: int, prompt_ids: Sequence[int], sampling: SamplingParams) -> int:
        if slot in self._by_slot:
            raise RuntimeError(f"slot {slot} is already in use")
        if len(self._by_slot) >= self.max_batch_size:
            raise RuntimeError("no free rows for this sequence")
        if len(prompt_ids) + 1 > self.max_seq_len:
            raise ValueError(f"a sequence of {len(prompt_ids) + 1} tokens exceeds the context of {self.max_seq_len}")
        blocks = self._prefix.lookup(prompt_ids, len(prompt_ids) - 1)  # the last token must run for its logits
        row = _Row(slot, prompt_ids)
        # Its own KV while it prefills, sized once for the whole prompt: the decoding rows' shared cache is
        # neither grown nor copied while a long prompt comes in.
        # With room for its first tokens (or all of them): growing a long row's cache copies all of it.
        room = min(sampling.max_tokens, max(_PRIVATE_STEP, len(prompt_ids) // 4))
        row.keys, row.values = self._private_kv(
            -(-(len(prompt_ids) + room) // _PRIVATE_STEP) * _PRIVATE_STEP, self._attn_dtype
        )
        if blocks:
            with torch.inference_mode():
                row.length = len(blocks) * self._prefix.block_tokens
                row.keys[:, :, : row.length] = torch.cat([block.keys for block in blocks], dim=2)
                row.values[:, :, : row.length] = torch.cat([block.values for block in blocks], dim=2)
        self._by_slot[slot] = row
        self._prefilling.append(row)
        self._sampler.configure(slot, sampling, prompt_ids)
        return row.length

    def step(self, chunks: Sequence[PrefillChunk], slots: Sequence[int], token_ids: Sequence[int]) -> None:
        decoding = [*self._rows, *self._solo]  # the flattened order of the decoded tokens
        if len(slots) != len(decoding):
            raise RuntimeError("a step must decode every decoding sequence")
        token_of: dict[int, int] = {}
        for slot, token in zip(slots, token_ids, strict=True):
            row = self._by_slot.get(slot)
            if row is None or not row.decoding:
                raise RuntimeError(f"slot {slot} has not finished its prompt")
            token_of[slot] = token
        native = self._native is not None and bool(decoding)
        plan = _Step()
        if not native:
            for index, row in enumerate(decoding):
                plan.ids.append(token_of[row.slot])
                plan.positions.append(row.length)
                plan.logit_tokens.append(index)
                plan.logit_slots.append(row.slot)
        finishing: list[_Row] = []
        for chunk in chunks:
            row = self._by_slot[chunk.slot]
            if row.decoding or row.length + len(chunk.token_ids) > len(row.prompt):
                raise RuntimeError(f"slot {chunk.slot} got a chunk beyond its prompt")
            first = len(plan.ids)
            plan.chunks.append((row, row.length, first, len(chunk.token_ids)))
            plan.ids.extend(chunk.token_ids)
            plan.positions.extend(range(row.length, row.length + len(chunk.token_ids)))
            if chunk.last:
                if row.length + len(chunk.token_ids) != len(row.prompt):
                    raise RuntimeError(f"slot {chunk.slot}: the last chunk does not end its prompt")
                plan.logit_tokens.append(len(plan.ids) - 1)
                plan.logit_slots.append(chunk.slot)
                finishing.append(row)
        if not plan.ids and not decoding:
            return
        if self._rows:
            self._reserve(len(self._rows), max(row.length for row in self._rows) + 1)
        for row in self._solo:
            self._grow_private(row, row.length + 1)
        with torch.inference_mode():
            self._spread_decoded()
            if native:
                self._decode_natively(decoding, token_of)
            if plan.ids:
                logits = self._forward(plan, [] if native else self._rows, [] if native else self._solo)
                if logits is not None:
                    self._logits[torch.tensor(plan.logit_slots, dtype=torch.long, device=self._device)] = logits
        for row in decoding:
            row.length += 1
        for row, _, _, count in plan.chunks:
            row.length += count
            self._offer_prefix(row)
        for row in finishing:
            self._finish_prompt(row)

    def _decode_natively(self, decoding: list[_Row], token_of: dict[int, int]) -> None:
        """Every decoded row through the native decode step, in the order of their slots (the scheduler's
        order: each row has its own cache, so any order computes the same); their logits kept in
        ``self._decoded``."""
        assert self._native is not None
        ordered = sorted(decoding, key=lambda row: row.slot)
        caches = []
        for row in ordered:
            if row.keys is None:  # a row of the shared cache
                keys, values = self._keys, self._values
                assert keys is not None and values is not None
                head_stride = keys.shape[3] * keys.shape[4]
                offset = self._row_of_slot[row.slot] * keys.shape[2] * head_stride * keys.element_size()
                caches.append(
                    RowCache(keys.data_ptr() + offset, values.data_ptr() + offset, keys[0].numel(), head_stride)
                )
            else:
                assert row.values is not None
                caches.append(
                    RowCache(row.keys.data_ptr(), row.values.data_ptr(), row.keys[0].numel(), row.keys[0, 0].numel())
                )
        slots = [row.slot for row in ordered]
        x = self._embed(torch.tensor([token_of[slot] for slot in slots], dtype=torch.long, device=self._device))
        logits = self._native.decode(x, [row.length for row in ordered], caches, self._cos, self._sin)
        self._decoded = (slots, logits)

    def _spread_decoded(self) -> None:
        """The last native step's logits into ``self._logits``, where every slot's latest logits are."""
        if self._decoded is not None:
            slots, logits = self._decoded
            self._logits[torch.tensor(slots, dtype=torch.long, device=self._device)] = logits
            self._decoded = None

    def sample(self, slots: Sequence[int]) -> list[int]:
        with torch.inference_mode():
            if self._decoded is not None and self._decoded[0] == list(slots):
                logits = self._decoded[1]  # the step's own tensor: the sampler may change it
                self._decoded = None
            else:
                self._spread_decoded()
                logits = self._logits[torch.tensor(list(slots), dtype=torch.long, device=self._device)]
            return self._sampler.sample(slots, logits)

    def logits(self, slot: int) -> torch.Tensor:
        """The logits ``slot``'s next token would be sampled from (for tests and diagnostics)."""
        with torch.inference_mode():
            self._spread_decoded()
        return self._logits[slot]

    def sampled_logprobs(self, slot: int) -> SampledLogprobs | None:
        return self._sampler.logprobs(slot)

    def set_processor(self, slot: int, processor: LogitsProcessor) -> None:
        self._sampler.set_processor(slot, processor)

    def release(self, slot: int) -> None:
        row = self._by_slot.pop(slot)
        if row in self._prefilling:
            self._prefilling.remove(row)
        elif row.keys is not None:  # a solo row
            self._solo.remove(row)
        else:  # a row of the shared cache: the last one fills its hole
            index = self._row_of_slot.pop(slot)
            self._move(len(self._rows) - 1, index)
            self._rows.pop()
        row.keys = row.values = None
        self._sampler.release(slot)
        self._shrink()

    @property
    def native_decode(self) -> bool:
        """Whether decoded rows go through the native decode step."""
        return self._native is not None

    def kv_cache_usage(self) -> float:
        """Tokens held by live sequences, as a share of ``max_batch_size`` rows of the full context."""
        return sum(row.length for row in self._by_slot.values()) / (self.max_batch_size * self.max_seq_len)

    def kv_cache_bytes(self) -> int:
        """Bytes the KV cache holds now (live rows, not counting the prefix cache)."""
        held = 0 if self._keys is None else self._keys.numel() * self._keys.element_size() * 2
        for row in self._by_slot.values():
            if row.keys is not None:
                held += row.keys.numel() * row.keys.element_size() * 2
        return held

    def dense_copies_mapped(self) -> bool:
        """Whether the dense copies of the quantized weights are in this process's memory now."""
        return self._dense is not None and self._dense.mapped

    # -- rows and the cache ---------------------------------------------------------------------------

    def _private_kv(self, tokens: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """A row's own cache, uninitialised: only positions below its length are ever read, and zeroing a
        long prompt's (320 MB at 7,000 tokens) took ~170 ms, a pause of every running stream."""
        shape = (len(self._layers), self._kv_heads, min(tokens, self.max_seq_len), self._head_dim)
        with torch.inference_mode():
            return (
                torch.empty(shape, dtype=dtype, device=self._device),
                torch.empty(shape, dtype=dtype, device=self._device),
            )

    def _grow_private(self, row: _Row, tokens: int) -> None:
        assert row.keys is not None and row.values is not None
        if tokens > self.max_seq_len:
            raise ValueError(f"a sequence of {tokens} tokens exceeds the context of {self.max_seq_len}")
        held = row.keys.shape[2]
        if tokens <= held:
            return
        self._rehouse(row, max(tokens, held + held // 2, held + _PRIVATE_STEP), row.keys.dtype)

    def _rehouse(self, row: _Row, tokens: int, dtype: torch.dtype) -> None:
        """The row's own cache into a new one of ``tokens`` positions in ``dtype``."""
        assert row.keys is not None and row.values is not None
        keys, values = self._private_kv(tokens, dtype)
        with torch.inference_mode():
            keys[:, :, : row.length] = row.keys[:, :, : row.length]
            values[:, :, : row.length] = row.values[:, :, : row.length]
        row.keys, row.values = keys, values

    def _move(self, source: int, target: int) -> None:
        """Shared row ``source`` takes the place of row ``target`` (whose sequence is gone)."""
        if source == target:
            return
        row = self._rows[source]
        if row.length and self._keys is not None and self._values is not None:
            with torch.inference_mode():
                self._keys[:, target, :, : row.length] = self._keys[:, source, :, : row.length]
                self._values[:, target, :, : row.length] = self._values[:, source, :, : row.length]
        self._rows[target] = row
        self._row_of_slot[row.slot] = target

    def _offer_prefix(self, row: _Row) -> None:
        """The full blocks of the prompt prefilled so far go to the prefix cache, chunk by chunk (so a long
        prompt's copy is spread over its steps rather than one pause at its end)."""
        keys, values, size = row.keys, row.values, self._prefix.block_tokens
        assert keys is not None and values is not None

        def block_at(block: int) -> _PrefixBlock:
            span = slice(block * size, (block + 1) * size)
            return _PrefixBlock(
                keys[:, :, span].clone(memory_format=torch.contiguous_format),
                values[:, :, span].to(self._dtype, memory_format=torch.contiguous_format, copy=True),
            )

        with torch.inference_mode():
            self._prefix.insert(row.prompt[: row.length], block_at)

    def _finish_prompt(self, row: _Row) -> None:
        """The prompt is in its private cache (its blocks offered to the prefix cache): decode, in the
        shared cache, or on its own when it is long (so the shared cache never takes every row to its
        length)."""
        keys, values = row.keys, row.values
        assert keys is not None and values is not None
        self._prefilling.remove(row)
        row.decoding = True
        with torch.inference_mode():
            if row.length >= self._solo_tokens:
                if keys.dtype != self._kv_dtype:  # into its decoding dtype, with the room it had
                    self._rehouse(row, keys.shape[2], self._kv_dtype)
                self._solo.append(row)
                return
            index = len(self._rows)
            self._reserve(index + 1, row.length + 1)
            assert self._keys is not None and self._values is not None
            self._keys[:, index, :, : row.length] = keys[:, :, : row.length]
            self._values[:, index, :, : row.length] = values[:, :, : row.length]
        row.keys = row.values = None
        self._rows.append(row)
        self._row_of_slot[row.slot] = index

    def _reserve(self, rows: int, tokens: int) -> None:
        if tokens > self.max_seq_len:
            raise ValueError(f"a sequence of {tokens} tokens exceeds the context of {self.max_seq_len}")
        held_rows, held_tokens = self._shape()
        if rows <= held_rows and tokens <= held_tokens:
            return
        new_rows = max(held_rows, min(self.max_batch_size, 1 << max(0, rows - 1).bit_length()))
        new_tokens = held_tokens
        if tokens > held_tokens:  # grow by half at least, so a growing sequence does not reallocate every step
            grown = max(tokens, held_tokens + held_tokens // 2)
            new_tokens = max(tokens, min(self.max_seq_len, -(-grown // _CAPACITY_STEP) * _CAPACITY_STEP))
        self._reallocate(new_rows, new_tokens)

    def _shrink(self) -> None:
        if not self._rows:
            if self._keys is not None:
                self._keys = self._values = None
            if not self._by_slot:
                if self._dense is not None:
                    self._dense.release()
                release_memory()
            return
        held_rows, held_tokens = self._shape()
        rows = 1 << max(0, len(self._rows) - 1).bit_length()
        tokens = -(-(max(row.length for row in self._rows) + 1) // _CAPACITY_STEP) * _CAPACITY_STEP
        if held_rows >= 2 * rows or held_tokens >= 2 * tokens + _CAPACITY_STEP:
            self._reallocate(min(held_rows, rows), min(held_tokens, tokens))

    def _shape(self) -> tuple[int, int]:
        return (0, 0) if self._keys is None else (self._keys.shape[1], self._keys.shape[3])

    def _reallocate(self, rows: int, tokens: int) -> None:
        held_rows, held_tokens = self._shape()
        shrinking = rows * tokens < held_rows * held_tokens
        shape = (len(self._layers), rows, self._kv_heads, tokens, self._head_dim)
        with torch.inference_mode():
            keys = torch.zeros(shape, dtype=self._kv_dtype, device=self._device)
            values = torch.zeros(shape, dtype=self._kv_dtype, device=self._device)
            if self._keys is not None and self._values is not None:
                live = len(self._rows)
                span = min(tokens, max((row.length for row in self._rows), default=0))
                keys[:, :live, :, :span] = self._keys[:, :live, :, :span]
                values[:, :live, :, :span] = self._values[:, :live, :, :span]
        self._keys, self._values = keys, values
        if shrinking:
            trim_heap()

    # -- the model ----------------------------------------------------------------------------------

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """RMSNorm exactly as Hugging Face's Llama: in float32 (``rms_norm`` upcasts a bf16 input itself),
        cast back, then scaled by the weight."""
        return F.rms_norm(x, (x.shape[-1],), None, self._eps) * weight

    @staticmethod
    def _rope(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
        """``x * cos + rotate_half(x) * sin``, with rotate_half's sign already in ``signed_sin``."""
        return torch.addcmul(x * cos, x.roll(x.shape[-1] // 2, -1), signed_sin)

    def _forward(self, plan: _Step, shared: list[_Row], solo_rows: list[_Row]) -> torch.Tensor | None:
        """The step's tokens through the decoder in torch: the decoding rows given (``shared``: the shared
        cache's, ``solo_rows``: those in their own caches), then the prompt chunks."""
        device, attn_dtype = self._device, self._attn_dtype
        heads, kv_heads, dim = self._heads, self._kv_heads, self._head_dim
        group = heads // kv_heads
        decoding = len(shared)  # the first tokens: the shared cache's rows, then the solo rows
        solo = [(decoding + i, row) for i, row in enumerate(solo_rows)]
        keys, values = self._keys, self._values
        assert (keys is not None and values is not None) or not decoding
        ids = torch.tensor(plan.ids, dtype=torch.long, device=device)
        positions = torch.tensor(plan.positions, dtype=torch.long, device=device)
        cos, sin = self._cos[positions][:, None, :], self._sin[positions][:, None, :]
        x = self._embed(ids).to(self._dtype)  # [tokens, hidden]
        if decoding:
            decode_positions = positions[:decoding]
            span = int(max(plan.positions[:decoding])) + 1
            rows = torch.arange(decoding, device=device)
            # [rows, 1, 1, span]: row r sees its positions 0..positions[r], nothing beyond (one row sees all).
            visible = (
                None
                if decoding == 1
                else (torch.arange(span, device=device)[None, :] <= decode_positions[:, None])[:, None, None, :]
            )
        masks = [self._chunk_mask(start, count) for _, start, _, count in plan.chunks]
        decoded = decoding + len(solo)  # the decoded tokens come first, then the prompt chunks' tokens
        only_shared = decoding == len(plan.ids)  # every token is a decoding row of the shared cache

        def run(linear: Linear, rows: torch.Tensor) -> torch.Tensor:
            if decoded == rows.shape[0]:
                return linear(rows)
            if decoded == 0:
                return linear.prompt(rows)
            return torch.cat([linear(rows[:decoded]), linear.prompt(rows[decoded:])])

        for index, layer in enumerate(self._layers):
            qkv = run(layer.qkv, self._norm(x, layer.input_norm)).view(-1, heads + 2 * kv_heads, dim)
            if layer.q_norm is not None:
                q = self._norm(qkv[:, :heads], layer.q_norm)
                k = self._norm(qkv[:, heads : heads + kv_heads], layer.k_norm)  # type: ignore[arg-type]
                qk = torch.cat((q, k), dim=1).to(attn_dtype)
                v = qkv[:, heads + kv_heads :].to(attn_dtype)
            else:  # one cast for all three
                qkv = qkv.to(attn_dtype)
                qk, v = qkv[:, : heads + kv_heads], qkv[:, heads + kv_heads :]
            qk = self._rope(qk, cos, sin)  # q and k together
            q, k = qk[:, :heads], qk[:, heads:]
            out = None if only_shared else torch.empty(q.shape[0], heads, dim, dtype=attn_dtype, device=device)
            if decoding:
                layer_keys, layer_values = keys[index], values[index]  # type: ignore[index]
                layer_keys[rows, :, decode_positions] = k[:decoding]
                layer_values[rows, :, decode_positions] = v[:decoding]
                # The query heads sharing a KV head act as a short query "sequence" over that head: fused
                # SDPA without expanding the cache.
                attended = F.scaled_dot_product_attention(
                    q[:decoding].reshape(decoding, kv_heads, group, dim),
                    layer_keys[:decoding, :, :span],
                    layer_values[:decoding, :, :span],
                    attn_mask=visible,
                    scale=layer.scale,
                ).view(decoding, heads, dim)
                if out is None:
                    out = attended
                else:
                    out[:decoding] = attended
            assert out is not None
            for token, row in solo:
                position = row.length
                row_keys, row_values = row.keys[index], row.values[index]  # type: ignore[index]
                row_keys[:, position] = k[token]
                row_values[:, position] = v[token]
                out[token] = F.scaled_dot_product_attention(
                    q[token].view(kv_heads, group, dim),
                    row_keys[:, : position + 1],
                    row_values[:, : position + 1],
                    scale=layer.scale,
                ).view(heads, dim)
            for (row, start, first, count), mask in zip(plan.chunks, masks, strict=True):
                end = start + count
                row_keys, row_values = row.keys[index], row.values[index]  # type: ignore[index]
                row_keys[:, start:end] = k[first : first + count].transpose(0, 1)
                row_values[:, start:end] = v[first : first + count].transpose(0, 1)
                # [kv_heads, group * count, dim] queries over the row's [kv_heads, end, dim] keys: two
                # batched matmuls and a softmax (faster than CPU SDPA with a mask at every chunk size).
                chunk_q = q[first : first + count].view(count, kv_heads, group, dim).permute(1, 2, 0, 3)
                scores = torch.baddbmm(
                    mask,
                    chunk_q.reshape(kv_heads, group * count, dim),
                    row_keys[:, :end].transpose(1, 2),
                    alpha=layer.scale,
                )
                attended = torch.bmm(torch.softmax(scores, dim=-1, out=scores), row_values[:, :end])
                out[first : first + count] = (
                    attended.view(kv_heads, group, count, dim).permute(2, 0, 1, 3).reshape(count, heads, dim)
                )
            x = x + run(layer.o, out.view(-1, heads * dim).to(self._dtype))
            gate, up = run(layer.gate_up, self._norm(x, layer.post_norm)).chunk(2, dim=-1)
            x = x + run(layer.down, layer.act(gate) * up)
        if not plan.logit_tokens:  # only prompt chunks that do not end their prompt
            return None
        final = x[torch.tensor(plan.logit_tokens, dtype=torch.long, device=device)]
        return self._lm_head(self._norm(final, self._final_norm)).float()

    def _chunk_mask(self, start: int, count: int) -> torch.Tensor:
        """[group * count, start + count], added to the scores: query i (of each head in the group) sees
        keys 0..start + i (0), not the later ones (-inf)."""
        group = self._heads // self._kv_heads
        query = torch.arange(count, device=self._device).repeat(group)[:, None] + start
        hidden = torch.arange(start + count, device=self._device)[None, :] > query
        return torch.zeros(hidden.shape, dtype=self._attn_dtype, device=self._device).masked_fill_(hidden, -torch.inf)


class SerialDecodeBackend:
    """Any causal LM through its own forward and cache, one sequence at a time (slow, correct)."""

    def __init__(self, model: Any, *, max_batch_size: int) -> None:
        self.max_batch_size = max_batch_size
        self._model = model
        self._device = next(model.parameters()).device
        self._caches: dict[int, Any] = {}
        self._logits: dict[int, torch.Tensor] = {}
        self._sampler = TokenSampler(model.config.vocab_size, max_batch_size, self._device)
        log.info("llm.backend.ready", backend="serial")

    def start(self, slot: int, prompt_ids: Sequence[int], sampling: SamplingParams) -> int:
        self._caches[slot] = None
        self._logits.pop(slot, None)
        self._sampler.configure(slot, sampling, prompt_ids)
        return 0

    def step(self, chunks: Sequence[PrefillChunk], slots: Sequence[int], token_ids: Sequence[int]) -> None:
        with torch.inference_mode():
            for chunk in chunks:
                self._run(chunk.slot, list(chunk.token_ids), keep_logits=chunk.last)
            for slot, token in zip(slots, token_ids, strict=True):
                self._run(slot, [token], keep_logits=True)

    def _run(self, slot: int, ids: list[int], *, keep_logits: bool) -> None:
        tensor = torch.tensor([ids], dtype=torch.long, device=self._device)
        output = self._model(input_ids=tensor, past_key_values=self._caches[slot], use_cache=True)
        self._caches[slot] = output.past_key_values
        if keep_logits:
            self._logits[slot] = output.logits[0, -1].float()

    def sample(self, slots: Sequence[int]) -> list[int]:
        with torch.inference_mode():
            return self._sampler.sample(slots, torch.stack([self._logits[slot] for slot in slots]))

    def logits(self, slot: int) -> torch.Tensor:
        """The logits ``slot``'s next token would be sampled from (for tests and diagnostics)."""
        return self._logits[slot]

    def sampled_logprobs(self, slot: int) -> SampledLogprobs | None:
        return self._sampler.logprobs(slot)

    def set_processor(self, slot: int, processor: LogitsProcessor) -> None:
        self._sampler.set_processor(slot, processor)

    def release(self, slot: int) -> None:
        self._caches.pop(slot, None)
        self._logits.pop(slot, None)
        self._sampler.release(slot)
