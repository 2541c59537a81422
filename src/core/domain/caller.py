"""Who is calling: the one value every route's rules are decided on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.domain.marketplace import Supplier, User
from core.domain.streams import ANONYMOUS_OWNER, StreamOwner, user_owner

CallerKind = Literal["anonymous", "admin", "supplier", "user", "api_client", "metrics_scraper"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Exactly one kind. ``key_id`` identifies the key of an API client (a digest prefix, never the key);
    ``presented_token`` says a bearer token came with the request, even one that matched nobody."""

    kind: CallerKind = "anonymous"
    supplier: Supplier | None = None
    user: User | None = None
    key_id: str | None = None
    presented_token: bool = False

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    def is_supplier(self, supplier_id: int) -> bool:
        return self.supplier is not None and self.supplier.id == supplier_id

    def is_user(self, user_id: int) -> bool:
        return self.user is not None and self.user.id == user_id

    @property
    def stream_owner(self) -> StreamOwner:
        """The identity recorded on the streams this caller starts: the user, or the API key's id (never
        the key); every other caller is the one anonymous owner (an open server's clients)."""
        if self.user is not None:
            return user_owner(self.user.id)
        if self.kind == "api_client" and self.key_id:
            return f"key:{self.key_id}"
        return ANONYMOUS_OWNER


ANONYMOUS = Caller()
