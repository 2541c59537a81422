"""Repository and unit-of-work ports of the marketplace."""

from __future__ import annotations

from typing import Protocol

from core.domain.marketplace import (
    Conversation,
    ConversationMessage,
    MessageRole,
    NewProduct,
    NewSupplier,
    NewUser,
    Page,
    PageResult,
    Product,
    ProductChanges,
    ProductFilter,
    Supplier,
    SupplierChanges,
    User,
)


class SupplierRepository(Protocol):
    async def add(self, supplier: NewSupplier, api_key_hash: str) -> Supplier:
        """Raises ``Conflict(field="email")`` when the email is already registered."""

    async def get(self, supplier_id: int) -> Supplier | None: ...

    async def get_by_api_key_hash(self, api_key_hash: str) -> Supplier | None: ...

    async def set_api_key_hash(self, supplier_id: int, api_key_hash: str) -> None:
        """Replace the supplier's key: the old one stops matching at once."""

    async def update(self, supplier_id: int, changes: SupplierChanges) -> Supplier:
        """Raises ``NotFound`` for an unknown supplier. A new location or city is copied onto the
        supplier's products in the same transaction (search reads the copies)."""

    async def list(self, *, city: str | None, page: Page) -> PageResult[Supplier]: ...


class ProductRepository(Protocol):
    async def add(self, supplier_id: int, product: NewProduct) -> Product:
        """Raises ``Conflict(field="sku")`` when the SKU exists."""

    async def get(self, product_id: int) -> Product | None: ...

    async def update(self, product_id: int, changes: ProductChanges) -> Product:
        """Raises ``NotFound`` for an unknown product."""

    async def delete(self, product_id: int) -> bool:
        """``False`` when there was no such product."""

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        """Products matching ``criteria``, ordered by ``criteria.order``; ``distance_km`` set when
        ``criteria.near`` is given."""


class ProductCatalog(Protocol):
    """The public, read-only catalogue: listing and search outside any unit of work.

    Every call sees every write committed before it started (by any process)."""

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        """As ``ProductRepository.find``."""

    async def supplier_exists(self, supplier_id: int) -> bool: ...


class UserRepository(Protocol):
    async def add(self, user: NewUser, api_key_hash: str) -> User:
        """Raises ``Conflict(field="email")`` when the email is already registered."""

    async def get(self, user_id: int) -> User | None: ...

    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None: ...

    async def set_api_key_hash(self, user_id: int, api_key_hash: str) -> None:
        """Replace the user's key: the old one stops matching at once."""

    async def set_ai_access(self, user_id: int, enabled: bool) -> User:
        """Raises ``NotFound`` for an unknown user."""


class ConversationRepository(Protocol):
    async def get_by_session(self, session_id: str) -> Conversation | None: ...

    async def get(self, conversation_id: int) -> Conversation | None: ...

    async def create(self, user_id: int, session_id: str) -> Conversation:
        """Raises ``Conflict(field="session_id")`` when the session id is taken."""

    async def set_last_filters(self, conversation_id: int, filters_json: str) -> None: ...

    async def add_message(
        self, conversation_id: int, role: MessageRole, content: str, details: str | None = None
    ) -> ConversationMessage: ...

    async def list_for_user(self, user_id: int, page: Page) -> PageResult[Conversation]: ...

    async def list_messages(self, conversation_id: int, page: Page) -> PageResult[ConversationMessage]:
        """Oldest first."""

    async def recent_messages(self, conversation_id: int, limit: int) -> list[ConversationMessage]:
        """The newest ``limit`` messages, returned oldest first."""


class UnitOfWork(Protocol):
    """One transaction over the repositories. Use cases call ``commit`` explicitly; anything not
    committed is rolled back when the unit of work ends."""

    suppliers: SupplierRepository
    products: ProductRepository
    users: UserRepository
    conversations: ConversationRepository

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...
