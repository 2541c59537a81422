"""Values of resumable event streams (one stream per generation session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

StreamState = Literal["running", "finished"]


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One stored event. ``data`` is the SSE ``data:`` payload exactly as sent (JSON or ``[DONE]``)."""

    index: int
    data: str


@dataclass(frozen=True, slots=True)
class StreamStatus:
    session_id: str
    state: StreamState
    first_index: int  # oldest index still retained (ring buffer eviction moves it forward)
    next_index: int  # index the next appended event will get
    metadata: dict[str, str] = field(default_factory=dict)
