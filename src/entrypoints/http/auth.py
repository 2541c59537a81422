"""The one HTTP mapping of authentication: the bearer token in, the core ``Caller`` out.

Every route states what it requires with ``access=Access...`` in its decorator (or ``opt`` on a
controller); absent means ``Access.PUBLIC``. One app-wide ``before_request`` hook hands the token and
that requirement to the core ``Authenticate`` use case before the parameters and the body are parsed (so a
missing key is a 401, not a 422), and keeps the answer on the connection; handlers receive it as the
``caller`` dependency. (A guard would do the same, but Litestar copies the route handler for every guard
call.)
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler

from core.domain.caller import ANONYMOUS, Caller
from core.use_cases.authenticate import Access, Authenticate
from entrypoints.http.request_context import set_caller_kind

ACCESS = "access"


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """``Authorization: Bearer <token>``; anything else is no token."""
    # The raw ASGI headers (lower-case names): cheaper than building the Headers mapping on every request.
    raw = next((value for name, value in connection.scope["headers"] if name == b"authorization"), b"")
    scheme, _sep, token = raw.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def required_access(handler: BaseRouteHandler) -> Access:
    access = handler.opt.get(ACCESS, Access.PUBLIC)
    if not isinstance(access, Access):
        raise TypeError(f"{handler}: opt[{ACCESS!r}] must be an Access, got {access!r}")
    return access


async def identify_caller(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """The app's ``before_request`` hook (answers None, so the handler runs)."""
    access = required_access(connection.route_handler)
    token = bearer_token(connection)
    caller = ANONYMOUS
    if token is not None or access is not Access.PUBLIC:
        authenticate = await connection.state.dishka_container.get(Authenticate)
        caller = await authenticate(token, access)
    connection.state.caller = caller
    set_caller_kind(connection, caller.kind)  # for the access line (never the key itself)


def _caller(request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    return getattr(request.state, "caller", ANONYMOUS)  # type: ignore[no-any-return]


CALLER_DEPENDENCY = {"caller": Provide(_caller, sync_to_thread=False)}
