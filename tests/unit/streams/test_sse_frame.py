"""The one SSE writer splits data lines only where the SSE specification ends a line."""

from __future__ import annotations

import json

from core.domain.streams import StreamEvent
from entrypoints.http.sse import frame


def test_unicode_line_separators_stay_inside_one_data_line() -> None:
    payload = json.dumps({"name": "a\u2028b\u2029c\u0085d\x1c\x1d\x1e\x0b\x0ce"}, ensure_ascii=False)
    assert frame("s", StreamEvent(3, payload)) == f"id: s:3\ndata: {payload}\n\n".encode()


def test_cr_lf_cr_and_lf_each_start_a_new_data_line() -> None:
    assert frame("s", StreamEvent(0, "a\r\nb\rc\nd")) == b"id: s:0\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    assert frame("s", StreamEvent(1, "")) == b"id: s:1\ndata: \n\n"
