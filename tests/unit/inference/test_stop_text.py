from __future__ import annotations

import pytest

from core.inference.stop_text import StopTextFilter


def run(stop: tuple[str, ...], pieces: list[str]) -> tuple[list[str], bool]:
    f = StopTextFilter(stop)
    out = [f.feed(p) for p in pieces]
    out.append(f.flush())
    return out, f.stopped


def test_no_stop_strings_pass_text_through() -> None:
    out, stopped = run((), ["Hel", "lo"])
    assert "".join(out) == "Hello" and not stopped


def test_stop_text_is_cut_and_not_returned() -> None:
    out, stopped = run(("END",), ["one two ", "END three"])
    assert "".join(out) == "one two " and stopped


@pytest.mark.parametrize(
    "pieces",
    [["abc", "<", "/", "s", ">", "tail"], ["abc<", "/s>tail"], ["ab", "c</s", ">tail"], ["abc</s>tail"]],
)
def test_stop_split_across_tokens_never_leaks_a_prefix(pieces: list[str]) -> None:
    f = StopTextFilter(("</s>",))
    emitted = []
    for p in pieces:
        emitted.append(f.feed(p))
        assert "<" not in "".join(emitted), "a partial stop string leaked"
    assert "".join(emitted) + f.flush() == "abc"
    assert f.stopped


def test_held_back_prefix_is_released_when_it_turns_out_not_to_be_a_stop() -> None:
    f = StopTextFilter(("STOP",))
    assert f.feed("go ST") == "go "
    assert f.feed("ART") == "START"
    assert f.flush() == ""


def test_flush_returns_pending_prefix_at_the_end() -> None:
    f = StopTextFilter(("STOP",))
    assert f.feed("end ST") == "end "
    assert f.flush() == "ST"


def test_earliest_of_several_stop_strings_wins() -> None:
    out, stopped = run(("b", "a"), ["xxaxxb"])
    assert "".join(out) == "xx" and stopped


def test_after_stop_everything_is_dropped() -> None:
    f = StopTextFilter(("!",))
    assert f.feed("hi!") == "hi"
    assert f.feed("more") == ""
    assert f.flush() == ""
