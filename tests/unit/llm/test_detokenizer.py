"""Incremental detokenization against a fake byte-level tokenizer."""

from __future__ import annotations

from adapters.llm.detokenizer import IncrementalDetokenizer

# A byte-level vocabulary like GPT-2's: some tokens are whole words with a leading space, some are
# single bytes of a multi-byte UTF-8 character.
VOCAB: dict[int, bytes] = {
    1: b"Hello",
    2: b" world",
    3: "é".encode()[:1],
    4: "é".encode()[1:],
    5: " 🙂".encode()[:3],
    6: " 🙂".encode()[3:],
    7: b"!",
    9: b"<eos>",
}
SPECIAL = {9}


def decode(ids: list[int]) -> str:
    data = b"".join(VOCAB[i] for i in ids if i not in SPECIAL)
    return data.decode("utf-8", errors="replace")


def pieces(ids: list[int]) -> list[str]:
    detokenizer = IncrementalDetokenizer(decode)
    return [detokenizer.push(i) for i in ids]


def test_joined_pieces_equal_the_full_decode() -> None:
    ids = [1, 2, 3, 4, 5, 6, 7, 2]
    assert "".join(pieces(ids)) == decode(ids) == "Hello worldé 🙂! world"


def test_incomplete_characters_are_held_back_until_complete() -> None:
    assert pieces([1, 3, 4]) == ["Hello", "", "é"]
    assert pieces([5, 6]) == ["", " 🙂"]


def test_leading_spaces_survive_token_by_token() -> None:
    assert pieces([1, 2, 2]) == ["Hello", " world", " world"]


def test_special_tokens_print_nothing() -> None:
    assert pieces([1, 9, 2]) == ["Hello", "", " world"]


def test_flush_releases_what_was_held_back() -> None:
    detokenizer = IncrementalDetokenizer(decode)
    assert detokenizer.push(1) == "Hello"
    assert detokenizer.push(5) == ""
    assert detokenizer.flush() == decode([5])
    assert detokenizer.flush() == ""
