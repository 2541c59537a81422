"""``POST /api/chat/search`` (plain or SSE) and the saved conversation history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any

import msgspec
import structlog
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Stream

from core.domain.caller import Caller
from core.domain.errors import Forbidden, InvalidInput
from core.domain.streams import StreamClaim, StreamNamespace, StreamRef, new_session_id
from core.ports.marketplace import UnitOfWork
from core.ports.metrics import Metrics
from core.ports.transactions import UnitOfWorkFactory
from core.use_cases.authenticate import Access
from core.use_cases.conversation_history import ConversationHistory
from core.use_cases.recommend_products import (
    AnswerDelta,
    AnswerDone,
    AnswerStarted,
    PreparedSearch,
    RecommendProducts,
    SaveAnswer,
    SearchCommand,
    StreamEvent,
    save_answer_in_new_unit,
)
from core.use_cases.stream_sessions import DONE, Producer, StreamSessions
from entrypoints.http.chat_search.wire import (
    ChatSearchRequest,
    ChatSearchResponse,
    ConversationOut,
    MessageOut,
    alternative_out,
    conversation_out,
    filters_out,
    message_out,
    product_out,
)
from entrypoints.http.disconnect import unless_disconnected
from entrypoints.http.paging import Limit, Skip, listing, page
from entrypoints.http.sse import parse_last_event_id, prime, sse_response

logger = structlog.get_logger(__name__)

SEARCH_KIND = "chat.search"
INTERRUPTED_MESSAGE = "The process generating this answer stopped before it finished"


def search_stream(session_id: str) -> StreamRef:
    return StreamRef(StreamNamespace.AI_SEARCH, session_id)


def _payload(value: dict[str, Any]) -> str:
    return json.dumps(msgspec.to_builtins(value), ensure_ascii=False, separators=(",", ":"))


class SearchStreams:
    """AI-search streams whose process died end with an ``error`` event (``generation_interrupted``);
    their ``products`` event and the text streamed so far stay readable. Or another process continues
    the answer after the text already streamed (the prepared search is kept with the stream)."""

    def __init__(self, recommend: RecommendProducts, uow_factory: UnitOfWorkFactory, metrics: Metrics) -> None:
        self._recommend = recommend
        self._uow_factory = uow_factory
        self._metrics = metrics

    def interrupted(self) -> Sequence[str]:
        return [_payload({"type": "error", "code": "generation_interrupted", "message": INTERRUPTED_MESSAGE})]

    def failure(self, error: Exception) -> str:
        return _failure_payload(error)

    async def take_over(self, claim: StreamClaim, events: Sequence[str]) -> Producer | None:
        if claim.request is None or not events:
            return None
        prepared = msgspec.json.decode(claim.request, type=PreparedSearch)
        parts: list[str] = []
        for data in events:
            if data == DONE:
                return None
            event = json.loads(data)
            if event.get("type") in ("done", "error"):
                return _nothing  # the answer was complete: only the end of the stream is missing
            if event.get("type") == "delta":
                parts.append(event["content"])
        save, encode = _save(self._uow_factory, self._metrics), _encoder(prepared)
        return self._recommend.producer(prepared, save, encode, streamed="".join(parts), position=claim.next_index)


class ChatSearchController(Controller):
    path = "/api"
    tags = ["ai-search"]

    @post(
        "/chat/search",
        status_code=200,
        summary="AI product search: understand the request and recommend real nearby products",
        description=(
            "Needs `Authorization: Bearer <user api_key>` and `ai_access_enabled`. With `stream: true` the answer "
            "is SSE: a `products` event (products and filters), `delta` events, a `done` event, then `[DONE]`; "
            "resume with `Last-Event-ID: <session_id>:<index>`, cancel with "
            "`POST /api/chat/search/{session_id}/cancel`."
        ),
        access=Access.USER,
    )
    async def search(
        self,
        request: Request[Any, Any, Any],
        caller: Caller,
        data: ChatSearchRequest,
        uow: FromDishka[UnitOfWork],
        recommend: FromDishka[RecommendProducts],
        sessions: FromDishka[StreamSessions],
        uow_factory: FromDishka[UnitOfWorkFactory],
        metrics: FromDishka[Metrics],
        last_event_id_header: Annotated[str | None, Parameter(header="Last-Event-ID", required=False)] = None,
        last_event_id: Annotated[str | None, Parameter(query="last_event_id", required=False)] = None,
    ) -> ChatSearchResponse | Stream:
        resume_from = last_event_id_header or last_event_id
        if resume_from:
            return await _resume(sessions, caller, data.session_id, resume_from)
        if not data.stream:
            command = SearchCommand(caller, data.query, data.session_id, data.user_id, data.limit)
            prepared = await recommend.prepare(uow, command)
            answer = await unless_disconnected(request, recommend.answer(uow, prepared))
            metrics.ai_search_request(answer.ai_generated)
            return _response(prepared, answer.response, answer.ai_generated)
        user = caller.user
        if user is None:
            raise Forbidden("AI search needs a user's API key")
        owner = caller.stream_owner
        stream = search_stream(data.session_id or new_session_id(f"user_{user.id}_"))
        # Claim the stream before the turn is recorded: a taken id (409) leaves the conversation as it
        # was, and a failure below frees the id. The owner may continue a finished stream (next turn).
        metadata = {"kind": SEARCH_KIND, "user_id": str(user.id)}
        async with sessions.reserve(stream, owner, metadata, continue_owned=True) as reservation:
            command = SearchCommand(caller, data.query, stream.session_id, data.user_id, data.limit)
            prepared = await recommend.prepare(uow, command)
            producer = recommend.producer(prepared, _save(uow_factory, metrics), _encoder(prepared))
            request = msgspec.json.encode(prepared).decode()
            sessions.start(reservation, producer, on_failure=_failure_payload, request=request)
        return sse_response(stream.session_id, await prime(sessions.follow(stream, owner)))

    @post(
        "/chat/search/{session_id:str}/cancel",
        status_code=200,
        summary="Cancel a streaming AI search answer (owner's key)",
        access=Access.USER,
    )
    async def cancel(self, caller: Caller, session_id: str, sessions: FromDishka[StreamSessions]) -> dict[str, Any]:
        await sessions.cancel(search_stream(session_id), caller.stream_owner)
        return {"session_id": session_id, "cancelled": True}

    @get(
        "/users/{user_id:int}/conversations",
        summary="A user's AI search conversations (the user's key or the admin key; 404 to anyone else)",
        access=Access.USER_OR_ADMIN,
    )
    async def list_conversations(
        self,
        caller: Caller,
        user_id: int,
        history: FromDishka[ConversationHistory],
        skip: Skip = 0,
        limit: Limit = 20,
    ) -> Response[list[ConversationOut]]:
        result = await history.conversations(caller, user_id, page(skip, limit))
        return listing(result, [conversation_out(c) for c in result.items])

    @get(
        "/conversations/{conversation_id:int}/messages",
        summary="Messages of a conversation (its user's key or the admin key; 404 to anyone else)",
        access=Access.USER_OR_ADMIN,
    )
    async def list_messages(
        self,
        caller: Caller,
        conversation_id: int,
        history: FromDishka[ConversationHistory],
        skip: Skip = 0,
        limit: Limit = 100,
    ) -> Response[list[MessageOut]]:
        result = await history.messages(caller, conversation_id, page(skip, limit))
        return listing(result, [message_out(m) for m in result.items])


def _response(prepared: PreparedSearch, text: str, ai_generated: bool) -> ChatSearchResponse:
    return ChatSearchResponse(
        session_id=prepared.conversation.session_id,
        response=text,
        products_found=len(prepared.products),
        conversation_id=prepared.conversation.id,
        products=[product_out(p) for p in prepared.products],
        filters=filters_out(prepared.filters),
        ai_generated=ai_generated,
        alternatives=[alternative_out(a) for a in prepared.alternatives],
    )


async def _nothing(_cancel: object) -> AsyncIterator[str]:
    return
    yield


def _failure_payload(_error: Exception) -> str:
    return _payload({"type": "error", "message": "The answer failed", "code": "stream_failed"})


def _save(uow_factory: UnitOfWorkFactory, metrics: Metrics) -> SaveAnswer:
    async def save(prepared: PreparedSearch, done: AnswerDone) -> None:
        metrics.ai_search_request(done.ai_generated)
        try:
            await save_answer_in_new_unit(uow_factory, prepared, done.response, done.ai_generated)
        except Exception:
            logger.exception("ai_search.save_answer_failed", conversation_id=prepared.conversation.id)

    return save


def _encoder(prepared: PreparedSearch) -> Callable[[StreamEvent], str]:
    return lambda event: _encode(prepared, event)


def _encode(prepared: PreparedSearch, event: StreamEvent) -> str:
    """A core stream event as the SSE payload of the wire format."""
    if isinstance(event, AnswerStarted):
        head = _response(event.prepared, "", False)
        return _payload(
            {
                "type": "products",
                "session_id": head.session_id,
                "conversation_id": head.conversation_id,
                "products_found": head.products_found,
                "products": head.products,
                "filters": head.filters,
                "alternatives": head.alternatives,
            }
        )
    if isinstance(event, AnswerDelta):
        return _payload({"type": "delta", "content": event.text})
    return _payload(
        {
            "type": "done",
            "response": event.response,
            "ai_generated": event.ai_generated,
            "products_found": len(prepared.products),
            "cancelled": event.cancelled,
        }
    )


async def _resume(
    sessions: StreamSessions,
    caller: Caller,
    body_session_id: str | None,
    last_event_id: str,
) -> Stream:
    session_id, index = parse_last_event_id(last_event_id)
    if body_session_id is not None and body_session_id != session_id:
        raise InvalidInput(
            f"Last-Event-ID names session {session_id!r} but the body names {body_session_id!r}",
            field="session_id",
        )
    stream = search_stream(session_id)
    return sse_response(session_id, await prime(sessions.resume(stream, caller.stream_owner, after=index)))
