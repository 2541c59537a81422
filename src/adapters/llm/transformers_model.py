"""The ``LanguageModel`` port on Hugging Face Transformers + torch, with continuous batching."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from core.domain.errors import InvalidInput, Unavailable
from core.domain.generation import (
    ChatMessage,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    ModelInfo,
    PromptAccepted,
)

from adapters.llm.detokenizer import IncrementalDetokenizer
from adapters.llm.model_store import EMBEDDED_MODEL_ID, ensure_converted, find_embedded_gguf
from adapters.llm.scheduler import BatchScheduler, Sequence

log = structlog.get_logger(__name__)

DEFAULT_MAX_CONTEXT = 8192


@dataclass(frozen=True, slots=True)
class TransformersModelSettings:
    model_repo_id: str | None = None  # None: the embedded SmolLM2-135M-Instruct
    hf_token: str | None = None
    torch_dtype: str = "auto"
    device_map: str = "auto"
    cache_dir: Path = Path(".model-cache")
    max_batch_size: int = 8
    max_queued_requests: int = 64
    max_context_tokens: int | None = None


class TransformersLanguageModel:
    def __init__(self, settings: TransformersModelSettings) -> None:
        self._settings = settings
        self._model_id = settings.model_repo_id or EMBEDDED_MODEL_ID
        self._load_lock = asyncio.Lock()
        self._loaded = threading.Event()
        self._error: str | None = None
        self._tokenizer: Any = None
        self._model: Any = None
        self._scheduler: BatchScheduler | None = None
        self._context_length = settings.max_context_tokens or DEFAULT_MAX_CONTEXT

    # -- LanguageModel ---------------------------------------------------------------------------

    def info(self) -> ModelInfo:
        return ModelInfo(self._model_id, self._context_length, self._loaded.is_set(), self._error)

    async def start(self) -> None:
        if self._loaded.is_set():
            return
        async with self._load_lock:
            if self._loaded.is_set():
                return
            try:
                await self._start_engine_thread()
                self._error = None
            except Exception as error:
                self._error = f"{type(error).__name__}: {error}"
                log.exception("llm.model.load_failed", model_id=self._model_id)
                raise Unavailable(f"The model {self._model_id} could not be loaded: {self._error}") from error

    async def close(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        self._loaded.clear()
        if scheduler is not None:
            await asyncio.to_thread(scheduler.stop)

    async def count_prompt_tokens(self, messages: tuple[ChatMessage, ...]) -> int:
        await self.start()
        return len(self._encode(messages))

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        await self.start()
        scheduler = self._scheduler
        if scheduler is None:
            raise Unavailable("The model is not loaded")
        prompt_ids = self._encode(request.messages)
        max_tokens = request.sampling.max_tokens
        if len(prompt_ids) + max_tokens > self._context_length:
            raise InvalidInput(
                f"The prompt has {len(prompt_ids)} tokens and max_tokens is {max_tokens}: together "
                f"{len(prompt_ids) + max_tokens}, more than the model's context length of "
                f"{self._context_length} tokens",
                field="messages",
                code="context_length_exceeded",
            )
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[object] = asyncio.Queue()

        def emit(item: object) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, item)
            except RuntimeError:  # the reader's loop is gone
                pass

        sequence = Sequence(prompt_ids, request.sampling, emit,
                            IncrementalDetokenizer(self._decode))
        scheduler.submit(sequence)  # Overloaded raises here, before any event
        finished = False
        try:
            yield PromptAccepted(prompt_tokens=len(prompt_ids))
            while True:
                item = await events.get()
                if isinstance(item, Exception):
                    finished = True
                    raise item
                yield item  # type: ignore[misc]
                if isinstance(item, GenerationFinished):
                    finished = True
                    return
        finally:
            if not finished:
                scheduler.cancel(sequence)

    def loaded_model(self) -> tuple[Any, Any]:
        """The loaded Hugging Face model and tokenizer, for benchmarks and diagnostics (after ``start``)."""
        if self._model is None:
            raise Unavailable("The model is not loaded")
        return self._model, self._tokenizer

    # -- loading ---------------------------------------------------------------------------------

    async def _start_engine_thread(self) -> None:
        """Load the model and run the scheduler in ONE dedicated thread.

        Every torch call happens on that thread: a second thread doing torch work gets its own
        OpenMP team, and the teams fight over the cores (measured here: about 25% slower decoding).
        """
        loaded: concurrent.futures.Future[None] = concurrent.futures.Future()

        def engine_main() -> None:
            try:
                self._load()
            except BaseException as error:
                loaded.set_exception(error)
                return
            loaded.set_result(None)
            assert self._scheduler is not None
            self._scheduler.run_forever()

        threading.Thread(target=engine_main, name="llm-engine", daemon=True).start()
        await asyncio.wrap_future(loaded)

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from adapters.llm.torch_backend import SerialDecodeBackend, SlotDecodeBackend

        torch.set_num_threads(int(os.environ.get("LLM_THREADS", os.cpu_count() or 1)))
        source, token = self._source()
        device = self._device()
        dtype = self._dtype(device)
        log.info("llm.model.loading", model_id=self._model_id, source=str(source), device=device, dtype=str(dtype))
        tokenizer = AutoTokenizer.from_pretrained(source, token=token)
        model = AutoModelForCausalLM.from_pretrained(source, token=token, dtype=dtype)
        model.to(device)
        model.eval()
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"{self._model_id} has no chat template")
        model_context = int(getattr(model.config, "max_position_embeddings", DEFAULT_MAX_CONTEXT))
        self._context_length = min(model_context, self._settings.max_context_tokens or model_context)
        backend: Any
        if SlotDecodeBackend.supports(model):
            backend = SlotDecodeBackend(model, max_rows=self._settings.max_batch_size,
                                        max_seq_len=self._context_length)
        else:
            log.warning("llm.engine.serial_fallback", model_type=getattr(model.config, "model_type", None))
            backend = SerialDecodeBackend(model, max_rows=self._settings.max_batch_size)
        self._model = model
        self._tokenizer = tokenizer
        self._scheduler = BatchScheduler(backend, self._eos_ids(model, tokenizer),
                                         max_queued=self._settings.max_queued_requests)
        self._loaded.set()
        log.info("llm.model.ready", model_id=self._model_id, context_length=self._context_length,
                 engine=type(backend).__name__)

    def _source(self) -> tuple[str | Path, str | None]:
        if self._settings.model_repo_id is None:
            return ensure_converted(find_embedded_gguf(), self._settings.cache_dir), None
        return self._settings.model_repo_id, self._settings.hf_token

    def _device(self) -> str:
        import torch

        wanted = self._settings.device_map.lower()
        if wanted in ("auto", ""):
            return "cuda" if torch.cuda.is_available() else "cpu"
        return wanted

    def _dtype(self, device: str) -> Any:
        import torch

        names = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16,
                 "fp16": torch.float16, "float32": torch.float32, "fp32": torch.float32}
        wanted = self._settings.torch_dtype.lower()
        if wanted == "auto":
            return torch.bfloat16
        if wanted not in names:
            raise ValueError(f"TORCH_DTYPE {self._settings.torch_dtype!r} is not one of auto, {', '.join(names)}")
        return names[wanted]

    @staticmethod
    def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
        ids: set[int] = set()
        for source in (getattr(model, "generation_config", None), model.config, tokenizer):
            value = getattr(source, "eos_token_id", None)
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return ids

    # -- tokenizer -------------------------------------------------------------------------------

    def _encode(self, messages: tuple[ChatMessage, ...]) -> list[int]:
        rendered = self._tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            tokenize=False,
        )
        return list(self._tokenizer.encode(rendered, add_special_tokens=False))

    def _decode(self, ids: list[int]) -> str:
        return str(self._tokenizer.decode(ids, skip_special_tokens=True))
