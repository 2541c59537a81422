"""A model that cannot load is reported by ``info`` and refuses work with ``Unavailable``."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.llm import TransformersLanguageModel, TransformersModelSettings
from core.domain.errors import Unavailable
from core.domain.generation import ChatMessage, GenerationRequest, SamplingParams


async def test_a_model_that_fails_to_load_is_unavailable(tmp_path: Path) -> None:
    empty_folder = tmp_path / "not-a-model"
    empty_folder.mkdir()
    model = TransformersLanguageModel(TransformersModelSettings(model_repo_id=str(empty_folder), cache_dir=tmp_path))
    await model.start()  # does not raise: the failure is reported by info()
    info = model.info()
    assert not info.ready and info.error and info.model_id == str(empty_folder)
    request = GenerationRequest((ChatMessage("user", "Hi"),), SamplingParams(max_tokens=4))
    with pytest.raises(Unavailable):
        await anext(model.generate(request))
    with pytest.raises(Unavailable):
        await model.count_prompt_tokens(request.messages)
    await model.close()
