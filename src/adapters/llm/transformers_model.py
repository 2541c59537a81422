"""The ``LanguageModel`` port on Hugging Face Transformers + torch, with continuous batching.

torch and transformers are imported only when the model loads, so building the service stays light.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog

from adapters.llm.detokenizer import IncrementalDetokenizer
from adapters.llm.engine import dispatch_to_loops, stream_events
from adapters.llm.model_store import EMBEDDED_MODEL_ID, ensure_converted, ensure_q4_weights, find_embedded_gguf
from adapters.llm.scheduler import BatchScheduler
from core.domain.errors import Unavailable
from core.domain.generation import (
    ChatMessage,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    ModelInfo,
    OutputConstraint,
    PromptAccepted,
    ToolSpec,
)
from core.inference.tool_calls import render_without_tool_support
from core.ports.metrics import NO_METRICS, Metrics

log = structlog.get_logger(__name__)

DEFAULT_MAX_CONTEXT = 8192
# Encoded prompts kept for reuse: a request counts its prompt, then its ``n`` choices generate from it.
PROMPT_CACHE_SIZE = 64
_DTYPES = ("bfloat16", "float16", "float32")
_Prompt = tuple[tuple[ChatMessage, ...], tuple[ToolSpec, ...]] | str


def _template_message(message: ChatMessage) -> dict[str, Any]:
    """A message in the shape tool-aware chat templates read (OpenAI's, arguments parsed)."""
    rendered: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        rendered["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _json_or_text(c.arguments)}}
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        rendered["tool_call_id"] = message.tool_call_id
    return rendered


def _template_tool(tool: ToolSpec) -> dict[str, Any]:
    function = {"name": tool.name, "description": tool.description, "parameters": json.loads(tool.parameters)}
    return {"type": "function", "function": function}


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True, slots=True)
class TransformersModelSettings:
    """How to load and serve the model; filled by the composition root from the environment."""

    model_repo_id: str | None = None  # None: the embedded SmolLM2-135M-Instruct; else a HF id or local folder
    hf_token: str | None = None
    torch_dtype: str = "auto"  # auto (bfloat16 on CPU, the checkpoint's dtype elsewhere), bfloat16, float16, float32
    device_map: str = "auto"  # auto (cuda when available, else cpu), cpu, cuda, cuda:1, ...
    cache_dir: Path = Path(".model-cache")  # where the embedded GGUF is converted once
    max_batch_size: int = 8  # sequences decoded together
    max_queued_requests: int = 64  # requests waiting for a slot before Overloaded
    max_context_tokens: int | None = None  # caps the model's own context length
    num_threads: int | None = None  # torch intra-op threads; None: every core
    # auto: the GGUF's own 4-bit weights on CPU when it is a Q4 GGUF, else dense; none | int8 | int4
    weight_quant: str = "auto"
    # quantized weights decode through native/decode.c, built once per machine (where a C compiler is)
    native_decode: bool = True
    max_prefill_tokens_per_step: int = 256  # prompt tokens per engine step (chunked prefill)
    prefix_cache_tokens: int = 4096  # KV of shared prompt prefixes kept for reuse; 0 turns it off


class TransformersLanguageModel:
    """``LanguageModel`` backed by a continuous-batching engine on one dedicated worker thread.

    That thread loads the model and then runs the scheduler loop: every torch call happens on it (a
    second thread doing torch work gets its own OpenMP team and the two fight over the cores).
    """

    def __init__(self, settings: TransformersModelSettings, metrics: Metrics = NO_METRICS) -> None:
        self._settings = settings
        self._metrics = metrics  # the engine's batch state after every step
        self._model_id = settings.model_repo_id or EMBEDDED_MODEL_ID
        self._context_length = settings.max_context_tokens or DEFAULT_MAX_CONTEXT
        self._start_lock = asyncio.Lock()
        self._ready = threading.Event()
        self._error: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._scheduler: BatchScheduler | None = None
        # Keyed by the messages and tools, or by the text of a raw prompt.
        self._prompts: OrderedDict[_Prompt, asyncio.Future[list[int]]] = OrderedDict()
        self._token_texts: dict[int, tuple[str, tuple[int, ...]]] = {}
        self._vocab_size: int | None = None
        self._grammars: Any = None  # adapters.llm.grammar.GrammarCompiler, built on the first constrained request
        self._eos: set[int] = set()
        self._tokenizer_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tokenizer")
        self._backend: Any = None
        self.weight_quant = "none"  # what the loaded model runs on: none (dense), int8 or int4

    # -- LanguageModel --------------------------------------------------------------------------------

    def info(self) -> ModelInfo:
        return ModelInfo(
            self._model_id, self._context_length, self._ready.is_set(), self._error, vocab_size=self._vocab_size
        )

    async def start(self) -> None:
        """Load the model off the event loop. Idempotent; a failure is kept and reported by ``info``."""
        if self._ready.is_set() or self._error is not None:
            return
        async with self._start_lock:
            if self._ready.is_set() or self._error is not None:
                return
            try:
                await self._start_engine_thread()
            except Exception as error:
                self._error = f"{type(error).__name__}: {error}"
                log.exception("llm.model.load_failed", model_id=self._model_id)

    async def close(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        self._ready.clear()
        if scheduler is not None:
            await asyncio.to_thread(scheduler.stop)
        self._prompts.clear()

    async def count_prompt_tokens(self, messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...] = ()) -> int:
        await self._require_ready()
        return len(await self._prompt_ids(messages, tools))

    async def count_text_tokens(self, text: str) -> int:
        await self._require_ready()
        return len(await self._prompt_ids(text))

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        scheduler = await self._require_ready()
        prompt = request.messages if request.prompt_text is None else request.prompt_text
        prompt_ids = await self._prompt_ids(prompt, request.tools)
        grammar = None
        if request.constraint is not None:  # compiled (or found cached) on the tokenizer thread
            loop = asyncio.get_running_loop()
            grammar = await loop.run_in_executor(self._tokenizer_thread, self._grammar_row, request.constraint)
        if not request.continuation:
            async with aclosing(
                stream_events(scheduler, prompt_ids, request.sampling, request.request_id, grammar)
            ) as events:
                async for event in events:
                    yield event
            return
        # A takeover: prefill what was already streamed and decode on from there.
        done = list(self._tokenizer.encode(request.continuation, add_special_tokens=False))
        if grammar is not None:
            for token in done:
                grammar.accept(token)
        remaining = request.sampling.max_tokens - len(done)
        if remaining < 1:
            yield PromptAccepted(prompt_tokens=len(prompt_ids))
            yield GenerationFinished("length", len(done))
            return
        sampling = replace(request.sampling, max_tokens=remaining)
        async with aclosing(
            stream_events(scheduler, prompt_ids + done, sampling, request.request_id, grammar)
        ) as events:
            async for event in events:
                if isinstance(event, PromptAccepted):
                    event = PromptAccepted(prompt_tokens=len(prompt_ids))
                elif isinstance(event, GenerationFinished):
                    event = replace(event, completion_tokens=event.completion_tokens + len(done))
                yield event

    # -- extras for benchmarks, tests and diagnostics -------------------------------------------------

    def loaded_model(self) -> tuple[Any, Any]:
        """The Hugging Face model and tokenizer (after ``start``); the model is None once the fast path
        holds the weights itself (it keeps no second copy)."""
        if self._tokenizer is None:
            raise Unavailable("The model is not loaded")
        return self._model, self._tokenizer

    def backend(self) -> Any:
        """The decode backend (after ``start``), for tests and diagnostics."""
        return self._backend

    def load_stats(self) -> tuple[int, int]:
        """(running sequences, waiting requests) right now."""
        scheduler = self._scheduler
        return (scheduler.running_count, scheduler.waiting_count) if scheduler is not None else (0, 0)

    # -- loading --------------------------------------------------------------------------------------

    async def _require_ready(self) -> BatchScheduler:
        await self.start()
        scheduler = self._scheduler
        if scheduler is None:
            reason = self._error or "it was closed"
            raise Unavailable(f"The model {self._model_id} is not available: {reason}")
        return scheduler

    async def _start_engine_thread(self) -> None:
        loaded: concurrent.futures.Future[BatchScheduler] = concurrent.futures.Future()

        def engine_main() -> None:
            try:
                scheduler = self._load()
            except BaseException as error:
                loaded.set_exception(error)
                return
            loaded.set_result(scheduler)
            scheduler.run_forever()

        threading.Thread(target=engine_main, name="llm-engine", daemon=True).start()
        self._scheduler = await asyncio.wrap_future(loaded)
        self._ready.set()

    def _load(self) -> BatchScheduler:
        import torch

        from adapters.llm.checkpoint import DecoderWeights
        from adapters.llm.quantized import WEIGHT_QUANT_CHOICES, load_q4
        from adapters.llm.torch_backend import SerialDecodeBackend, SlotDecodeBackend, release_memory

        wanted_quant = self._settings.weight_quant.strip().lower()
        if wanted_quant not in WEIGHT_QUANT_CHOICES:
            raise ValueError(f"weight_quant {wanted_quant!r} is not one of {', '.join(WEIGHT_QUANT_CHOICES)}")
        torch.set_num_threads(self._settings.num_threads or os.cpu_count() or 1)
        source, token = self._source()
        device = self._device(torch)
        dtype = self._dtype(torch, device)
        log.info("llm.model.loading", model_id=self._model_id, source=str(source), device=device, dtype=str(dtype))
        tokenizer = self._load_tokenizer(source, token)
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"{self._model_id} has no chat template")
        # A folder the fast path runs is read directly; anything else goes through a Hugging Face model.
        weights = DecoderWeights.from_folder(Path(source), device, dtype) if Path(source).is_dir() else None
        model: Any = None
        if weights is None:
            model = self._load_hf_model(source, token, dtype, device)
            if SlotDecodeBackend.supports(model):
                weights = DecoderWeights.of_model(model)
        config = weights.config if weights is not None else model.config
        generation = getattr(model, "generation_config", None)
        eos = _eos_ids(
            config.eos_token_id, getattr(generation, "eos_token_id", None), getattr(tokenizer, "eos_token_id", None)
        )
        self._eos, self._vocab_size = eos, int(config.vocab_size)
        model_context = int(getattr(config, "max_position_embeddings", None) or DEFAULT_MAX_CONTEXT)
        self._context_length = min(model_context, self._settings.max_context_tokens or model_context)
        batch = self._settings.max_batch_size
        backend: Any
        if weights is not None:
            quant, int4_weights = "none", None
            if device == "cpu" and wanted_quant != "none":
                q4 = ensure_q4_weights(find_embedded_gguf(), self._settings.cache_dir) if self._embedded() else None
                if wanted_quant == "int4" or (wanted_quant == "auto" and q4 is not None):
                    quant, int4_weights = "int4", load_q4(q4) if q4 is not None else None
                elif wanted_quant == "int8":
                    quant = "int8"
            backend = SlotDecodeBackend(
                weights,
                max_batch_size=batch,
                max_seq_len=self._context_length,
                weight_quant=quant,
                int4_weights=int4_weights,
                prefix_cache_tokens=self._settings.prefix_cache_tokens,
                dense_weights_path=self._dense_weights_path(quant),
                native_library=self._native_library(quant),
            )
            self.weight_quant = quant
            # The backend holds every weight it needs, once: drop the Hugging Face copy and the file's.
            model = weights = int4_weights = None
            release_memory(freeze=True)
        else:
            log.warning("llm.engine.serial_fallback", model_type=getattr(config, "model_type", None))
            backend = SerialDecodeBackend(model, max_batch_size=batch)
            self.weight_quant = "none"
        self._model, self._tokenizer = model, tokenizer
        self._backend = backend
        scheduler = BatchScheduler(
            backend,
            max_batch_size=batch,
            max_queued_requests=self._settings.max_queued_requests,
            context_length=self._context_length,
            eos_token_ids=eos,
            new_text_stream=lambda: IncrementalDetokenizer(self._decode),
            dispatch=dispatch_to_loops,
            max_prefill_tokens_per_step=self._settings.max_prefill_tokens_per_step,
            metrics=self._metrics,
            token_text=self._token_text,
        )
        log.info(
            "llm.model.ready",
            model_id=self._model_id,
            context_length=self._context_length,
            backend=type(backend).__name__,
            weight_quant=self.weight_quant,
            max_batch_size=batch,
        )
        return scheduler

    @staticmethod
    def _load_hf_model(source: str | Path, token: str | None, dtype: Any, device: str) -> Any:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(source, token=token, dtype=dtype)
        return model.to(device).eval()

    @staticmethod
    def _load_tokenizer(source: str | Path, token: str | None) -> Any:
        """The ``tokenizers`` library's tokenizer with the chat template when the folder has both (the
        embedded model's does), else a transformers tokenizer."""
        from adapters.llm.chat_tokenizer import ChatTokenizer

        if Path(source).is_dir():
            tokenizer = ChatTokenizer.from_folder(Path(source))
            if tokenizer is not None:
                return tokenizer
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(source, token=token)

    def _native_library(self, quant: str) -> Path | None:
        from adapters.llm.native_decode import build_library

        if quant == "none" or not self._settings.native_decode:
            return None
        return build_library(self._settings.cache_dir)

    def _dense_weights_path(self, quant: str) -> Path | None:
        if quant == "none":
            return None
        name = re.sub(r"[^A-Za-z0-9._-]", "_", self._model_id)
        return self._settings.cache_dir / "dense" / f"{name}-{quant}.bin"

    def _embedded(self) -> bool:
        return self._settings.model_repo_id is None

    def _source(self) -> tuple[str | Path, str | None]:
        if self._settings.model_repo_id is None:
            return ensure_converted(find_embedded_gguf(), self._settings.cache_dir), None
        return self._settings.model_repo_id, self._settings.hf_token

    def _device(self, torch: Any) -> str:
        wanted = self._settings.device_map.strip().lower()
        if wanted in ("auto", ""):
            return "cuda" if torch.cuda.is_available() else "cpu"
        return wanted

    def _dtype(self, torch: Any, device: str) -> Any:
        wanted = self._settings.torch_dtype.strip().lower()
        if wanted == "auto":
            return torch.bfloat16 if device == "cpu" else "auto"
        if wanted not in _DTYPES:
            raise ValueError(f"torch_dtype {self._settings.torch_dtype!r} is not one of auto, {', '.join(_DTYPES)}")
        return getattr(torch, wanted)

    # -- tokenizer ------------------------------------------------------------------------------------

    async def _prompt_ids(self, messages: tuple[ChatMessage, ...] | str, tools: tuple[ToolSpec, ...] = ()) -> list[int]:
        """The chat template and tokenization of a prompt (a raw text prompt: the tokenization alone), on
        the tokenizer thread (never the event loop) and once per prompt: a request's count and its ``n``
        generations share one encoding."""
        key: _Prompt = messages if isinstance(messages, str) else (messages, tools)
        future = self._prompts.get(key)
        if future is None:
            future = asyncio.get_running_loop().run_in_executor(self._tokenizer_thread, self._encode, messages, tools)
            self._prompts[key] = future
            while len(self._prompts) > PROMPT_CACHE_SIZE:
                self._prompts.popitem(last=False)
        else:
            self._prompts.move_to_end(key)
        try:
            return list(await asyncio.shield(future))
        except Exception:
            if self._prompts.get(key) is future:
                del self._prompts[key]  # a failed encoding is not kept
            raise

    def _encode(self, messages: tuple[ChatMessage, ...] | str, tools: tuple[ToolSpec, ...] = ()) -> list[int]:
        if isinstance(messages, str):  # a raw prompt, with the special tokens a completion prompt gets
            return list(self._tokenizer.encode(messages))
        uses_tools = bool(tools) or any(m.role == "tool" or m.tool_calls for m in messages)
        extra: dict[str, Any] = {}
        if uses_tools and self._template_supports_tools():
            conversation = [_template_message(m) for m in messages]
            if tools:
                extra["tools"] = [_template_tool(t) for t in tools]
        else:
            if uses_tools:
                messages = render_without_tool_support(messages, tools)
            conversation = [{"role": m.role, "content": m.content} for m in messages]
        rendered = self._tokenizer.apply_chat_template(
            conversation, add_generation_prompt=True, tokenize=False, **extra
        )
        return list(self._tokenizer.encode(rendered, add_special_tokens=False))

    def _template_supports_tools(self) -> bool:
        template = getattr(self._tokenizer, "chat_template", None) or ""
        return isinstance(template, str) and "tools" in template and "tool_calls" in template

    def _grammar_row(self, constraint: OutputConstraint) -> Any:
        """A grammar matcher for one request (runs on the tokenizer thread: xgrammar loads on first use)."""
        if self._grammars is None:
            from adapters.llm.grammar import GrammarCompiler

            self._grammars = GrammarCompiler(self._tokenizer, self._vocab_size or len(self._tokenizer), self._eos)
        return self._grammars.row(constraint)

    def _decode(self, ids: list[int]) -> str:
        return str(self._tokenizer.decode(ids, skip_special_tokens=True))

    def _token_text(self, token_id: int) -> tuple[str, tuple[int, ...]]:
        """One token's exact bytes and their text (``bytes:\\xe2\\x80`` for part of a character)."""
        known = self._token_texts.get(token_id)
        if known is None:
            raw = token_bytes(self._tokenizer, token_id)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = "bytes:" + "".join(f"\\x{b:02x}" for b in raw)
            known = self._token_texts[token_id] = (text, tuple(raw))
        return known


def _eos_ids(*values: Any) -> set[int]:
    """The stop token ids among these values (each an id, a list of ids or None)."""
    ids: set[int] = set()
    for value in values:
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    return ids


def token_bytes(tokenizer: Any, token_id: int) -> bytes:
    """A token's bytes: through the byte-level BPE alphabet (GPT-2's, SmolLM's) where the tokenizer uses it,
    else its decoded text."""
    piece = tokenizer.convert_ids_to_tokens(token_id)
    alphabet = _byte_decoder()
    if isinstance(piece, str) and piece and all(c in alphabet for c in piece):
        return bytes(alphabet[c] for c in piece)
    return str(tokenizer.decode([token_id])).encode()


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's ``bytes_to_unicode``: printable stand-ins back to bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes, strict=True)}
