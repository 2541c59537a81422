"""Hand-written in-memory fakes of the marketplace ports (repositories and unit of work).

They keep the ports' contracts: duplicate emails and SKUs raise ``Conflict`` naming the field, and
``FakeProductRepository.find`` implements the search semantics of ``ProductFilter`` (every word in any
order, city parts, price bounds, haversine radius, nearest first / best match first / newest first).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from itertools import count

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
from core.geo.distance import haversine_km
from core.search_text import normalise, query_terms


def _page(items: list, page: Page) -> PageResult:  # type: ignore[type-arg]
    return PageResult(items[page.skip : page.skip + page.limit], len(items))


class FakeClock:
    """Strictly increasing timestamps, so "newest first" is deterministic."""

    def __init__(self) -> None:
        self._now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


def city_matches(wanted: str, city: str) -> bool:
    """ "Jakarta" matches "Jakarta" and "Jakarta Selatan" (a city and its districts), not "Bandung"."""
    want, have = wanted.strip().lower(), city.strip().lower()
    return have == want or have.startswith(want + " ")


class FakeSupplierRepository:
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._ids = count(1)
        self.items: dict[int, Supplier] = {}
        self.key_hashes: dict[str, int] = {}
        self.on_update: list = []  # type: ignore[type-arg]

    async def add(self, supplier: NewSupplier, api_key_hash: str) -> Supplier:
        if any(s.email.lower() == supplier.email.lower() for s in self.items.values()):
            raise Conflict(f"Email {supplier.email} is already registered", field="email")
        created = Supplier(
            id=next(self._ids),
            name=supplier.name,
            business_name=supplier.business_name,
            email=supplier.email,
            phone=supplier.phone,
            address=supplier.address,
            location=supplier.location,
            city=supplier.city,
            province=supplier.province,
            is_active=True,
            registration_date=self._clock(),
        )
        self.items[created.id] = created
        self.key_hashes[api_key_hash] = created.id
        return created

    async def get(self, supplier_id: int) -> Supplier | None:
        return self.items.get(supplier_id)

    async def get_by_api_key_hash(self, api_key_hash: str) -> Supplier | None:
        supplier_id = self.key_hashes.get(api_key_hash)
        return None if supplier_id is None else self.items.get(supplier_id)

    async def set_api_key_hash(self, supplier_id: int, api_key_hash: str) -> None:
        self.key_hashes = {h: i for h, i in self.key_hashes.items() if i != supplier_id}
        self.key_hashes[api_key_hash] = supplier_id

    async def update(self, supplier_id: int, changes: SupplierChanges) -> Supplier:
        supplier = self.items.get(supplier_id)
        if supplier is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        values = {
            name: getattr(changes, name) or None
            for name in SupplierChanges.__slots__  # type: ignore[attr-defined]
            if getattr(changes, name) is not None
        }
        updated = dataclasses.replace(supplier, **values)
        self.items[supplier_id] = updated
        for observer in self.on_update:
            observer(updated)
        return updated

    async def list(self, *, city: str | None, page: Page) -> PageResult[Supplier]:
        found = [
            s for s in sorted(self.items.values(), key=lambda s: s.id) if city is None or city_matches(city, s.city)
        ]
        return _page(found, page)


class FakeProductRepository:
    def __init__(self, suppliers: FakeSupplierRepository, clock: FakeClock) -> None:
        self._suppliers = suppliers
        self._clock = clock
        self._ids = count(1)
        self.items: dict[int, Product] = {}
        suppliers.on_update.append(self._follow_supplier)

    def _follow_supplier(self, supplier: Supplier) -> None:
        for product in list(self.items.values()):
            if product.supplier_id == supplier.id:
                self.items[product.id] = dataclasses.replace(product, city=supplier.city, location=supplier.location)

    async def add(self, supplier_id: int, product: NewProduct) -> Product:
        supplier = self._suppliers.items.get(supplier_id)
        if supplier is None:
            raise NotFound(f"Supplier {supplier_id} does not exist", field="supplier_id")
        if product.sku is not None and any(p.sku == product.sku for p in self.items.values()):
            raise Conflict(f"SKU {product.sku} already exists", field="sku")
        created = Product(
            id=next(self._ids),
            supplier_id=supplier_id,
            supplier_name=supplier.business_name,
            name=product.name,
            description=product.description,
            price=product.price,
            stock_quantity=product.stock_quantity,
            category=product.category,
            tags=product.tags,
            sku=product.sku,
            is_available=product.is_available,
            created_at=self._clock(),
            city=supplier.city,
            location=supplier.location,
        )
        self.items[created.id] = created
        return created

    async def get(self, product_id: int) -> Product | None:
        return self.items.get(product_id)

    async def update(self, product_id: int, changes: ProductChanges) -> Product:
        product = self.items.get(product_id)
        if product is None:
            raise NotFound(f"Product {product_id} does not exist", field="product_id")
        values = {
            name: getattr(changes, name)
            for name in ProductChanges.__slots__  # type: ignore[attr-defined]
            if getattr(changes, name) is not None
        }
        updated = dataclasses.replace(product, **values)
        self.items[product_id] = updated
        return updated

    async def delete(self, product_id: int) -> bool:
        return self.items.pop(product_id, None) is not None

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        terms = query_terms(criteria.text)
        scored: list[tuple[float, Product]] = []
        for product in self.items.values():
            if not self._passes(product, criteria):
                continue
            score = _text_score(product, terms)
            if score is None:
                continue
            if criteria.near is not None:
                distance = haversine_km(criteria.near, product.location)
                if criteria.radius_km is not None and distance > criteria.radius_km:
                    continue
                product = dataclasses.replace(product, distance_km=distance)
            scored.append((score, product))
        order = criteria.order
        if order == "distance":
            scored.sort(key=lambda sp: (sp[1].distance_km, sp[1].id))
        elif order == "relevance":
            scored.sort(key=lambda sp: (-sp[0], -sp[1].created_at.timestamp(), -sp[1].id))
        else:
            scored.sort(key=lambda sp: (-sp[1].created_at.timestamp(), -sp[1].id))
        return _page([p for _score, p in scored], criteria.page)

    @staticmethod
    def _passes(product: Product, criteria: ProductFilter) -> bool:
        if criteria.supplier_id is not None and product.supplier_id != criteria.supplier_id:
            return False
        if criteria.category is not None and product.category != criteria.category.lower():
            return False
        if criteria.cities and not any(city_matches(c, product.city) for c in criteria.cities):
            return False
        if criteria.min_price is not None and product.price < criteria.min_price:
            return False
        if criteria.max_price is not None and product.price > criteria.max_price:
            return False
        if criteria.available_only and not product.is_available:
            return False
        return not (criteria.in_stock_only and product.stock_quantity <= 0)


def _text_score(product: Product, terms: list[str]) -> float | None:
    """``None`` unless every term starts a word of name, description, tags or category (the SQL
    adapters' full-text rule); name hits weigh most."""
    if not terms:
        return 0.0
    name = normalise(product.name).split()
    labels = normalise(f"{product.tags or ''} {product.category}").split()
    description = normalise(product.description).split()
    score = 0.0
    for term in terms:
        if any(word.startswith(term) for word in name):
            score += 3
        elif any(word.startswith(term) for word in labels):
            score += 2
        elif any(word.startswith(term) for word in description):
            score += 1
        else:
            return None
    return score


class FakeUserRepository:
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._ids = count(1)
        self.items: dict[int, User] = {}
        self.key_hashes: dict[str, int] = {}

    async def add(self, user: NewUser, api_key_hash: str) -> User:
        if any(u.email.lower() == user.email.lower() for u in self.items.values()):
            raise Conflict(f"Email {user.email} is already registered", field="email")
        created = User(
            id=next(self._ids),
            name=user.name,
            email=user.email,
            phone=user.phone,
            location=user.location,
            city=user.city,
            province=user.province,
            ai_access_enabled=user.ai_access_enabled,
            created_at=self._clock(),
        )
        self.items[created.id] = created
        self.key_hashes[api_key_hash] = created.id
        return created

    async def get(self, user_id: int) -> User | None:
        return self.items.get(user_id)

    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None:
        user_id = self.key_hashes.get(api_key_hash)
        return None if user_id is None else self.items.get(user_id)

    async def set_api_key_hash(self, user_id: int, api_key_hash: str) -> None:
        self.key_hashes = {h: i for h, i in self.key_hashes.items() if i != user_id}
        self.key_hashes[api_key_hash] = user_id

    async def set_ai_access(self, user_id: int, enabled: bool) -> User:
        user = self.items.get(user_id)
        if user is None:
            raise NotFound(f"User {user_id} does not exist", field="user_id")
        updated = dataclasses.replace(user, ai_access_enabled=enabled)
        self.items[user_id] = updated
        return updated


class FakeConversationRepository:
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._ids = count(1)
        self._message_ids = count(1)
        self.items: dict[int, Conversation] = {}
        self.messages: dict[int, list[ConversationMessage]] = {}

    async def get_by_session(self, session_id: str) -> Conversation | None:
        return next((c for c in self.items.values() if c.session_id == session_id), None)

    async def get(self, conversation_id: int) -> Conversation | None:
        return self.items.get(conversation_id)

    async def create(self, user_id: int, session_id: str) -> Conversation:
        if await self.get_by_session(session_id) is not None:
            raise Conflict(f"Session {session_id} already exists", field="session_id")
        now = self._clock()
        created = Conversation(
            id=next(self._ids), user_id=user_id, session_id=session_id, created_at=now, updated_at=now
        )
        self.items[created.id] = created
        self.messages[created.id] = []
        return created

    async def set_last_filters(self, conversation_id: int, filters_json: str) -> None:
        conversation = self.items[conversation_id]
        self.items[conversation_id] = dataclasses.replace(conversation, last_filters=filters_json)

    async def add_message(
        self, conversation_id: int, role: MessageRole, content: str, details: str | None = None
    ) -> ConversationMessage:
        now = self._clock()
        message = ConversationMessage(
            id=next(self._message_ids),
            conversation_id=conversation_id,
            role=role,
            content=content,
            created_at=now,
            details=details,
        )
        self.messages[conversation_id].append(message)
        self.items[conversation_id] = dataclasses.replace(self.items[conversation_id], updated_at=now)
        return message

    async def list_for_user(self, user_id: int, page: Page) -> PageResult[Conversation]:
        found = sorted((c for c in self.items.values() if c.user_id == user_id), key=lambda c: -c.id)
        return _page(found, page)

    async def list_messages(self, conversation_id: int, page: Page) -> PageResult[ConversationMessage]:
        return _page(self.messages.get(conversation_id, []), page)

    async def recent_messages(self, conversation_id: int, limit: int) -> list[ConversationMessage]:
        return self.messages.get(conversation_id, [])[-limit:] if limit > 0 else []


class FakeProductCatalog:
    """The read-only catalogue over a fake unit of work's repositories."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        return await self._uow.products.find(criteria)

    async def supplier_exists(self, supplier_id: int) -> bool:
        return await self._uow.suppliers.get(supplier_id) is not None


class FakeUnitOfWork:
    """Repositories in memory; ``committed`` tells whether a use case committed (``commits`` how often)."""

    def __init__(self) -> None:
        clock = FakeClock()
        self.suppliers = FakeSupplierRepository(clock)
        self.products = FakeProductRepository(self.suppliers, clock)
        self.users = FakeUserRepository(clock)
        self.conversations = FakeConversationRepository(clock)
        self.commits = 0
        self.rollbacks = 0

    @property
    def committed(self) -> bool:
        return self.commits > 0

    async def commit(self) -> None:
        self.commits += 1

    async def rollback(self) -> None:
        self.rollbacks += 1
