"""Automatic prefix caching: the KV of identical prompt prefixes, kept in blocks and reused across requests.

A prompt is cut into blocks of ``block_tokens``; block i is keyed by a hash chained over every token up to
its end, so a key names one exact prefix. ``lookup`` walks the chain until the first miss. The cache is
bounded in tokens and evicts the least recently used block first; a hit refreshes its blocks from the
last to the first, so a prefix's first blocks (shared by the most prompts) stay the longest.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Block = TypeVar("Block")


class PrefixCache(Generic[Block]):
    def __init__(self, max_tokens: int, block_tokens: int = 32) -> None:
        if block_tokens < 1:
            raise ValueError("block_tokens must be at least 1")
        self.block_tokens = block_tokens
        self.max_blocks = max(0, max_tokens) // block_tokens
        self._blocks: OrderedDict[bytes, Block] = OrderedDict()

    @property
    def cached_tokens(self) -> int:
        return len(self._blocks) * self.block_tokens

    def _keys(self, prompt: Sequence[int], blocks: int) -> list[bytes]:
        keys: list[bytes] = []
        digest = b""
        size = self.block_tokens
        for index in range(blocks):
            chunk = array("q", prompt[index * size : (index + 1) * size]).tobytes()
            digest = hashlib.blake2b(digest + chunk, digest_size=16).digest()
            keys.append(digest)
        return keys

    def lookup(self, prompt: Sequence[int], max_tokens: int) -> list[Block]:
        """The cached blocks of the longest cached prefix of ``prompt`` that has at most ``max_tokens``."""
        if not self.max_blocks:
            return []
        found: list[tuple[bytes, Block]] = []
        for key in self._keys(prompt, min(len(prompt), max_tokens) // self.block_tokens):
            block = self._blocks.get(key)
            if block is None:
                break
            found.append((key, block))
        for key, _ in reversed(found):
            self._blocks.move_to_end(key)
        return [block for _, block in found]

    def insert(self, prompt: Sequence[int], block_at: Callable[[int], Block]) -> None:
        """Cache every full block of ``prompt`` not cached yet; ``block_at(i)`` copies block i out."""
        if not self.max_blocks:
            return
        keys = self._keys(prompt, min(len(prompt) // self.block_tokens, self.max_blocks))
        for index, key in enumerate(keys):
            if key in self._blocks:
                self._blocks.move_to_end(key)
            else:
                self._blocks[key] = block_at(index)
        for key in reversed(keys):  # the first blocks are the most shared: keep them the longest
            self._blocks.move_to_end(key)
        while len(self._blocks) > self.max_blocks:
            self._blocks.popitem(last=False)

    def clear(self) -> None:
        self._blocks.clear()
