"""Reading a user's saved AI search conversations (the owner's key, or the admin key)."""

from __future__ import annotations

from core.domain.errors import Forbidden, NotFound
from core.domain.marketplace import Conversation, ConversationMessage, Page, PageResult
from core.ports.marketplace import UnitOfWork
from core.use_cases.authenticate import Authenticate


class ConversationHistory:
    def __init__(self, admin_api_key: str | None) -> None:
        self._admin_api_key = admin_api_key

    async def conversations(
        self, uow: UnitOfWork, api_key: str | None, user_id: int, page: Page
    ) -> PageResult[Conversation]:
        await self._authorise(uow, api_key, user_id)
        return await uow.conversations.list_for_user(user_id, page)

    async def messages(
        self, uow: UnitOfWork, api_key: str | None, conversation_id: int, page: Page
    ) -> PageResult[ConversationMessage]:
        conversation = await uow.conversations.get(conversation_id)
        if conversation is None:
            # Authenticate first so unknown ids do not reveal anything to strangers.
            await self._authorise(uow, api_key, None)
            raise NotFound(f"Conversation {conversation_id} does not exist", field="conversation_id")
        await self._authorise(uow, api_key, conversation.user_id)
        return await uow.conversations.list_messages(conversation_id, page)

    async def _authorise(self, uow: UnitOfWork, api_key: str | None, owner_id: int | None) -> None:
        caller = await Authenticate(uow, self._admin_api_key)(api_key)
        if caller.admin:
            if owner_id is not None and await uow.users.get(owner_id) is None:
                raise NotFound(f"User {owner_id} does not exist", field="user_id")
            return
        if caller.user is None:
            raise Forbidden("Conversations are read with the user's own API key")
        if owner_id is not None and caller.user.id != owner_id:
            if await uow.users.get(owner_id) is None:
                raise NotFound(f"User {owner_id} does not exist", field="user_id")
            raise Forbidden("These conversations belong to another user")
