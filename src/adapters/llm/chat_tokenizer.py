"""A model folder's tokenizer and chat template on the ``tokenizers`` library and jinja2.

What the engine needs of a Hugging Face fast tokenizer (render the chat template, encode, decode, the
special tokens) without building a transformers tokenizer object: that object costs about 85 MB of
resident memory on top of the same Rust tokenizer. The template is rendered as transformers renders it
(a sandboxed jinja2 environment with ``trim_blocks``, ``lstrip_blocks`` and loop controls, the special
tokens as variables, ``raise_exception`` and ``strftime_now``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

_SPECIAL_NAMES = ("bos_token", "eos_token", "unk_token", "pad_token")


class ChatTokenizer:
    def __init__(self, tokenizer: Any, chat_template: str, special_tokens: Mapping[str, str]) -> None:
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self._tokenizer = tokenizer
        self.chat_template = chat_template
        self.special_tokens = dict(special_tokens)
        eos = self.special_tokens.get("eos_token")
        self.eos_token_id: int | None = tokenizer.token_to_id(eos) if eos else None

        def raise_exception(message: str) -> None:
            raise jinja2.exceptions.TemplateError(message)

        def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, **_: Any) -> str:
            return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)

        environment = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
        )
        environment.filters["tojson"] = tojson
        environment.globals["raise_exception"] = raise_exception
        environment.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        self._template = environment.from_string(chat_template)

    @property
    def backend_tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` (as transformers' fast tokenizers name it; the grammar compiler reads it)."""
        return self._tokenizer

    @classmethod
    def from_folder(cls, folder: Path) -> ChatTokenizer | None:
        """The folder's ``tokenizer.json`` with its chat template; None when either is missing."""
        from tokenizers import Tokenizer

        config_path = folder / "tokenizer_config.json"
        config: dict[str, Any] = json.loads(config_path.read_text()) if config_path.exists() else {}
        template_path = folder / "chat_template.jinja"
        template = template_path.read_text() if template_path.exists() else config.get("chat_template")
        if not (folder / "tokenizer.json").exists() or not isinstance(template, str):
            return None
        if config.get("clean_up_tokenization_spaces"):
            return None  # transformers post-processes decoded text then: leave such folders to it
        special = {}
        for name in _SPECIAL_NAMES:
            value = config.get(name)
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                special[name] = value
        return cls(Tokenizer.from_file(str(folder / "tokenizer.json")), template, special)

    def apply_chat_template(
        self,
        conversation: Sequence[Mapping[str, Any]],
        *,
        add_generation_prompt: bool = False,
        tokenize: bool = True,
        tools: Sequence[Mapping[str, Any]] | None = None,
        **template_variables: Any,
    ) -> str | list[int]:
        rendered = self._template.render(
            messages=list(conversation),
            tools=tools,
            add_generation_prompt=add_generation_prompt,
            **self.special_tokens,
            **template_variables,
        )
        return self.encode(rendered, add_special_tokens=False) if tokenize else rendered

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> str | list[str | None] | None:
        """The vocabulary entry of each id (byte-level stand-in characters, not decoded text)."""
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        return [self._tokenizer.id_to_token(i) for i in ids]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))
