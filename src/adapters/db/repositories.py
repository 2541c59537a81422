"""SQL implementations of the marketplace repositories and unit of work."""

from __future__ import annotations

import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db import mappers
from adapters.db.catalog import run_on_session
from adapters.db.product_search import ProductSearch, SearchTuning, escape_like
from adapters.db.tables import ConversationRow, MessageRow, ProductRow, SupplierRow, UserRow
from core.domain.errors import Conflict, NotFound
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
from core.search_text import product_search_text


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def _add_or_conflict(session: AsyncSession, row: object, field: str, message: str) -> None:
    """Insert inside a savepoint so a unique violation leaves the transaction usable and writes nothing.

    The row is added inside the savepoint: ``begin_nested`` flushes pending rows before it starts.
    """
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as error:
        raise Conflict(message, field=field) from error


class SqlSupplierRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, supplier: NewSupplier, api_key_hash: str) -> Supplier:
        email = supplier.email.strip().lower()
        if await self._session.scalar(select(SupplierRow.id).where(SupplierRow.email == email)) is not None:
            raise Conflict(f"Email {email} is already registered", field="email")
        row = SupplierRow(
            name=supplier.name,
            business_name=supplier.business_name,
            email=email,
            phone=supplier.phone,
            address=supplier.address,
            latitude=supplier.location.latitude,
            longitude=supplier.location.longitude,
            city=supplier.city,
            province=supplier.province,
            is_active=True,
            api_key_hash=api_key_hash,
        )
        await _add_or_conflict(self._session, row, "email", f"Email {email} is already registered")
        return mappers.supplier(row)

    async def get(self, supplier_id: int) -> Supplier | None:
        row = await self._session.get(SupplierRow, supplier_id)
        return mappers.supplier(row) if row else None

    async def get_by_api_key_hash(self, api_key_hash: str) -> Supplier | None:
        row = await self._session.scalar(select(SupplierRow).where(SupplierRow.api_key_hash == api_key_hash))
        return mappers.supplier(row) if row else None

    async def set_api_key_hash(self, supplier_id: int, api_key_hash: str) -> None:
        await self._session.execute(
            update(SupplierRow)
            .where(SupplierRow.id == supplier_id)
            .values(api_key_hash=api_key_hash, updated_at=_now())
            .execution_options(synchronize_session=False)
        )

    async def update(self, supplier_id: int, changes: SupplierChanges) -> Supplier:
        row = await self._session.get(SupplierRow, supplier_id)
        if row is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        for name in ("name", "business_name", "city"):
            value = getattr(changes, name)
            if value is not None:
                setattr(row, name, value)
        for name in ("phone", "address", "province"):  # "" clears these
            value = getattr(changes, name)
            if value is not None:
                setattr(row, name, value or None)
        if changes.location is not None:
            row.latitude = changes.location.latitude
            row.longitude = changes.location.longitude
        row.updated_at = _now()
        if changes.location is not None or changes.city is not None:
            # Search reads the products' copies of the place: change them in the same transaction.
            await self._session.execute(
                update(ProductRow)
                .where(ProductRow.supplier_id == supplier_id)
                .values(latitude=row.latitude, longitude=row.longitude, city=row.city, updated_at=row.updated_at)
                .execution_options(synchronize_session=False)
            )
        await self._session.flush()
        return mappers.supplier(row)

    async def list(self, *, city: str | None, page: Page) -> PageResult[Supplier]:
        conditions = []
        if city:
            lowered = city.strip().lower()
            conditions.append(
                func.lower(SupplierRow.city).in_([lowered])
                | func.lower(SupplierRow.city).like(escape_like(lowered) + " %", escape="\\")
            )
        total = await self._session.scalar(select(func.count(SupplierRow.id)).where(*conditions))
        rows = (
            await self._session.scalars(
                select(SupplierRow).where(*conditions).order_by(SupplierRow.id).offset(page.skip).limit(page.limit)
            )
        ).all()
        return PageResult([mappers.supplier(r) for r in rows], int(total or 0))


class SqlProductRepository:
    def __init__(self, session: AsyncSession, search_tuning: SearchTuning | None = None) -> None:
        self._session = session
        self._search = ProductSearch(session.get_bind().dialect.name == "postgresql", search_tuning)

    async def add(self, supplier_id: int, product: NewProduct) -> Product:
        supplier = await self._session.get(SupplierRow, supplier_id)
        if supplier is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        if (
            product.sku is not None
            and await self._session.scalar(select(ProductRow.id).where(ProductRow.sku == product.sku)) is not None
        ):
            raise Conflict(f"SKU {product.sku} already exists", field="sku")
        category = product.category.strip().lower()
        row = ProductRow(
            supplier_id=supplier_id,
            name=product.name,
            description=product.description,
            price=product.price,
            stock_quantity=product.stock_quantity,
            category=category,
            tags=product.tags,
            sku=product.sku,
            is_available=product.is_available,
            latitude=supplier.latitude,
            longitude=supplier.longitude,
            city=supplier.city,
            search_text=product_search_text(product.name, product.description, product.tags, category),
        )
        await _add_or_conflict(self._session, row, "sku", f"SKU {product.sku} already exists")
        return mappers.product(row, supplier.business_name)

    async def get(self, product_id: int) -> Product | None:
        row = await self._session.get(ProductRow, product_id)
        return mappers.product(row, row.supplier.business_name) if row else None

    async def update(self, product_id: int, changes: ProductChanges) -> Product:
        row = await self._session.get(ProductRow, product_id)
        if row is None:
            raise NotFound(f"Product {product_id} does not exist", field="product_id")
        for name in ("name", "description", "price", "stock_quantity", "tags", "is_available"):
            value = getattr(changes, name)
            if value is not None:
                setattr(row, name, value)
        if changes.category is not None:
            row.category = changes.category.strip().lower()
        row.search_text = product_search_text(row.name, row.description, row.tags, row.category)
        row.updated_at = _now()
        await self._session.flush()
        return mappers.product(row, row.supplier.business_name)

    async def delete(self, product_id: int) -> bool:
        result = await self._session.execute(
            delete(ProductRow).where(ProductRow.id == product_id).execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        return await run_on_session(self._session, self._search.find(criteria))


class SqlUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user: NewUser, api_key_hash: str) -> User:
        email = user.email.strip().lower()
        if await self._session.scalar(select(UserRow.id).where(UserRow.email == email)) is not None:
            raise Conflict(f"Email {email} is already registered", field="email")
        row = UserRow(
            name=user.name,
            email=email,
            phone=user.phone,
            latitude=user.location.latitude if user.location else None,
            longitude=user.location.longitude if user.location else None,
            city=user.city,
            province=user.province,
            ai_access_enabled=user.ai_access_enabled,
            api_key_hash=api_key_hash,
        )
        await _add_or_conflict(self._session, row, "email", f"Email {email} is already registered")
        return mappers.user(row)

    async def get(self, user_id: int) -> User | None:
        row = await self._session.get(UserRow, user_id)
        return mappers.user(row) if row else None

    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None:
        row = await self._session.scalar(select(UserRow).where(UserRow.api_key_hash == api_key_hash))
        return mappers.user(row) if row else None

    async def set_api_key_hash(self, user_id: int, api_key_hash: str) -> None:
        await self._session.execute(
            update(UserRow)
            .where(UserRow.id == user_id)
            .values(api_key_hash=api_key_hash, updated_at=_now())
            .execution_options(synchronize_session=False)
        )

    async def set_ai_access(self, user_id: int, enabled: bool) -> User:
        row = await self._session.get(UserRow, user_id)
        if row is None:
            raise NotFound(f"User {user_id} does not exist", field="user_id")
        row.ai_access_enabled = enabled
        row.updated_at = _now()
        await self._session.flush()
        return mappers.user(row)


class SqlConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_by_session(self, session_id: str) -> Conversation | None:
        row = await self._session.scalar(select(ConversationRow).where(ConversationRow.session_id == session_id))
        return mappers.conversation(row) if row else None

    async def get(self, conversation_id: int) -> Conversation | None:
        row = await self._session.get(ConversationRow, conversation_id)
        return mappers.conversation(row) if row else None

    async def create(self, user_id: int, session_id: str) -> Conversation:
        row = ConversationRow(user_id=user_id, session_id=session_id)
        await _add_or_conflict(self._session, row, "session_id", f"Session {session_id} already exists")
        return mappers.conversation(row)

    async def set_last_filters(self, conversation_id: int, filters_json: str) -> None:
        row = await self._session.get(ConversationRow, conversation_id)
        if row is None:
            raise NotFound(f"Conversation {conversation_id} does not exist", field="conversation_id")
        row.last_filters = filters_json
        row.updated_at = _now()
        await self._session.flush()

    async def add_message(
        self, conversation_id: int, role: MessageRole, content: str, details: str | None = None
    ) -> ConversationMessage:
        row = MessageRow(conversation_id=conversation_id, role=role, content=content, details=details)
        self._session.add(row)
        await self._session.flush()
        return mappers.message(row)

    async def list_for_user(self, user_id: int, page: Page) -> PageResult[Conversation]:
        total = await self._session.scalar(
            select(func.count(ConversationRow.id)).where(ConversationRow.user_id == user_id)
        )
        rows = (
            await self._session.scalars(
                select(ConversationRow)
                .where(ConversationRow.user_id == user_id)
                .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
                .offset(page.skip)
                .limit(page.limit)
            )
        ).all()
        return PageResult([mappers.conversation(r) for r in rows], int(total or 0))

    async def list_messages(self, conversation_id: int, page: Page) -> PageResult[ConversationMessage]:
        total = await self._session.scalar(
            select(func.count(MessageRow.id)).where(MessageRow.conversation_id == conversation_id)
        )
        rows = (
            await self._session.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_id == conversation_id)
                .order_by(MessageRow.id)
                .offset(page.skip)
                .limit(page.limit)
            )
        ).all()
        return PageResult([mappers.message(r) for r in rows], int(total or 0))

    async def recent_messages(self, conversation_id: int, limit: int) -> list[ConversationMessage]:
        rows = (
            await self._session.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_id == conversation_id)
                .order_by(MessageRow.id.desc())
                .limit(limit)
            )
        ).all()
        return [mappers.message(r) for r in reversed(rows)]


class SqlUnitOfWork:
    """One AsyncSession, one transaction. ``commit`` is explicit; ``close`` rolls back the rest."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.suppliers = SqlSupplierRepository(session)
        self.products = SqlProductRepository(session)
        self.users = SqlUserRepository(session)
        self.conversations = SqlConversationRepository(session)

    async def commit(self) -> None:
        await self._session.commit()

    async def rollback(self) -> None:
        await self._session.rollback()
