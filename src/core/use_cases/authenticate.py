"""The one place a bearer token becomes a ``Caller``, and the rules of what each route requires.

Keys are stored only as SHA-256 digests, so a supplier's or user's key is found by hashing it and
looking the digest up; the admin key, the ``/v1`` keys (``API_KEY``) and the metrics key come from
settings and are compared in constant time. Only the kinds a route accepts are looked up, so ``/v1``
and the public routes never touch the database to authenticate.

Answers: no token where one is needed, or a token that matches nobody, is ``Unauthorized`` (401); a
valid key of a kind the route does not accept is ``Forbidden`` (403). Whether a caller may see one
particular resource is the use case's business (private resources answer ``NotFound`` to strangers).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.domain.api_keys import hash_api_key, same_secret
from core.domain.caller import ANONYMOUS, Caller
from core.domain.errors import Forbidden, Unauthorized
from core.ports.marketplace import UnitOfWork

MISSING_KEY = "Send an API key as Authorization: Bearer <api_key>"
INVALID_KEY = "The API key is not valid"


class Access(Enum):
    """What a route requires of its caller."""

    PUBLIC = "public"  # anyone; only the admin key is recognised (no database lookup)
    SUPPLIER = "supplier"
    USER = "user"
    USER_OR_ADMIN = "user_or_admin"
    SUPPLIER_OR_ADMIN = "supplier_or_admin"
    ADMIN = "admin"
    INFERENCE = "inference"  # /v1: one of API_KEY when configured, else anyone
    METRICS = "metrics"  # /metrics: METRICS_API_KEY when configured, else anyone

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Access.PUBLIC: "No key needed.",
    Access.SUPPLIER: "Needs a supplier's api_key (Authorization: Bearer).",
    Access.USER: "Needs a user's api_key (Authorization: Bearer).",
    Access.USER_OR_ADMIN: "Needs the user's own api_key or the admin key (Authorization: Bearer).",
    Access.SUPPLIER_OR_ADMIN: "Needs the supplier's own api_key or the admin key (Authorization: Bearer).",
    Access.ADMIN: "Needs the admin key, ADMIN_API_KEY (Authorization: Bearer).",
    Access.INFERENCE: "Needs one of API_KEY (Authorization: Bearer) when the server sets it.",
    Access.METRICS: "Needs METRICS_API_KEY (Authorization: Bearer) when the server sets it.",
}

_NEEDS_KEY = {
    Access.SUPPLIER,
    Access.USER,
    Access.USER_OR_ADMIN,
    Access.SUPPLIER_OR_ADMIN,
    Access.ADMIN,
}
_PREFERS_USERS = {Access.USER, Access.USER_OR_ADMIN}


@dataclass(frozen=True, slots=True)
class KeyConfig:
    """The keys that come from settings, not from the database."""

    admin_api_key: str | None = None
    inference_api_keys: tuple[str, ...] = ()
    metrics_api_key: str | None = None


def key_id(api_key: str) -> str:
    """A stable, non-secret name for a key (32 hex digits of its SHA-256), for stream owners."""
    return hash_api_key(api_key)[:32]


class Authenticate:
    def __init__(self, uow: UnitOfWork, keys: KeyConfig) -> None:
        self._uow = uow
        self._keys = keys

    @property
    def admin_configured(self) -> bool:
        return bool(self._keys.admin_api_key)

    async def __call__(self, token: str | None, access: Access = Access.PUBLIC) -> Caller:
        """The caller behind ``token``, checked against ``access``."""
        presented = bool(token)
        if access is Access.INFERENCE:
            return self._inference(token)
        if access is Access.METRICS:
            return self._metrics(token)
        if access is Access.ADMIN and not self.admin_configured:
            raise Forbidden("No admin key is configured (set ADMIN_API_KEY); this action is disabled")
        if not token:
            if access in _NEEDS_KEY:
                raise Unauthorized(MISSING_KEY)
            return ANONYMOUS
        if self._is_admin(token):
            caller = Caller(kind="admin", presented_token=True)
        elif access is Access.PUBLIC:
            return Caller(presented_token=True)  # public routes recognise only the admin key: no lookup
        else:
            caller = await self._account(token, access)
        if caller.kind == "anonymous":
            if access in _NEEDS_KEY:
                raise Unauthorized(INVALID_KEY)
            return Caller(presented_token=presented)
        _check_kind(caller, access)
        return caller

    def _is_admin(self, token: str) -> bool:
        admin = self._keys.admin_api_key
        return bool(admin) and same_secret(token, admin)  # type: ignore[arg-type]

    async def _account(self, token: str, access: Access) -> Caller:
        """A supplier's or a user's key (the kind the route wants is looked up first)."""
        digest = hash_api_key(token)
        lookups = [self._supplier, self._user]
        if access in _PREFERS_USERS:
            lookups.reverse()
        for lookup in lookups:
            caller = await lookup(digest)
            if caller is not None:
                return caller
        return ANONYMOUS

    async def _supplier(self, digest: str) -> Caller | None:
        supplier = await self._uow.suppliers.get_by_api_key_hash(digest)
        return None if supplier is None else Caller(kind="supplier", supplier=supplier, presented_token=True)

    async def _user(self, digest: str) -> Caller | None:
        user = await self._uow.users.get_by_api_key_hash(digest)
        return None if user is None else Caller(kind="user", user=user, presented_token=True)

    def _inference(self, token: str | None) -> Caller:
        keys = self._keys.inference_api_keys
        if not keys:
            return Caller(presented_token=bool(token))  # an open server: every client is anonymous
        given = token or ""
        matched: str | None = None
        for key in keys:  # compare against every key: no early exit, constant time each
            if same_secret(given, key):
                matched = key
        if matched is None:
            raise Unauthorized("Missing or invalid API key: send Authorization: Bearer <key>", code="invalid_api_key")
        return Caller(kind="api_client", key_id=key_id(matched), presented_token=True)

    def _metrics(self, token: str | None) -> Caller:
        expected = self._keys.metrics_api_key
        if expected is None:
            return Caller(presented_token=bool(token))
        if not same_secret(token or "", expected):
            raise Unauthorized("Send the metrics key as Authorization: Bearer <METRICS_API_KEY>")
        return Caller(kind="metrics_scraper", presented_token=True)


def _check_kind(caller: Caller, access: Access) -> None:
    allowed = {
        Access.PUBLIC: None,
        Access.SUPPLIER: {"supplier"},
        Access.USER: {"user"},
        Access.USER_OR_ADMIN: {"user", "admin"},
        Access.SUPPLIER_OR_ADMIN: {"supplier", "admin"},
        Access.ADMIN: {"admin"},
    }[access]
    if allowed is not None and caller.kind not in allowed:
        raise Forbidden(_FORBIDDEN[access])


_FORBIDDEN = {
    Access.SUPPLIER: "This action needs a supplier's API key",
    Access.USER: "This action needs a user's API key",
    Access.USER_OR_ADMIN: "This action needs the user's own API key or the admin key",
    Access.SUPPLIER_OR_ADMIN: "This action needs the supplier's own API key or the admin key",
    Access.ADMIN: "This action needs the admin API key",
}
