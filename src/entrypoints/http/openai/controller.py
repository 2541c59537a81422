"""``/v1``: chat completions (plain and SSE, resumable, cancellable), models, cancel."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, ClassVar

import structlog
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Stream

from core.domain.caller import Caller
from core.domain.errors import InvalidInput, NotFound
from core.domain.streams import StreamNamespace, StreamOwner, StreamRef, new_session_id
from core.use_cases.authenticate import Access
from core.use_cases.complete_chat import CompleteChat
from core.use_cases.stream_sessions import StreamSessions
from entrypoints.http.auth import ACCESS
from entrypoints.http.disconnect import unless_disconnected
from entrypoints.http.openai.streaming import completion_producer, saved_request
from entrypoints.http.openai.translate import (
    ChunkWriter,
    check_session_id,
    completion_body,
    error_payload,
    to_command,
    to_messages,
)
from entrypoints.http.openai.wire import (
    CancelResult,
    ChatCompletion,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
    TokenizeRequest,
    TokenizeResponse,
)
from entrypoints.http.request_context import request_id
from entrypoints.http.sse import parse_last_event_id, prime, sse_response

logger = structlog.get_logger(__name__)

SERVER_START = int(time.time())
COMPLETION_KIND = "chat.completion"


def completion_stream(session_id: str) -> StreamRef:
    return StreamRef(StreamNamespace.COMPLETIONS, session_id)


class OpenAIController(Controller):
    path = "/v1"
    tags = ["openai"]
    opt: ClassVar[dict[str, Any]] = {ACCESS: Access.INFERENCE}

    @get("/models", summary="List the served models")
    async def list_models(self, chat: FromDishka[CompleteChat]) -> ModelList:
        return ModelList(data=[_card(m, chat) for m in await chat.served_models()])

    @get("/models/{model_id:path}", summary="Describe one served model")
    async def get_model(self, model_id: str, chat: FromDishka[CompleteChat]) -> ModelCard:
        model_id = model_id.lstrip("/")
        await chat.served_models()
        if not chat.accepts_model(model_id):
            raise NotFound(f"The model {model_id!r} does not exist", field="model", code="model_not_found")
        return _card(model_id, chat)

    @post("/cancel/{session_id:str}", status_code=200, summary="Cancel a running generation session")
    async def cancel(self, caller: Caller, session_id: str, sessions: FromDishka[StreamSessions]) -> CancelResult:
        await sessions.cancel(completion_stream(session_id), caller.stream_owner)
        return CancelResult(session_id=session_id, cancelled=True)

    @post(
        "/chat/completions",
        status_code=200,
        summary="Create a chat completion (OpenAI-compatible; SSE when stream is true)",
        description=(
            "Extensions: `session_id` names a streaming session; resume it with the header "
            "`Last-Event-ID: <session_id>:<index>` (or `?last_event_id=`), cancel it with "
            "`POST /v1/cancel/{session_id}`. `top_k` is accepted."
        ),
        response_description="A chat.completion object, or an SSE stream of chat.completion.chunk objects",
    )
    async def chat_completions(
        self,
        request: Request[Any, Any, Any],
        caller: Caller,
        data: ChatCompletionRequest,
        chat: FromDishka[CompleteChat],
        sessions: FromDishka[StreamSessions],
        last_event_id_header: Annotated[str | None, Parameter(header="Last-Event-ID", required=False)] = None,
        last_event_id: Annotated[str | None, Parameter(query="last_event_id", required=False)] = None,
    ) -> ChatCompletion | Stream:
        session_id = check_session_id(data.session_id)
        owner = caller.stream_owner
        resume_from = last_event_id_header or last_event_id
        if resume_from:
            return await resume_response(sessions, owner, session_id, resume_from)
        command = to_command(data, request_id=request_id(request) or uuid.uuid4().hex)
        if not data.stream:
            if data.stream_options is not None:
                raise InvalidInput("stream_options is only allowed when stream is true", field="stream_options")
            result = await unless_disconnected(request, chat.complete(await chat.prepare(command)))
            return completion_body(f"chatcmpl-{uuid.uuid4().hex}", result)
        include_usage = bool(data.stream_options and data.stream_options.include_usage)
        stream = completion_stream(session_id or new_session_id("chatcmpl-"))
        # Claim the id first: a taken one is 409 before any work; a failure below frees it again.
        metadata = {"kind": COMPLETION_KIND, "model": chat.served_model_ids()[0]}
        async with sessions.reserve(stream, owner, metadata) as reservation:
            prepared = await chat.prepare(command)
            writer = ChunkWriter(f"chatcmpl-{uuid.uuid4().hex}", prepared.model_id, include_usage=include_usage)
            events = await chat.stream(prepared)  # admission errors (429, 400) raise here, before the stream
            sessions.start(
                reservation,
                completion_producer(events, writer, prepared, include_usage),
                on_failure=error_payload,
                request=saved_request(prepared, writer, include_usage),
            )
        return sse_response(stream.session_id, await prime(sessions.follow(stream, owner)))


def _card(model_id: str, chat: CompleteChat) -> ModelCard:
    return ModelCard(id=model_id, created=SERVER_START, owned_by="marketplace-ai", max_model_len=chat.context_length())


class TokenizeController(Controller):
    """vLLM's ``POST /tokenize`` (chat form), so that a front in ``--role api`` counts prompts exactly."""

    path = "/tokenize"
    tags = ["openai"]
    opt: ClassVar[dict[str, Any]] = {ACCESS: Access.INFERENCE}

    @post(status_code=200, summary="Count a chat prompt's tokens after the chat template")
    async def tokenize(self, data: TokenizeRequest, chat: FromDishka[CompleteChat]) -> TokenizeResponse:
        if not data.add_generation_prompt:
            raise InvalidInput("only add_generation_prompt: true is supported", field="add_generation_prompt")
        count = await chat.tokenize(to_messages(data.messages), data.model)
        return TokenizeResponse(count=count, max_model_len=chat.context_length())


async def resume_response(
    sessions: StreamSessions, owner: StreamOwner, body_session_id: str | None, last_event_id: str
) -> Stream:
    """The rest of a stream after ``Last-Event-ID`` (chat and legacy completions share the namespace)."""
    session_id, index = parse_last_event_id(last_event_id)
    if body_session_id is not None and body_session_id != session_id:
        raise InvalidInput(
            f"Last-Event-ID names session {session_id!r} but the body names {body_session_id!r}",
            field="session_id",
        )
    return sse_response(session_id, await prime(sessions.resume(completion_stream(session_id), owner, after=index)))
