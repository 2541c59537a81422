"""AI product search: understand the request, retrieve real products, answer from those products only
(the deterministic composer, or a capable model whose sentences pass the grounding check), stream the
answer, and remember the conversation.

The plain and the streamed answer share one implementation: ``answer_events`` (deltas, the answer
saved, then ``AnswerDone``); ``answer`` collects it, ``producer`` turns it into stream payloads.
Nothing streamed is withdrawn: the deltas always concatenate to ``AnswerDone.response``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from core.domain.caller import Caller
from core.domain.errors import BadRequest, Forbidden, NotFound
from core.domain.generation import (
    ChatMessage,
    GenerationFinished,
    GenerationRequest,
    SamplingParams,
    TokenGenerated,
)
from core.domain.marketplace import Conversation, GeoPoint, Product, User
from core.domain.streams import new_session_id
from core.inference.racing import Cancelled, until_cancelled
from core.ports.language_model import LanguageModel
from core.ports.marketplace import UnitOfWork
from core.ports.transactions import UnitOfWorkFactory
from core.query import ParsedQuery, merge_with_previous, parse_query
from core.query.model import Intent, Sort
from core.recommendation.answer import AnswerContext, compose_answer, text_chunks
from core.recommendation.grounding import GroundedSentences
from core.recommendation.prompt import build_messages, system_prompt
from core.recommendation.retrieval import Alternative, Criteria, MatchTier, find_candidates
from core.use_cases.complete_chat import continued_seed

HISTORY_MESSAGES = 20

AnswerMode = Literal["auto", "template", "model"]
"""``AI_ANSWER_MODE``: who writes the answer text. ``template``: always the composer; ``model``: the model
(its sentences checked, the composer when none pass); ``auto``: the model only where it is capable."""
_INCAPABLE_MODELS = ("smollm2-135m",)


def model_is_capable(model_repo_id: str | None, remote_engine: bool) -> bool:
    """The rule of ``auto``: a remote engine (``LLM_BASE_URL``) or a ``MODEL_REPO_ID`` model writes; the
    embedded SmolLM2-135M (no ``MODEL_REPO_ID``, or that model named explicitly) cannot write a grounded
    recommendation, so the composer answers."""
    if remote_engine:
        return True
    return model_repo_id is not None and not any(name in model_repo_id.lower() for name in _INCAPABLE_MODELS)


@dataclass(frozen=True, slots=True)
class RecommendationSettings:
    max_answer_tokens: int = 192
    temperature: float = 0.3
    frequency_penalty: float = 0.4  # keeps a small model out of repetition loops
    max_query_chars: int = 1000
    default_limit: int = 5
    max_limit: int = 10
    answer_mode: AnswerMode = "auto"
    model_is_capable: bool = False
    """Whether the configured model may write in ``auto`` (see ``model_is_capable``)."""

    @property
    def model_writes(self) -> bool:
        return self.answer_mode == "model" or (self.answer_mode == "auto" and self.model_is_capable)


@dataclass(frozen=True, slots=True)
class SearchCommand:
    caller: Caller
    query: str
    session_id: str | None = None
    user_id: int | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class LocationFilter:
    name: str
    latitude: float
    longitude: float
    source: Literal["query", "profile"]


@dataclass(frozen=True, slots=True)
class UnderstoodFilters:
    category: str | None
    min_price: int | None
    max_price: int | None
    location: LocationFilter | None
    keywords: tuple[str, ...]
    language: Literal["id", "en"]
    prefer_cheaper: bool = False
    follow_up: bool = False
    brands: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    sort: Sort = "nearest"
    intent: Intent = "recommend"


@dataclass(frozen=True, slots=True)
class PreparedSearch:
    user: User
    conversation: Conversation
    query: str
    parsed: ParsedQuery
    filters: UnderstoodFilters
    products: list[Product]
    tier: MatchTier
    history: tuple[ChatMessage, ...] = field(default_factory=tuple)
    alternatives: list[Alternative] = field(default_factory=list)
    """Closest misses when nothing meets every filter (or a compared brand has no fit)."""


@dataclass(frozen=True, slots=True)
class SearchAnswer:
    prepared: PreparedSearch
    response: str
    ai_generated: bool


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    text: str
    ai_generated: bool = False


@dataclass(frozen=True, slots=True)
class AnswerDone:
    response: str
    ai_generated: bool
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class AnswerStarted:
    """The first stream event: what was understood and found, before any text."""

    prepared: PreparedSearch


AnswerEvent = AnswerDelta | AnswerDone
StreamEvent = AnswerStarted | AnswerDelta | AnswerDone
SaveAnswer = Callable[[PreparedSearch, AnswerDone], Awaitable[None]]


class _Memory(msgspec.Struct):
    """What a conversation remembers between turns (``conversations.last_filters``)."""

    parsed: ParsedQuery
    cheapest_shown: int | None = None


class RecommendProducts:
    def __init__(self, model: LanguageModel, settings: RecommendationSettings | None = None) -> None:
        self._model = model
        self._settings = settings or RecommendationSettings()

    async def prepare(self, uow: UnitOfWork, command: SearchCommand) -> PreparedSearch:
        """Authorise, understand, retrieve and record the user's turn (committed)."""
        query = command.query.strip()
        if not query:
            raise BadRequest("query must not be empty", field="query")
        if len(query) > self._settings.max_query_chars:
            raise BadRequest(f"query is longer than {self._settings.max_query_chars} characters", field="query")
        limit = command.limit or self._settings.default_limit
        if not 1 <= limit <= self._settings.max_limit:
            raise BadRequest(f"limit must be between 1 and {self._settings.max_limit}", field="limit")
        user = await self._authorise(uow, command)
        conversation, memory = await self._conversation(uow, user, command.session_id)

        parsed = parse_query(query)
        if memory is not None:
            parsed = merge_with_previous(parsed, memory.parsed, cheapest_shown=memory.cheapest_shown)
        filters = _filters(parsed, user)
        origin = GeoPoint(filters.location.latitude, filters.location.longitude) if filters.location else None
        criteria = Criteria(
            filters.category,
            filters.min_price,
            filters.max_price,
            filters.keywords,
            origin,
            filters.prefer_cheaper,
            brands=filters.brands,
            exclude_brands=filters.exclude_brands,
            sort=filters.sort,
            intent=filters.intent,
            place=parsed.location,
            language=filters.language,
        )
        candidates = await find_candidates(uow.products, criteria, limit)

        history = tuple(
            ChatMessage(m.role, m.content)
            for m in await uow.conversations.recent_messages(conversation.id, HISTORY_MESSAGES)
        )
        cheapest = min((p.price for p in candidates.products), default=None)
        await uow.conversations.add_message(conversation.id, "user", query, None)
        await uow.conversations.set_last_filters(
            conversation.id, msgspec.json.encode(_Memory(parsed, cheapest)).decode()
        )
        await uow.commit()
        return PreparedSearch(
            user,
            conversation,
            query,
            parsed,
            filters,
            candidates.products,
            candidates.tier,
            history,
            candidates.alternatives,
        )

    async def answer(self, uow: UnitOfWork, prepared: PreparedSearch) -> SearchAnswer:
        """The whole answer, saved in ``uow`` (the same events a stream carries, collected)."""

        async def save(_prepared: PreparedSearch, done: AnswerDone) -> None:
            await save_answer(uow, prepared, done.response, done.ai_generated)
            await uow.commit()

        done = AnswerDone("", False)
        async with contextlib.aclosing(self.answer_events(prepared, save)) as events:  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, AnswerDone):
                    done = event
        return SearchAnswer(prepared, done.response, done.ai_generated)

    def producer(
        self,
        prepared: PreparedSearch,
        save: SaveAnswer,
        encode: Callable[[StreamEvent], str],
        *,
        streamed: str | None = None,
        position: int = 0,
    ) -> Callable[[asyncio.Event], AsyncIterator[str]]:
        """The stream producer: ``AnswerStarted``, the deltas, then (after ``save``) ``AnswerDone``, each
        turned into a payload by ``encode`` (the wire format is the caller's).

        A takeover (the process that streamed the answer's start died) passes the answer text
        ``streamed`` so far and the stream ``position``: the stream goes on after that text."""

        async def produce(cancel: asyncio.Event) -> AsyncIterator[str]:
            if streamed is None:
                yield encode(AnswerStarted(prepared))
            answer = self.answer_events(prepared, save, cancel, streamed=streamed or "", position=position)
            async with contextlib.aclosing(answer) as events:  # type: ignore[type-var]
                async for event in events:
                    yield encode(event)

        return produce

    async def answer_events(
        self,
        prepared: PreparedSearch,
        save: SaveAnswer,
        cancel: asyncio.Event | None = None,
        *,
        streamed: str = "",
        position: int = 0,
    ) -> AsyncIterator[AnswerEvent]:
        """Deltas, then the answer is saved, then ``AnswerDone`` (whose response is the deltas joined).
        When ``cancel`` fires, the answer is what was streamed so far, marked ``cancelled``."""
        parts: list[str] = [streamed] if streamed else []
        ai_generated = False
        done: AnswerDone | None = None
        try:
            source = self.stream_answer(prepared, streamed=streamed, position=position)
            events = until_cancelled(source, cancel) if cancel is not None else source
            async for event in events:
                if isinstance(event, AnswerDelta):
                    parts.append(event.text)
                    ai_generated = event.ai_generated
                    yield event
                else:
                    done = event
        except Cancelled:
            done = AnswerDone("".join(parts), ai_generated and bool(parts), cancelled=True)
        assert done is not None
        await save(prepared, done)
        yield done

    async def stream_answer(
        self, prepared: PreparedSearch, *, streamed: str = "", position: int = 0
    ) -> AsyncIterator[AnswerEvent]:
        """The answer text as deltas, then ``AnswerDone``. Where the model writes, its sentences are
        streamed as they pass the grounding check (``ai_generated``); if none does (the model failed,
        named nothing listed, looped), the composer's text is streamed instead. Deltas are never taken
        back: ``AnswerDone.response`` is exactly their concatenation.

        ``streamed``: the start of the answer, already streamed by a process that died (a takeover at
        event ``position``). The composer's answer goes on where it was cut; the model goes on after the
        streamed text (prefilled), sampling with a seed derived from the position."""
        context = answer_context(prepared)
        composed = compose_answer(context)
        if streamed and composed.startswith(streamed):
            for chunk in text_chunks(composed[len(streamed) :]):
                yield AnswerDelta(chunk, False)
            yield AnswerDone(composed, False)
            return
        if self._settings.model_writes:
            shown: list[str] = [streamed] if streamed else []
            try:
                async for piece in self._grounded_model_text(prepared, context, streamed, position):
                    shown.append(piece)
                    yield AnswerDelta(piece, True)
            except Exception:  # the model failed: keep what was shown, else the composer answers
                pass
            if shown:
                yield AnswerDone("".join(shown), True)
                return
        for chunk in text_chunks(composed):
            yield AnswerDelta(chunk, False)
        yield AnswerDone(composed, False)

    async def _grounded_model_text(
        self, prepared: PreparedSearch, context: AnswerContext, streamed: str = "", position: int = 0
    ) -> AsyncIterator[str]:
        await self._model.start()
        system = system_prompt(
            prepared.products,
            prepared.filters.language,
            relaxed=prepared.tier != "all_keywords",
            alternatives=prepared.alternatives,
            intent=prepared.filters.intent,
        )
        messages = await self._fit_history(system, prepared)
        request = GenerationRequest(
            messages,
            SamplingParams(
                max_tokens=self._settings.max_answer_tokens,
                temperature=self._settings.temperature,
                frequency_penalty=self._settings.frequency_penalty,
                seed=continued_seed(0, position) if streamed else 0,
            ),
            continuation=streamed,
        )
        check = GroundedSentences(context)
        async with contextlib.aclosing(self._model.generate(request)) as events:  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, TokenGenerated) and event.text:
                    for piece in check.feed(event.text):
                        yield piece
                    if check.looping:
                        break
                elif isinstance(event, GenerationFinished):
                    break
        for piece in check.finish():
            yield piece

    async def _fit_history(self, system: str, prepared: PreparedSearch) -> tuple[ChatMessage, ...]:
        """Keep the newest prior turns that fit the context next to the answer's token budget."""
        budget = self._model.info().context_length - self._settings.max_answer_tokens
        history = list(prepared.history)
        while True:
            messages = build_messages(system, history, prepared.query)
            if not history or await self._model.count_prompt_tokens(messages) <= budget:
                return messages
            history = history[2:] if len(history) > 1 else []

    async def _authorise(self, uow: UnitOfWork, command: SearchCommand) -> User:
        user = command.caller.user
        if user is None:
            raise Forbidden("AI search needs a user's API key")
        if command.user_id is not None and command.user_id != user.id:
            # Another user's account is private: the same answer whether or not it exists.
            raise NotFound(f"User {command.user_id} does not exist", field="user_id")
        if not user.ai_access_enabled:
            raise Forbidden("AI access is not enabled for this user (a paid feature)", field="ai_access_enabled")
        return user

    async def _conversation(
        self, uow: UnitOfWork, user: User, session_id: str | None
    ) -> tuple[Conversation, _Memory | None]:
        if session_id is not None:
            existing = await uow.conversations.get_by_session(session_id)
            if existing is not None:
                if existing.user_id != user.id:
                    # Another user's conversation: not found, as if it did not exist (its id stays taken).
                    raise NotFound(f"No conversation for session {session_id!r}", field="session_id")
                memory = None
                if existing.last_filters:
                    with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                        memory = msgspec.json.decode(existing.last_filters, type=_Memory)
                return existing, memory
        new_id = session_id or new_session_id(f"user_{user.id}_")
        return await uow.conversations.create(user.id, new_id), None


async def save_answer(uow: UnitOfWork, prepared: PreparedSearch, response: str, ai_generated: bool) -> None:
    details = msgspec.json.encode(
        {
            "ai_generated": ai_generated,
            "product_ids": [p.id for p in prepared.products],
            "alternative_ids": [a.product.id for a in prepared.alternatives],
            "filters": prepared.filters,
        }
    ).decode()
    await uow.conversations.add_message(prepared.conversation.id, "assistant", response, details)


async def save_answer_in_new_unit(
    uow_factory: UnitOfWorkFactory, prepared: PreparedSearch, response: str, ai_generated: bool
) -> None:
    """For streamed answers, which finish after the request's own unit of work has ended."""
    async with uow_factory() as uow:
        await save_answer(uow, prepared, response, ai_generated)
        await uow.commit()


def answer_context(prepared: PreparedSearch) -> AnswerContext:
    filters = prepared.filters
    return AnswerContext(
        language=filters.language,
        products=prepared.products,
        alternatives=prepared.alternatives,
        intent=filters.intent,
        sort=filters.sort,
        prefer_cheaper=filters.prefer_cheaper,
        category=filters.category,
        keywords=filters.keywords,
        brands=filters.brands,
        min_price=filters.min_price,
        max_price=filters.max_price,
        place=prepared.parsed.location,
        location_name=filters.location.name if filters.location else None,
        tier=prepared.tier,
    )


def _filters(parsed: ParsedQuery, user: User) -> UnderstoodFilters:
    location: LocationFilter | None = None
    if parsed.location is not None:
        place = parsed.location
        location = LocationFilter(place.name, place.latitude, place.longitude, "query")
    elif user.location is not None:
        location = LocationFilter(user.city or "profile", user.location.latitude, user.location.longitude, "profile")
    return UnderstoodFilters(
        category=parsed.category,
        min_price=parsed.min_price,
        max_price=parsed.max_price,
        location=location,
        keywords=tuple(parsed.keywords),
        language=parsed.language,
        prefer_cheaper=parsed.prefer_cheaper,
        follow_up=parsed.is_follow_up,
        brands=parsed.brands,
        exclude_brands=parsed.exclude_brands,
        sort=parsed.effective_sort,
        intent=parsed.effective_intent,
    )
