"""Reading a user's saved AI search conversations: the owner's key, or the admin key.

Anyone else gets the same 404 as for an id that does not exist, so conversations cannot be probed.
"""

from __future__ import annotations

from core.domain.caller import Caller
from core.domain.errors import NotFound
from core.domain.marketplace import Conversation, ConversationMessage, Page, PageResult
from core.ports.marketplace import UnitOfWork
from core.use_cases import marketplace_rules as rules
from core.use_cases.get_user import visible_user


class ConversationHistory:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def conversations(self, caller: Caller, user_id: int, page: Page) -> PageResult[Conversation]:
        await visible_user(self._uow, caller, user_id)
        return await self._uow.conversations.list_for_user(user_id, page)

    async def messages(self, caller: Caller, conversation_id: int, page: Page) -> PageResult[ConversationMessage]:
        rules.existing_id(conversation_id, "Conversation", "conversation_id")
        conversation = await self._uow.conversations.get(conversation_id)
        if conversation is None or not (caller.is_admin or caller.is_user(conversation.user_id)):
            raise NotFound(f"Conversation {conversation_id} does not exist", field="conversation_id")
        return await self._uow.conversations.list_messages(conversation_id, page)
