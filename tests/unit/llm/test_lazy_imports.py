"""Building the language model adapter must not import torch or transformers (start-up stays light)."""

from __future__ import annotations

import subprocess
import sys


def test_the_adapter_imports_without_torch_or_transformers() -> None:
    code = (
        "import sys\n"
        "from adapters.llm import TransformersLanguageModel, TransformersModelSettings\n"
        "model = TransformersLanguageModel(TransformersModelSettings())\n"
        "assert not model.info().ready\n"
        "print(sorted(name for name in ('torch', 'transformers') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
