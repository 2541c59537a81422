"""Per-slot token sampling on torch: every sequence keeps its own settings and random generator.

One ``sample`` call covers the whole batch. In order, for each row:

1. ``logit_bias`` is added (a bias of -100 bans the token outright: its logit becomes -inf);
2. the penalties: vLLM's ``repetition_penalty`` over the prompt and output tokens, then OpenAI's
   presence/frequency penalties over the output tokens (each one vectorised over the rows that use it);
3. the slot's logits processor (``set_processor``), such as a grammar mask;
4. the choice: greedy rows share one ``argmax``; rows sampling at a temperature without top-k/top-p
   share one softmax, one ``min_p`` cut and one inverse-CDF lookup (each drawing its uniform number from
   its own ``torch.Generator``, so no request's randomness depends on another's); rows with top-k or
   top-p are handled one by one.

Log-probabilities (``SamplingParams.logprobs``) are the log-softmax of the logits after steps 1 to 3 and
before the temperature and the top-k/top-p/min_p cuts (vLLM's default): a greedy choice is always the
most likely token of its own report. They are kept per slot until the next step (``logprobs``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from core.domain.generation import SamplingParams

BAN_BIAS = -100.0  # OpenAI: "values like -100 should result in a ban or exclusive selection"


class SampledLogprobs(NamedTuple):
    """The sampled token's log-probability and the (token id, log-probability) pairs of the top ones."""

    chosen: float
    top: list[tuple[int, float]]


class TokenSampler:
    def __init__(self, vocab_size: int, max_slots: int, device: torch.device | str = "cpu") -> None:
        self._vocab_size = vocab_size
        self._device = torch.device(device)
        self._params: list[SamplingParams | None] = [None] * max_slots
        self._generators: list[torch.Generator | None] = [None] * max_slots
        self._processors: list[LogitsProcessor | None] = [None] * max_slots
        self._biases: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * max_slots
        self._logprobs: list[SampledLogprobs | None] = [None] * max_slots
        # Generated-token counts for the OpenAI presence/frequency penalties (allocated on first use).
        self._counts: torch.Tensor | None = None
        # The tokens of the prompt and the output, for the repetition penalty: a set per slot, and its
        # tensor (rebuilt only when a new token joins).
        self._seen: list[set[int] | None] = [None] * max_slots
        self._seen_ids: list[torch.Tensor | None] = [None] * max_slots
        self._max_slots = max_slots

    def configure(self, slot: int, params: SamplingParams, prompt_ids: Sequence[int] = ()) -> None:
        """Start a new sequence in ``slot`` with ``params`` (seeded from ``params.seed`` or at random).
        ``prompt_ids`` are the tokens the repetition penalty counts as seen from the start."""
        self._params[slot] = params
        self._processors[slot] = None
        self._logprobs[slot] = None
        generator = self._generators[slot]
        if generator is None:
            generator = self._generators[slot] = torch.Generator(device=self._device)
        generator.manual_seed(params.seed if params.seed is not None else secrets.randbits(63))
        if _penalised(params):
            self._penalty_counts()[slot].zero_()
        self._seen[slot] = (
            {i for i in prompt_ids if 0 <= i < self._vocab_size} if params.repetition_penalty != 1.0 else None
        )
        self._seen_ids[slot] = None
        self._biases[slot] = self._bias_of(params)

    def set_processor(self, slot: int, processor: LogitsProcessor | None) -> None:
        """Apply ``processor`` to the slot's logits row at every step until the slot is reconfigured."""
        self._processors[slot] = processor

    def release(self, slot: int) -> None:
        self._params[slot] = None
        self._processors[slot] = None
        self._biases[slot] = None
        self._logprobs[slot] = None
        self._seen[slot] = None
        self._seen_ids[slot] = None

    def logprobs(self, slot: int) -> SampledLogprobs | None:
        """The log-probabilities of the token ``slot`` sampled last (None unless its params ask for them)."""
        return self._logprobs[slot]

    def sample(self, slots: Sequence[int], logits: torch.Tensor) -> list[int]:
        """``logits``: [len(slots), vocab] next-token logits, row i for ``slots[i]``."""
        params = [self._params[slot] for slot in slots]
        if any(p is None for p in params):
            raise RuntimeError("sampling a slot that was never configured")
        settings: list[SamplingParams] = params  # type: ignore[assignment]
        logits = logits[:, : self._vocab_size]
        biased = [row for row, slot in enumerate(slots) if self._biases[slot] is not None]
        repeated = [row for row, p in enumerate(settings) if p.repetition_penalty != 1.0]
        if biased or repeated:
            logits = logits.float().clone()
            for row in biased:
                ids, values = self._biases[slots[row]]  # type: ignore[misc]
                logits[row, ids] += values
            if repeated:
                self._apply_repetition_penalty(slots, settings, logits, repeated)
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
        for row in repeated:
            seen = self._seen[slots[row]]
            if seen is not None and tokens[row] not in seen:
                seen.add(tokens[row])
                self._seen_ids[slots[row]] = None
        reported = [row for row, p in enumerate(settings) if p.logprobs is not None]
        if reported:
            self._record_logprobs(slots, settings, logits, tokens, reported)
        return tokens

    def _bias_of(self, params: SamplingParams) -> tuple[torch.Tensor, torch.Tensor] | None:
        pairs = [(token, bias) for token, bias in params.logit_bias if 0 <= token < self._vocab_size and bias]
        if not pairs:
            return None
        ids = torch.tensor([token for token, _ in pairs], dtype=torch.long, device=self._device)
        values = torch.tensor(
            [float("-inf") if bias <= BAN_BIAS else bias for _, bias in pairs], dtype=torch.float32, device=self._device
        )
        return ids, values

    def _penalty_counts(self) -> torch.Tensor:
        if self._counts is None:
            self._counts = torch.zeros(self._max_slots, self._vocab_size, dtype=torch.float32, device=self._device)
        return self._counts

    def _apply_repetition_penalty(
        self, slots: Sequence[int], settings: list[SamplingParams], logits: torch.Tensor, rows: list[int]
    ) -> None:
        """vLLM's (and Transformers') definition, in place: a seen token's logit is divided by the penalty
        when positive and multiplied by it when negative. Only the seen tokens are touched (a few hundred
        of a row), which costs far less than a pass over the whole vocabulary."""
        for row in rows:
            slot = slots[row]
            ids = self._seen_ids[slot]
            if ids is None:
                seen = sorted(self._seen[slot] or ())
                ids = self._seen_ids[slot] = torch.tensor(seen, dtype=torch.long, device=self._device)
            if ids.numel():
                penalty = settings[row].repetition_penalty
                values = logits[row, ids]
                logits[row, ids] = torch.where(values > 0, values / penalty, values * penalty)

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
        """Temperature sampling of several rows at once: softmax, min_p cut, cumulative sum, one uniform
        draw per row."""
        index = torch.tensor(rows, device=logits.device)
        temperature = torch.tensor([settings[r].temperature for r in rows], device=logits.device)[:, None]
        probs = torch.softmax(logits[index].float() / temperature, dim=-1)
        if any(settings[r].min_p > 0.0 for r in rows):
            min_p = torch.tensor([settings[r].min_p for r in rows], device=logits.device)[:, None]
            probs = probs.masked_fill(probs < min_p * probs.amax(dim=-1, keepdim=True), 0.0)
        cumulative = probs.cumsum_(dim=-1)
        draws = torch.cat([torch.rand(1, generator=self._generators[slots[r]], device=logits.device) for r in rows])
        # right=True: a token of probability 0 (banned, masked, cut) is never the one a draw lands on.
        target = (draws * cumulative[:, -1])[:, None]
        chosen = torch.searchsorted(cumulative, target, right=True).clamp_(max=self._vocab_size - 1)
        return [int(token) for token in chosen[:, 0].tolist()]

    @staticmethod
    def _sample_row(row: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
        row = row.float() / params.temperature
        if 0 < params.top_k < row.shape[-1]:
            values, indices = torch.topk(row, params.top_k)  # sorted, largest first
        else:
            values, indices = torch.sort(row, descending=True)
        probs = torch.softmax(values, dim=-1)
        if params.min_p > 0.0:  # relative to the top token, so the same before or after the top-k cut
            probs = probs.masked_fill(probs < params.min_p * probs[0], 0.0)
            probs = probs / probs.sum()
        if params.top_p < 1.0:
            before = torch.cumsum(probs, dim=-1) - probs
            drop = before >= params.top_p  # keep the smallest prefix reaching top_p (at least one token)
            drop[0] = False
            probs = probs.masked_fill(drop, 0.0)
        choice = int(torch.multinomial(probs, 1, generator=generator))
        return int(indices[choice])

    def _record_logprobs(
        self,
        slots: Sequence[int],
        settings: list[SamplingParams],
        logits: torch.Tensor,
        tokens: list[int],
        rows: list[int],
    ) -> None:
        index = torch.tensor(rows, dtype=torch.long, device=logits.device)
        logprobs = torch.log_softmax(logits[index].float(), dim=-1)
        chosen_ids = torch.tensor([tokens[r] for r in rows], dtype=torch.long, device=logits.device)
        chosen = logprobs.gather(1, chosen_ids[:, None])[:, 0].tolist()
        wanted = max(settings[r].logprobs or 0 for r in rows)
        top_values: list[list[float]] = [[] for _ in rows]
        top_ids: list[list[int]] = [[] for _ in rows]
        if wanted:
            values, ids = torch.topk(logprobs, min(wanted, logprobs.shape[-1]), dim=-1)
            top_values, top_ids = values.tolist(), ids.tolist()
        for i, row in enumerate(rows):
            count = settings[row].logprobs or 0
            top = list(zip(top_ids[i][:count], top_values[i][:count], strict=True))
            self._logprobs[slots[row]] = SampledLogprobs(chosen[i], top)


def _truncated(params: SamplingParams, vocab_size: int) -> bool:
    return 0 < params.top_k < vocab_size or params.top_p < 1.0


LogitsProcessor = Callable[[torch.Tensor], torch.Tensor]


def _penalised(params: SamplingParams) -> bool:
    return params.presence_penalty != 0.0 or params.frequency_penalty != 0.0
