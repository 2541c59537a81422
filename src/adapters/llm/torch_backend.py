"""Decode backends on torch.

``SlotDecodeBackend`` runs Llama-family decoder layers (Llama, Mistral, Qwen2, Qwen3, SmolLM) itself
over a preallocated KV cache with one row per running sequence. Rows are kept packed (a finished
sequence's row is refilled from the last row), each row has its own length, RoPE position and
attention mask, so sequences join and leave the batch without re-padding anything. That removes the
per-step framework overhead that dominates a 135M model on a CPU.

``SerialDecodeBackend`` is the correct-but-slow fallback for other architectures: one Hugging Face
forward per sequence per step with its own cache.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from adapters.llm.scheduler import Sequence

FAST_PATH_MODEL_TYPES = {"llama", "mistral", "qwen2", "qwen3", "smollm3"}


class TokenSampler:
    """Per-sequence sampling: penalties, temperature, top-k, top-p, each with its own generator."""

    def __init__(self, vocab_size: int) -> None:
        self._vocab_size = vocab_size
        self._generators: dict[int, torch.Generator] = {}
        self._counts: dict[int, torch.Tensor] = {}

    def forget(self, sequence: Sequence) -> None:
        self._generators.pop(id(sequence), None)
        self._counts.pop(id(sequence), None)

    def sample(self, logits: torch.Tensor, sequences: list[Sequence]) -> list[int]:
        """``logits``: [len(sequences), vocab] for the next token of each sequence."""
        logits = logits.float()[:, : self._vocab_size]
        greedy = logits.argmax(dim=-1).tolist()
        tokens: list[int] = []
        for row, sequence in enumerate(sequences):
            params = sequence.sampling
            penalised = params.presence_penalty != 0.0 or params.frequency_penalty != 0.0
            if params.temperature <= 0.0 and not penalised:
                token = int(greedy[row])
            else:
                token = self._sample_row(logits[row], sequence, penalised)
            if penalised:
                counts = self._counts.setdefault(id(sequence), torch.zeros(self._vocab_size))
                counts[token] += 1
            tokens.append(token)
        return tokens

    def _sample_row(self, row: torch.Tensor, sequence: Sequence, penalised: bool) -> int:
        params = sequence.sampling
        if penalised:
            counts = self._counts.get(id(sequence))
            if counts is not None:
                row = row - counts * params.frequency_penalty - (counts > 0).float() * params.presence_penalty
        if params.temperature <= 0.0:
            return int(row.argmax())
        row = row / params.temperature
        if params.top_k and params.top_k < row.shape[-1]:
            kth = torch.topk(row, params.top_k).values[-1]
            row = row.masked_fill(row < kth, float("-inf"))
        probs = torch.softmax(row, dim=-1)
        if params.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            cumulative = torch.cumsum(sorted_probs, dim=-1)
            drop = cumulative - sorted_probs > params.top_p  # keep the smallest set reaching top_p
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
        generator = self._generators.get(id(sequence))
        if generator is None:
            generator = torch.Generator(device="cpu")
            if params.seed is None:
                generator.seed()
            else:
                generator.manual_seed(params.seed)
            self._generators[id(sequence)] = generator
        return int(torch.multinomial(probs.cpu(), 1, generator=generator))


class SlotDecodeBackend:
    def __init__(self, model: Any, *, max_rows: int, max_seq_len: int, initial_capacity: int = 256) -> None:
        config = model.config
        self.max_rows = max_rows
        self.max_seq_len = max_seq_len
        self._decoder = model.model
        self._lm_head = model.lm_head
        self._layers = list(model.model.layers)
        self._n_heads = config.num_attention_heads
        self._n_kv = getattr(config, "num_key_value_heads", None) or self._n_heads
        self._head_dim = getattr(config, "head_dim", None) or config.hidden_size // self._n_heads
        self._device = next(model.parameters()).device
        self._dtype = next(model.parameters()).dtype
        self._capacity = min(initial_capacity, max_seq_len)
        shape = (max_rows, self._n_kv, self._capacity, self._head_dim)
        self._keys = [torch.zeros(shape, dtype=self._dtype, device=self._device) for _ in self._layers]
        self._values = [torch.zeros(shape, dtype=self._dtype, device=self._device) for _ in self._layers]
        self._rows: list[Sequence] = []  # row i holds self._rows[i]; packed
        self._lengths: list[int] = []  # cached positions per row
        self._sampler = TokenSampler(config.vocab_size)
        self._scales = [getattr(layer.self_attn, "scaling", self._head_dim**-0.5) for layer in self._layers]

    @staticmethod
    def supports(model: Any) -> bool:
        decoder = getattr(model, "model", None)
        return (
            getattr(model.config, "model_type", None) in FAST_PATH_MODEL_TYPES
            and decoder is not None
            and hasattr(decoder, "rotary_emb")
            and hasattr(decoder, "layers")
            and all(hasattr(layer.self_attn, "q_proj") for layer in decoder.layers)
            and not getattr(model.config, "sliding_window", None)
        )

    # -- DecodeBackend --------------------------------------------------------------------------

    def add(self, sequence: Sequence) -> int:
        if len(self._rows) >= self.max_rows:
            raise RuntimeError("no free row")
        row = len(self._rows)
        prompt = sequence.prompt_ids
        self._ensure_capacity(len(prompt) + 1)
        self._rows.append(sequence)
        self._lengths.append(0)
        try:
            with torch.inference_mode():
                ids = torch.tensor([prompt], dtype=torch.long, device=self._device)
                positions = torch.arange(len(prompt), device=self._device).unsqueeze(0)
                logits = self._forward_prefill(row, ids, positions)
            self._lengths[row] = len(prompt)
            return self._sampler.sample(logits, [sequence])[0]
        except BaseException:
            self._rows.pop()
            self._lengths.pop()
            raise

    def step(self, sequences: list[Sequence]) -> list[int]:
        count = len(self._rows)
        self._ensure_capacity(max(self._lengths) + 1)
        with torch.inference_mode():
            last = torch.tensor([[s.generated[-1]] for s in self._rows], dtype=torch.long, device=self._device)
            positions = torch.tensor(self._lengths, dtype=torch.long, device=self._device)
            logits = self._forward_decode(last, positions)
        for row in range(count):
            self._lengths[row] += 1
        tokens = self._sampler.sample(logits, self._rows)
        by_sequence = {id(s): t for s, t in zip(self._rows, tokens, strict=True)}
        return [by_sequence[id(s)] for s in sequences]

    def remove(self, sequence: Sequence) -> None:
        row = next(i for i, s in enumerate(self._rows) if s is sequence)
        last = len(self._rows) - 1
        if row != last:
            length = self._lengths[last]
            for keys, values in zip(self._keys, self._values, strict=True):
                keys[row, :, :length].copy_(keys[last, :, :length])
                values[row, :, :length].copy_(values[last, :, :length])
            self._rows[row] = self._rows[last]
            self._lengths[row] = length
        self._rows.pop()
        self._lengths.pop()
        self._sampler.forget(sequence)

    # -- internals ------------------------------------------------------------------------------

    def _ensure_capacity(self, needed: int) -> None:
        if needed > self.max_seq_len:
            raise ValueError(f"sequence of {needed} tokens exceeds the cache's {self.max_seq_len}")
        if needed <= self._capacity:
            return
        capacity = min(self.max_seq_len, max(needed, self._capacity * 2))
        for caches in (self._keys, self._values):
            for index, old in enumerate(caches):
                grown = torch.zeros((self.max_rows, self._n_kv, capacity, self._head_dim),
                                    dtype=self._dtype, device=self._device)
                grown[:, :, : self._capacity].copy_(old)
                caches[index] = grown
        self._capacity = capacity

    def _project(self, layer: Any, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        attention = layer.self_attn
        batch, length, _ = hidden.shape
        q = attention.q_proj(hidden).view(batch, length, self._n_heads, self._head_dim)
        k = attention.k_proj(hidden).view(batch, length, self._n_kv, self._head_dim)
        v = attention.v_proj(hidden).view(batch, length, self._n_kv, self._head_dim).transpose(1, 2)
        if hasattr(attention, "q_norm"):
            q = attention.q_norm(q)
            k = attention.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        return q, k, v

    def _finish_layer(self, layer: Any, residual: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        batch, _, length, _ = attended.shape
        attended = attended.transpose(1, 2).reshape(batch, length, self._n_heads * self._head_dim)
        hidden = residual + layer.self_attn.o_proj(attended)
        return hidden + layer.mlp(layer.post_attention_layernorm(hidden))

    def _forward_prefill(self, row: int, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        hidden = self._decoder.embed_tokens(ids)
        cos, sin = self._decoder.rotary_emb(hidden, positions)
        length = ids.shape[1]
        for index, layer in enumerate(self._layers):
            q, k, v = self._project(layer, layer.input_layernorm(hidden), cos, sin)
            self._keys[index][row, :, :length].copy_(k[0])
            self._values[index][row, :, :length].copy_(v[0])
            attended = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, scale=self._scales[index], enable_gqa=self._n_kv != self._n_heads
            )
            hidden = self._finish_layer(layer, hidden, attended)
        return self._lm_head(self._decoder.norm(hidden[:, -1:, :]))[:, -1, :]

    def _forward_decode(self, last: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        count = last.shape[0]
        span = int(positions.max()) + 1
        hidden = self._decoder.embed_tokens(last)
        cos, sin = self._decoder.rotary_emb(hidden, positions.unsqueeze(1))
        visible = torch.arange(span, device=self._device).unsqueeze(0) <= positions.unsqueeze(1)
        bias = torch.zeros(visible.shape, dtype=torch.float32, device=self._device)
        bias = bias.masked_fill(~visible, float("-inf"))[:, None, None, :]
        rows = torch.arange(count, device=self._device)
        for index, layer in enumerate(self._layers):
            q, k, v = self._project(layer, layer.input_layernorm(hidden), cos, sin)
            keys, values = self._keys[index], self._values[index]
            keys[rows, :, positions] = k[:, :, 0, :]
            values[rows, :, positions] = v[:, :, 0, :]
            attended = self._attend_one(q, keys[:count, :, :span], values[:count, :, :span], bias,
                                        self._scales[index])
            hidden = self._finish_layer(layer, hidden, attended)
        return self._lm_head(self._decoder.norm(hidden))[:, -1, :]

    def _attend_one(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, bias: torch.Tensor,
                    scale: float) -> torch.Tensor:
        """Attention for one new token per row, grouped-query without copying the cache.

        q: [B, heads, 1, d]; keys/values: [B, kv_heads, L, d]; bias: [B, 1, 1, L] (0 or -inf).
        For a single query the fused CPU kernels cost more than these three small ops.
        """
        batch = q.shape[0]
        group = self._n_heads // self._n_kv
        grouped = q.view(batch, self._n_kv, group, self._head_dim)
        scores = torch.matmul(grouped, keys.transpose(-1, -2)) * scale  # [B, kv, group, L]
        weights = torch.softmax(scores.float() + bias, dim=-1).to(values.dtype)
        attended = torch.matmul(weights, values)  # [B, kv, group, d]
        return attended.view(batch, self._n_heads, 1, self._head_dim)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class SerialDecodeBackend:
    """Any causal LM through its own forward and cache, one sequence at a time (slow, correct)."""

    def __init__(self, model: Any, *, max_rows: int) -> None:
        self.max_rows = max_rows
        self._model = model
        self._device = next(model.parameters()).device
        self._caches: dict[int, Any] = {}
        self._sampler = TokenSampler(model.config.vocab_size)

    def add(self, sequence: Sequence) -> int:
        with torch.inference_mode():
            ids = torch.tensor([sequence.prompt_ids], dtype=torch.long, device=self._device)
            output = self._model(input_ids=ids, use_cache=True)
        self._caches[id(sequence)] = output.past_key_values
        return self._sampler.sample(output.logits[:, -1, :], [sequence])[0]

    def step(self, sequences: list[Sequence]) -> list[int]:
        tokens = []
        with torch.inference_mode():
            for sequence in sequences:
                ids = torch.tensor([[sequence.generated[-1]]], dtype=torch.long, device=self._device)
                output = self._model(input_ids=ids, past_key_values=self._caches[id(sequence)], use_cache=True)
                self._caches[id(sequence)] = output.past_key_values
                tokens.append(self._sampler.sample(output.logits[:, -1, :], [sequence])[0])
        return tokens

    def remove(self, sequence: Sequence) -> None:
        self._caches.pop(id(sequence), None)
        self._sampler.forget(sequence)
