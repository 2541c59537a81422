"""The backend built from a checkpoint folder read directly against the one built from the Hugging Face model
(tiny random-weight models saved to disk), and what the backend keeps of what it was built from."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from adapters.llm.checkpoint import DecoderWeights
from adapters.llm.torch_backend import SlotDecodeBackend
from tests.integration.conftest import MODEL_CACHE
from tests.integration.llm.test_decoder_matches_hf import run_scenario, tiny_model


@pytest.mark.parametrize("kind", ["llama", "qwen3"])  # a tied LM head; an untied one with q/k norms
def test_a_folder_read_directly_decodes_exactly_as_transformers_loading_it(kind: str, tmp_path: Path) -> None:
    tiny_model(kind, torch.bfloat16).save_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.bfloat16).eval()  # RoPE tables in float32
    weights = DecoderWeights.from_folder(tmp_path, "cpu", torch.bfloat16)
    assert weights is not None
    from_folder = SlotDecodeBackend(weights, max_batch_size=4, max_seq_len=512, prefix_cache_tokens=256)
    from_model = SlotDecodeBackend(model, max_batch_size=4, max_seq_len=512, prefix_cache_tokens=256)
    assert torch.equal(from_folder._cos, from_model._cos) and torch.equal(from_folder._sin, from_model._sin)
    folder_run, model_run = run_scenario(from_folder), run_scenario(from_model)
    for mine, theirs in zip(folder_run.per_request_logits, model_run.per_request_logits, strict=True):  # type: ignore[attr-defined]
        assert torch.equal(torch.stack(mine), torch.stack(theirs))


def test_a_folder_the_direct_reader_does_not_cover_is_left_to_transformers(tmp_path: Path) -> None:
    tiny_model("llama", torch.bfloat16).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["rope_parameters"] = {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert DecoderWeights.from_folder(tmp_path, "cpu", torch.bfloat16) is None, "scaled RoPE: not read directly"
    (tmp_path / "model.safetensors").unlink()
    assert DecoderWeights.from_folder(tmp_path, "cpu", torch.bfloat16) is None, "no safetensors file"


@pytest.mark.parametrize("quant", ["none", "int4"])
def test_the_backend_keeps_no_reference_to_the_hugging_face_model(quant: str) -> None:
    model = tiny_model("llama", torch.bfloat16)
    alive = weakref.ref(model)
    backend = SlotDecodeBackend(model, max_batch_size=2, max_seq_len=128, weight_quant=quant)
    del model
    gc.collect()
    assert alive() is None and backend.linear_kind == {"none": "dense", "int4": "int4"}[quant]


def check_a_started_model(checks: str) -> None:
    """``checks`` (Python source) in a fresh interpreter, after it started the embedded model as ``model``."""
    code = (
        "import asyncio, gc, sys\n"
        "from pathlib import Path\n"
        "from adapters.llm import TransformersLanguageModel, TransformersModelSettings\n"
        f"model = TransformersLanguageModel(TransformersModelSettings(cache_dir=Path({str(MODEL_CACHE)!r})))\n"
        "asyncio.run(model.start())\n"
        "assert model.info().ready, model.info().error\n"
    ) + checks
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.model
def test_serving_the_embedded_model_never_imports_transformers() -> None:
    check_a_started_model(
        "assert model.weight_quant == 'int4' and model.loaded_model()[0] is None\n"
        "imported = sorted(name for name in sys.modules if name.split('.')[0] == 'transformers')\n"
        "assert not imported, imported\n"
    )


@pytest.mark.model
def test_a_started_model_leaves_what_loading_made_out_of_the_collectors_sight() -> None:
    """Every automatic full collection would otherwise walk the ~180,000 objects of torch, transformers and
    the backend: a pause of every running stream."""
    check_a_started_model(
        "frozen, watched = gc.get_freeze_count(), len(gc.get_objects())\n"
        "assert frozen > 50_000 and watched < frozen / 10, (frozen, watched)\n"
    )
