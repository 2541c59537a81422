"""The engine's own tokenizer (``tokenizers`` + jinja2) renders, encodes and decodes as transformers' does."""

from __future__ import annotations

import pytest

from adapters.llm.chat_tokenizer import ChatTokenizer
from adapters.llm.model_store import converted_folder_name, find_embedded_gguf
from tests.integration.conftest import MODEL_CACHE

pytestmark = pytest.mark.model

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a fruit."}],
    [
        {"role": "user", "content": "Apa kabar? Harga Rp 15.000 — murah 😀"},
        {"role": "assistant", "content": "Baik!"},
        {"role": "user", "content": "  spaces\n\ttabs <|im_end|> inside  "},
    ],
]


@pytest.fixture(scope="module")
def tokenizers(real_model):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    folder = MODEL_CACHE / converted_folder_name(find_embedded_gguf())
    ours = ChatTokenizer.from_folder(folder)
    assert ours is not None
    return ours, AutoTokenizer.from_pretrained(folder)


def test_the_engine_serves_with_its_own_tokenizer(real_model) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(real_model.loaded_model()[1], ChatTokenizer), "no transformers tokenizer object is built"


@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_chat_template_renders_and_encodes_like_transformers(tokenizers, add_generation_prompt: bool) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = tokenizers
    for conversation in CONVERSATIONS:
        kwargs = {"add_generation_prompt": add_generation_prompt, "tokenize": False}
        rendered = ours.apply_chat_template(conversation, **kwargs)
        assert rendered == theirs.apply_chat_template(conversation, **kwargs)
        assert ours.encode(rendered, add_special_tokens=False) == theirs.encode(rendered, add_special_tokens=False)
        assert ours.encode(rendered) == theirs.encode(rendered)


def test_decoding_matches_transformers_with_and_without_special_tokens(tokenizers) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = tokenizers
    ids = theirs.apply_chat_template(CONVERSATIONS[2], add_generation_prompt=True, tokenize=False)
    ids = theirs.encode(ids, add_special_tokens=False)
    for skip in (True, False):
        assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)
    assert ours.eos_token_id == theirs.eos_token_id == 2
    assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)
    assert ours.convert_ids_to_tokens(ids[3]) == theirs.convert_ids_to_tokens(ids[3])
