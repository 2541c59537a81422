"""Per-slot token sampling on torch: every sequence keeps its own settings and random generator.

One ``sample`` call covers the whole batch: penalties are applied in one vectorised operation, greedy rows
share one ``argmax``, rows sampling at a temperature without top-k/top-p share one softmax and one
inverse-CDF lookup (each drawing its uniform number from its own ``torch.Generator``, so no request's
randomness depends on another's), and only rows with top-k or top-p are handled one by one.

A slot may carry a logits processor (``set_processor``): a function of its row of logits, applied after
the penalties and before choosing, for per-request constraints such as a grammar mask.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

import torch

from core.domain.generation import SamplingParams


class TokenSampler:
    def __init__(self, vocab_size: int, max_slots: int, device: torch.device | str = "cpu") -> None:
        self._vocab_size = vocab_size
        self._device = torch.device(device)
        self._params: list[SamplingParams | None] = [None] * max_slots
        self._generators: list[torch.Generator | None] = [None] * max_slots
        self._processors: list[LogitsProcessor | None] = [None] * max_slots
        # Generated-token counts for the OpenAI presence/frequency penalties (allocated on first use).
        self._counts: torch.Tensor | None = None
        self._max_slots = max_slots

    def configure(self, slot: int, params: SamplingParams) -> None:
        """Start a new sequence in ``slot`` with ``params`` (seeded from ``params.seed`` or at random)."""
        self._params[slot] = params
        self._processors[slot] = None
        generator = self._generators[slot]
        if generator is None:
            generator = self._generators[slot] = torch.Generator(device=self._device)
        generator.manual_seed(params.seed if params.seed is not None else secrets.randbits(63))
        if _penalised(params):
            self._penalty_counts()[slot].zero_()

    def set_processor(self, slot: int, processor: LogitsProcessor | None) -> None:
        """Apply ``processor`` to the slot's logits row at every step until the slot is reconfigured."""
        self._processors[slot] = processor

    def release(self, slot: int) -> None:
        self._params[slot] = None
        self._processors[slot] = None

    def sample(self, slots: Sequence[int], logits: torch.Tensor) -> list[int]:
        """``logits``: [len(slots), vocab] next-token logits, row i for ``slots[i]``."""
        params = [self._params[slot] for slot in slots]
        if any(p is None for p in params):
            raise RuntimeError("sampling a slot that was never configured")
        settings: list[SamplingParams] = params  # type: ignore[assignment]
        logits = logits[:, : self._vocab_size]
        penalised_rows = [row for row, p in enumerate(settings) if _penalised(p)]
        if penalised_rows:
            logits = self._apply_penalties(slots, settings, logits)
        processed = [row for row, slot in enumerate(slots) if self._processors[slot] is not None]
        if processed:
            logits = logits.clone()
            for row in processed:
                logits[row] = self._processors[slots[row]](logits[row])  # type: ignore[misc]
        greedy = logits.argmax(dim=-1).tolist()
        tokens = [int(token) for token in greedy]
        plain = [row for row, p in enumerate(settings) if p.temperature > 0.0 and not _truncated(p, self._vocab_size)]
        if plain:
            for row, token in zip(plain, self._sample_plain(slots, settings, logits, plain), strict=True):
                tokens[row] = token
        for row, (slot, p) in enumerate(zip(slots, settings, strict=True)):
            if p.temperature > 0.0 and _truncated(p, self._vocab_size):
                tokens[row] = self._sample_row(logits[row], p, self._generators[slot])  # type: ignore[arg-type]
        if penalised_rows:
            counts = self._penalty_counts()
            for row in penalised_rows:
                counts[slots[row], tokens[row]] += 1
        return tokens

    def _penalty_counts(self) -> torch.Tensor:
        if self._counts is None:
            self._counts = torch.zeros(self._max_slots, self._vocab_size, dtype=torch.float32, device=self._device)
        return self._counts

    def _apply_penalties(
        self, slots: Sequence[int], settings: list[SamplingParams], logits: torch.Tensor
    ) -> torch.Tensor:
        """OpenAI's definition: ``logit[j] -= count[j] * frequency + (count[j] > 0) * presence``."""
        counts = self._penalty_counts()[torch.tensor(list(slots), device=self._device)]
        frequency = torch.tensor([p.frequency_penalty for p in settings], device=self._device)[:, None]
        presence = torch.tensor([p.presence_penalty for p in settings], device=self._device)[:, None]
        return logits.float() - counts * frequency - (counts > 0).float() * presence

    def _sample_plain(
        self, slots: Sequence[int], settings: list[SamplingParams], logits: torch.Tensor, rows: list[int]
    ) -> list[int]:
        """Temperature sampling of several rows at once: softmax, cumulative sum, one uniform draw per row."""
        index = torch.tensor(rows, device=logits.device)
        temperature = torch.tensor([settings[r].temperature for r in rows], device=logits.device)[:, None]
        cumulative = torch.softmax(logits[index].float() / temperature, dim=-1).cumsum_(dim=-1)
        draws = torch.cat([torch.rand(1, generator=self._generators[slots[r]], device=logits.device) for r in rows])
        chosen = torch.searchsorted(cumulative, (draws * cumulative[:, -1])[:, None]).clamp_(max=self._vocab_size - 1)
        return [int(token) for token in chosen[:, 0].tolist()]

    @staticmethod
    def _sample_row(row: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
        row = row.float() / params.temperature
        if 0 < params.top_k < row.shape[-1]:
            values, indices = torch.topk(row, params.top_k)  # sorted, largest first
        elif params.top_p < 1.0:
            values, indices = torch.sort(row, descending=True)
        else:
            probs = torch.softmax(row, dim=-1)
            return int(torch.multinomial(probs, 1, generator=generator))
        probs = torch.softmax(values, dim=-1)
        if params.top_p < 1.0:
            before = torch.cumsum(probs, dim=-1) - probs
            drop = before >= params.top_p  # keep the smallest prefix reaching top_p (at least one token)
            drop[0] = False
            probs = probs.masked_fill(drop, 0.0)
        choice = int(torch.multinomial(probs, 1, generator=generator))
        return int(indices[choice])


LogitsProcessor = Callable[[torch.Tensor], torch.Tensor]


def _truncated(params: SamplingParams, vocab_size: int) -> bool:
    return 0 < params.top_k < vocab_size or params.top_p < 1.0


def _penalised(params: SamplingParams) -> bool:
    return params.presence_penalty != 0.0 or params.frequency_penalty != 0.0
