"""Values of resumable event streams (one stream per generation session)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from core.domain.api_keys import hash_api_key

StreamState = Literal["running", "finished"]

# Who started a stream, as an opaque string stored with it. Only that owner may follow (resume,
# replay) or cancel the stream; everyone else is told it does not exist.
StreamOwner = str

ANONYMOUS_OWNER: StreamOwner = "anonymous"  # every caller of an open server (no API_KEY)


def api_client_owner(api_key: str) -> StreamOwner:
    """An ``/v1`` API key's identity: a digest, never the key itself."""
    return "key:" + hash_api_key(api_key)[:32]


def user_owner(user_id: int) -> StreamOwner:
    return f"user:{user_id}"


class StreamNamespace(StrEnum):
    """Streams of different endpoints never share ids: each lives under its own namespace."""

    COMPLETIONS = "v1"
    AI_SEARCH = "search"


@dataclass(frozen=True, slots=True)
class StreamRef:
    """A stream as the public API names it (``session_id``) within its endpoint's namespace."""

    namespace: StreamNamespace
    session_id: str

    @property
    def key(self) -> str:
        """The store's key. Namespaces contain no ``/``, so two refs share a key only if equal."""
        return f"{self.namespace.value}/{self.session_id}"


def new_session_id(prefix: str = "") -> str:
    """A server-made session id: 128 random bits."""
    return prefix + secrets.token_hex(16)


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
    owner: StreamOwner = ANONYMOUS_OWNER
    # A running stream whose producer stopped renewing its lease (its process died or stalls).
    lease_expired: bool = False
    takeovers: int = 0  # how many times another process took the generation over


@dataclass(frozen=True, slots=True)
class StreamClaim:
    """This process now holds the lease of a stream whose producer died, and continues it."""

    session_id: str  # the store's key
    next_index: int  # the continuation's first event gets this index
    takeovers: int  # including this one
    metadata: dict[str, str]
    request: str | None  # what the stream was opened with to make a takeover possible
    owner: StreamOwner = ANONYMOUS_OWNER
