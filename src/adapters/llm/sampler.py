"""Per-slot token sampling on torch: every sequence keeps its own settings and random generator.

One ``sample`` call covers the whole batch. In order, for each row:

1. ``logit_bias`` is added (a bias of -100 bans the token outright: its logit becomes -inf);
2. the penalties: vLLM's ``repetition_penalty`` over the prompt and output tokens, then OpenAI's
   presence/frequency penalties over the output tokens (each one vectorised over the rows that use it);
3. the slot's logits processor (``set_processor``), such as a grammar mask;
4. the choice: greedy rows share one ``argmax``. Every row sampling at a temperature draws one uniform
   number from its own ``torch.Generator`` (so no request's tokens depend on what else is in the batch)
   and picks by inverse CDF. The cuts, in vLLM's definitions: top-k keeps the k most likely tokens;
   min_p drops those below min_p times the top probability; top-p keeps the smallest prefix of the rest,
   most likely first, whose renormalised mass reaches top_p (at least one token). Rows without top-k
   share one softmax of their logits over their temperatures: the plain ones then one min_p cut and one
   cumulative sum over the vocabulary; the top-p ones sort only the tokens above a floor, once the floor
   is shown to hold their whole nucleus (else a lower floor, a whole-vocabulary sort the last resort:
   ``_sample_nucleus``). Rows with top-k share one ``topk`` per value of k, then a softmax over those k.

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
        tokens = [0] * len(slots)
        cold = [row for row, p in enumerate(settings) if p.temperature <= 0.0]
        if cold:
            for row, token in zip(cold, _rows(logits, cold).argmax(dim=-1).tolist(), strict=True):
                tokens[row] = int(token)
        hot = [row for row, p in enumerate(settings) if p.temperature > 0.0]
        if hot:
            for row, token in zip(hot, self._sample_hot(slots, settings, logits, hot), strict=True):
                tokens[row] = token
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

    def _sample_hot(
        self, slots: Sequence[int], settings: list[SamplingParams], logits: torch.Tensor, rows: list[int]
    ) -> list[int]:
        """Temperature sampling of ``rows`` (returned in their order). Each row draws one uniform number
        from its own generator and turns it into a token by inverse CDF. Rows without top-k share one
        softmax: the plain ones search the whole vocabulary, the top-p ones a sorted set of candidates
        (``_sample_nucleus``); rows with top-k share one ``topk`` per value of k."""
        device = logits.device
        vocab = self._vocab_size
        draws = torch.cat([torch.rand(1, generator=self._generators[slots[r]], device=device) for r in rows])
        position = {row: i for i, row in enumerate(rows)}
        chosen = torch.empty(len(rows), dtype=torch.long, device=device)
        plain = [r for r in rows if not _truncated(settings[r], vocab)]
        nucleus = [r for r in rows if settings[r].top_p < 1.0 and not 0 < settings[r].top_k < vocab]
        by_k: dict[int, list[int]] = {}
        for r in rows:
            if 0 < settings[r].top_k < vocab:
                by_k.setdefault(settings[r].top_k, []).append(r)
        if plain or nucleus:
            whole = plain + nucleus  # plain rows first: each part is a view of the one softmax
            temperature = _column(settings, whole, "temperature", device)
            probs = torch.softmax(_rows(logits, whole).float() / temperature, dim=-1)
            if plain:
                picked = self._sample_plain(settings, probs[: len(plain)], plain, draws[_at(position, plain)])
                chosen[_at(position, plain)] = picked
            if nucleus:
                chosen[_at(position, nucleus)] = self._sample_nucleus(
                    settings, probs[len(plain) :], nucleus, draws[_at(position, nucleus)]
                )
        for k, group in by_k.items():
            values, ids = torch.topk(_rows(logits, group).float(), k)  # sorted, largest first
            probs = torch.softmax(values / _column(settings, group, "temperature", device), dim=-1)
            cut = _column(settings, group, "min_p", device) * probs[:, :1]  # relative to the top token
            kept = ((probs >= cut) & (probs > 0)).sum(dim=-1)
            top_p = _column(settings, group, "top_p", device)[:, 0]
            picked, _ = _pick_sorted(probs, kept, top_p, draws[_at(position, group)])
            chosen[_at(position, group)] = ids.gather(1, picked[:, None])[:, 0]
        return [int(token) for token in chosen.tolist()]

    @staticmethod
    def _sample_plain(
        settings: list[SamplingParams], probs: torch.Tensor, rows: list[int], draws: torch.Tensor
    ) -> torch.Tensor:
        """Rows without top-k/top-p: the min_p cut, then one cumulative sum over the vocabulary."""
        if any(settings[r].min_p > 0.0 for r in rows):
            min_p = _column(settings, rows, "min_p", probs.device)
            probs = probs.masked_fill(probs < min_p * probs.amax(dim=-1, keepdim=True), 0.0)
        cumulative = probs.cumsum(dim=-1)
        return _inverse_cdf(cumulative, cumulative[:, -1], draws)

    @staticmethod
    def _sample_nucleus(
        settings: list[SamplingParams], probs: torch.Tensor, rows: list[int], draws: torch.Tensor
    ) -> torch.Tensor:
        """Rows with top-p and no top-k, exactly as a sort of the whole vocabulary would sample them, but
        sorting only candidates: the tokens at or above a floor (``NUCLEUS_FLOORS``, tried in turn). A row
        is settled by the first floor whose candidates hold its whole nucleus (top_p of the mass is reached
        inside them, or its min_p cut is at or above the floor); the last floor takes every token. The
        candidates come in the full sort's order (probability, then token id), so which floor settles a row
        never changes its token."""
        device = probs.device
        top_p = _column(settings, rows, "top_p", device)[:, 0]
        min_p = _column(settings, rows, "min_p", device)[:, 0]
        cut = min_p * probs.amax(dim=-1)  # min_p is relative to the top token
        tokens = torch.empty(len(rows), dtype=torch.long, device=device)
        pending = torch.arange(len(rows), device=device)
        for tier, floor_of in enumerate(NUCLEUS_FLOORS):
            pending_probs = probs if tier == 0 else probs[pending]
            floor, row_cut, with_min_p = floor_of(pending_probs, top_p[pending]), cut[pending], min_p[pending] > 0
            sorted_probs, ids = _sorted_candidates(pending_probs, torch.maximum(floor, row_cut))
            kept = (sorted_probs > 0).sum(dim=-1)  # every candidate is at or above the min_p cut
            # top_p is a share of the whole softmax, or of what min_p keeps (then all the candidates, if
            # its cut is at or above the floor)
            picked, reached = _pick_sorted(sorted_probs, kept, top_p[pending], draws[pending], ~with_min_p)
            settled = torch.where(with_min_p, row_cut >= floor, reached)
            if tier == len(NUCLEUS_FLOORS) - 1:
                settled = torch.ones_like(settled)
            tokens[pending[settled]] = ids.gather(1, picked[:, None])[settled, 0]
            pending = pending[~settled]
            if not pending.numel():
                break
        return tokens

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
            # Equal values in token order, as argmax breaks a tie: a greedy token is its own top-1.
            ranked = sorted(zip(top_ids[i], top_values[i], strict=True), key=lambda pair: (-pair[1], pair[0]))
            top = ranked[:count]
            self._logprobs[slots[row]] = SampledLogprobs(chosen[i], top)


def _truncated(params: SamplingParams, vocab_size: int) -> bool:
    return 0 < params.top_k < vocab_size or params.top_p < 1.0


def _share_of_top(probs: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """A thousandth of the top probability: a few dozen tokens of a real model's distribution, which hold
    the nucleus of most rows."""
    return probs.amax(dim=-1) * 1e-3


def _mass_reaching_top_p(probs: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """The lower edge of the power-of-two band of probabilities where, adding up bands from the top, the
    mass first reaches top_p (with a margin for rounding): the tokens at or above it hold the nucleus, and
    at most the rest of that band."""
    exponent = (probs.view(torch.int32) >> 23).long()  # float32's biased exponent: 127 for [1, 2)
    mass = torch.zeros(probs.shape[0], 128, device=probs.device).scatter_add_(1, exponent, probs)
    # column b of the flipped bands: the probabilities in [2^-b, 2^(1 - b))
    reaching = torch.searchsorted(mass.flip(-1).cumsum_(dim=-1), (top_p + 1e-5)[:, None])[:, 0]
    return torch.where(reaching < 128, torch.exp2(-reaching.float()), 0.0)


def _every_token(probs: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    return torch.zeros(probs.shape[0], device=probs.device)


# The candidate floors of the top-p rows, tried in turn (the last one for what rounding left unsettled).
NUCLEUS_FLOORS: tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ...] = (
    _share_of_top,
    _mass_reaching_top_p,
    _every_token,
)


def _sorted_candidates(probs: torch.Tensor, floor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's tokens of probability at or above its floor, in descending order of probability then
    ascending token id (a stable sort), as (probabilities, token ids), padded with probability 0."""
    row_of, token_of = _at_or_above(probs, floor)
    counts = torch.bincount(row_of, minlength=probs.shape[0])
    width = int(counts.max())
    if width * 4 > probs.shape[-1]:  # most of the vocabulary: sort whole rows, zero what is not a candidate
        sorted_probs, ids = probs.sort(dim=-1, descending=True, stable=True)
        past = torch.arange(probs.shape[-1], device=probs.device) >= counts[:, None]
        return sorted_probs.masked_fill_(past, 0.0), ids
    column = torch.arange(row_of.numel(), device=probs.device) - (counts.cumsum(0) - counts)[row_of]
    values = torch.full((probs.shape[0], width), -1.0, device=probs.device)
    values[row_of, column] = probs[row_of, token_of]
    ids = torch.zeros((probs.shape[0], width), dtype=torch.long, device=probs.device)
    ids[row_of, column] = token_of
    sorted_probs, order = values.sort(dim=-1, descending=True, stable=True)
    return sorted_probs.clamp_(min=0.0), ids.gather(1, order)


def _at_or_above(probs: torch.Tensor, floor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, token id) of each probability at or above its row's floor, row by row, token ids ascending.
    Only the blocks of ``CHUNK`` tokens whose maximum reaches the floor are searched: a pass of ``amax``
    costs far less than a ``nonzero`` over the whole vocabulary."""
    rows, vocab = probs.shape
    padding = -vocab % CHUNK
    if padding:
        probs = torch.nn.functional.pad(probs, (0, padding), value=-1.0)
    blocks = probs.view(rows, -1, CHUNK)
    block_row, block = (blocks.amax(dim=-1) >= floor[:, None]).nonzero(as_tuple=True)
    found, offset = (blocks[block_row, block] >= floor[block_row, None]).nonzero(as_tuple=True)
    return block_row[found], block[found] * CHUNK + offset


CHUNK = 64


def _pick_sorted(
    sorted_probs: torch.Tensor,
    kept: torch.Tensor,
    top_p: torch.Tensor,
    draws: torch.Tensor,
    share_of_one: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse-CDF choice among each row's sorted probabilities (descending, 0-padded): of the first
    ``kept`` (top-k and min_p), the smallest prefix reaching ``top_p`` of their mass (of 1 where
    ``share_of_one``; at least one token). Returns the chosen positions and whether top_p was reached
    inside the row's columns."""
    cumulative = sorted_probs.cumsum(dim=-1)
    mass = cumulative.gather(1, (kept - 1).clamp(min=0)[:, None])[:, 0]
    if share_of_one is not None:
        mass = torch.where(share_of_one, torch.ones_like(mass), mass)
    first_reaching = torch.searchsorted(cumulative, (top_p * mass)[:, None])[:, 0]
    reached = first_reaching < cumulative.shape[-1]
    count = torch.where(top_p < 1.0, torch.minimum(kept, first_reaching + 1), kept).clamp(min=1)
    total = cumulative.gather(1, (count - 1)[:, None])[:, 0]
    return _inverse_cdf(cumulative, total, draws), reached


def _inverse_cdf(cumulative: torch.Tensor, total: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
    """The position where ``draws * total`` lands in each row's cumulative sums. The target stays strictly
    below ``total`` and right=True takes the first sum above it, so a token of probability 0 is never hit."""
    target = torch.minimum(draws * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cumulative, target[:, None], right=True)[:, 0].clamp_(max=cumulative.shape[-1] - 1)


def _column(settings: list[SamplingParams], rows: list[int], name: str, device: torch.device) -> torch.Tensor:
    """One setting of ``rows`` as a [rows, 1] float column."""
    return torch.tensor([float(getattr(settings[r], name)) for r in rows], device=device)[:, None]


def _rows(tensor: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """``tensor[rows]``, without the copy when ``rows`` are all of them in order."""
    return tensor if rows == list(range(tensor.shape[0])) else tensor[rows]


def _at(position: dict[int, int], rows: list[int]) -> list[int]:
    return [position[r] for r in rows]


LogitsProcessor = Callable[[torch.Tensor], torch.Tensor]


def _penalised(params: SamplingParams) -> bool:
    return params.presence_penalty != 0.0 or params.frequency_penalty != 0.0
