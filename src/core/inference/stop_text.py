"""Stop strings: cut the output at the first stop text and never leak a partial one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class StopTextFilter:
    """Feed text deltas in; get back the text that is safe to emit.

    Text that could be the start of a stop string is held back until it is clearly not one. Once a
    stop string appears, everything from it on is dropped and ``stopped`` becomes True.
    """

    stop: tuple[str, ...]
    _pending: str = ""
    stopped: bool = False

    def __post_init__(self) -> None:
        self.stop = tuple(s for s in self.stop if s)

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.stop:
            return text
        buffer = self._pending + text
        cut = min((i for i in (buffer.find(s) for s in self.stop) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._pending = ""
            return buffer[:cut]
        hold = self._longest_stop_prefix_suffix(buffer)
        self._pending = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        """The held-back text, once generation ended without a stop string."""
        text, self._pending = ("" if self.stopped else self._pending), ""
        return text

    def _longest_stop_prefix_suffix(self, buffer: str) -> int:
        """Length of the longest suffix of ``buffer`` that is a proper prefix of a stop string."""
        best = 0
        for stop in self.stop:
            for length in range(min(len(stop) - 1, len(buffer)), best, -1):
                if buffer.endswith(stop[:length]):
                    best = length
                    break
        return best
