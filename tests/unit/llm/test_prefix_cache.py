"""The prefix cache's keys, bound and eviction order (blocks are plain strings here: no torch)."""

from __future__ import annotations

from adapters.llm.prefix_cache import PrefixCache


def blocks_of(name: str):
    return lambda index: f"{name}{index}"


def test_the_longest_cached_prefix_of_whole_blocks_is_found() -> None:
    cache: PrefixCache[str] = PrefixCache(max_tokens=100, block_tokens=4)
    cache.insert(list(range(10)), blocks_of("a"))  # two whole blocks: 0..3, 4..7
    assert cache.cached_tokens == 8
    assert cache.lookup([*list(range(10)), 99], max_tokens=10) == ["a0", "a1"]
    assert cache.lookup([0, 1, 2, 3, 4, 5, 6, 99, 8], max_tokens=9) == ["a0"], "a changed token ends the match"
    assert cache.lookup([9, 1, 2, 3, 4, 5, 6, 7], max_tokens=8) == [], "the same block after another prefix"
    assert cache.lookup(list(range(8)), max_tokens=7) == ["a0"], "never more than max_tokens"


def test_least_recently_used_blocks_go_first_and_the_bound_holds() -> None:
    cache: PrefixCache[str] = PrefixCache(max_tokens=16, block_tokens=4)  # four blocks
    cache.insert([1] * 8, blocks_of("a"))
    cache.insert([2] * 8, blocks_of("b"))
    assert cache.lookup([1] * 9, max_tokens=8) == ["a0", "a1"]  # a is now the most recent
    cache.insert([3] * 8, blocks_of("c"))
    assert cache.cached_tokens == 16
    assert cache.lookup([2] * 9, max_tokens=8) == [], "b was the least recently used"
    assert cache.lookup([1] * 9, max_tokens=8) == ["a0", "a1"]
    assert cache.lookup([3] * 9, max_tokens=8) == ["c0", "c1"]


def test_a_prefix_loses_its_last_blocks_before_its_first() -> None:
    cache: PrefixCache[str] = PrefixCache(max_tokens=12, block_tokens=4)
    cache.insert([1] * 12, blocks_of("a"))
    cache.insert([2] * 4, blocks_of("b"))  # one block over: a's deepest block goes
    assert cache.lookup([1] * 13, max_tokens=12) == ["a0", "a1"]


def test_a_zero_sized_cache_keeps_nothing() -> None:
    cache: PrefixCache[str] = PrefixCache(max_tokens=0, block_tokens=4)
    cache.insert([1] * 8, blocks_of("a"))
    assert cache.lookup([1] * 9, max_tokens=8) == [] and cache.cached_tokens == 0
