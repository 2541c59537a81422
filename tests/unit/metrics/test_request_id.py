"""Which incoming ``X-Request-ID`` values are kept."""

from __future__ import annotations

import pytest

from entrypoints.http.request_context import accepted_request_id


@pytest.mark.parametrize("value", [b"abc-123", b"trace id 42", b"x" * 128, b"~!@#$%^&*()"])
def test_printable_ids_up_to_128_characters_are_kept(value: bytes) -> None:
    assert accepted_request_id(value) == value.decode()


@pytest.mark.parametrize("value", [None, b"", b"x" * 129, b"bad\x01id", b"caf\xc3\xa9", b"tab\tid", b"new\nline"])
def test_anything_else_gets_a_fresh_id(value: bytes | None) -> None:
    made = accepted_request_id(value)
    assert made != (value or b"").decode("latin-1") and len(made) == 32 and made.isalnum()
