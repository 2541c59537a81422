"""Product search that stays fast at millions of rows.

Text: FTS5 (SQLite) or a tsvector GIN index (PostgreSQL), both over ``core.search_text`` normalised
text, every query word matched as a prefix. Proximity: PostgreSQL walks its GiST index on
``ll_to_earth`` nearest-first (earthdistance); SQLite grows a bounding box on the indexed coordinates
until the box's inscribed circle holds enough matches, which is exact. ``distance_km`` always comes
from ``core.geo.distance.haversine_km``.

Totals (``X-Total-Count``) are exact up to ``TOTAL_COUNT_CAP`` and capped beyond it, so that a common
word in a huge catalog does not cost a full count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.marketplace import GeoPoint, PageResult, Product, ProductFilter
from core.geo.distance import bounding_box, haversine_km
from core.search_text import query_terms

from adapters.db import mappers
from adapters.db.tables import ProductRow, SupplierRow

TOTAL_COUNT_CAP = 10_000
RARE_TEXT_LIMIT = 2_000  # SQLite: at most this many text matches are ranked by distance directly
BOX_RADII_KM = (2.0, 8.0, 30.0, 120.0, 500.0, 2_000.0, 8_000.0, 20_040.0)


def matches_terms(search_text: str, terms: Sequence[str]) -> bool:
    """The FTS rule in Python: every term is a prefix of some word."""
    words = search_text.split()
    return all(any(word.startswith(term) for word in words) for term in terms)


class ProductSearch:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        terms = query_terms(criteria.text)
        if criteria.near is not None:
            if self._postgres:
                return await self._postgres_nearest(criteria, terms)
            return await self._sqlite_nearest(criteria, terms)
        return await self._ranked(criteria, terms)

    # -- shared pieces ---------------------------------------------------------------------------

    def _filters(self, criteria: ProductFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if criteria.category:
            conditions.append(ProductRow.category == criteria.category.strip().lower())
        if criteria.min_price is not None:
            conditions.append(ProductRow.price >= criteria.min_price)
        if criteria.max_price is not None:
            conditions.append(ProductRow.price <= criteria.max_price)
        if criteria.available_only or criteria.in_stock_only:
            conditions.append(ProductRow.is_available.is_(True))
        if criteria.in_stock_only:
            conditions.append(ProductRow.stock_quantity > 0)
        if criteria.cities:
            city = func.lower(ProductRow.city)
            options = []
            for name in criteria.cities:
                lowered = name.strip().lower()
                options.append(city == lowered)
                options.append(city.like(_escape_like(lowered) + " %", escape="\\"))
            conditions.append(or_(*options))
        return conditions

    def _text_condition(self, terms: list[str]) -> ColumnElement[bool]:
        if self._postgres:
            return text("products.search_tsv @@ to_tsquery('simple', :tsquery)").bindparams(
                tsquery=" & ".join(f"{t}:*" for t in terms))
        return ProductRow.id.in_(
            select(text("rowid")).select_from(text("products_fts")).where(text("products_fts MATCH :fts"))
        ).params(fts=_fts_query(terms))

    async def _load(self, ids: Sequence[int], near: GeoPoint | None) -> list[Product]:
        if not ids:
            return []
        rows = (await self._session.execute(
            select(ProductRow, SupplierRow.business_name).join(SupplierRow, SupplierRow.id == ProductRow.supplier_id)
            .where(ProductRow.id.in_(list(ids)))
        )).all()
        by_id = {row.id: (row, name) for row, name in rows}
        products = []
        for product_id in ids:
            row, supplier_name = by_id[product_id]
            distance = haversine_km(near, GeoPoint(row.latitude, row.longitude)) if near else None
            products.append(mappers.product(row, supplier_name, distance))
        return products

    async def _capped_count(self, conditions: list[ColumnElement[bool]]) -> int:
        inner = select(ProductRow.id).where(*conditions).limit(TOTAL_COUNT_CAP).subquery()
        return int((await self._session.execute(select(func.count()).select_from(inner))).scalar_one())

    # -- no location: relevance or newest --------------------------------------------------------

    async def _ranked(self, criteria: ProductFilter, terms: list[str]) -> PageResult[Product]:
        conditions = self._filters(criteria)
        page = criteria.page
        if not terms:
            ids = (await self._session.execute(
                select(ProductRow.id).where(*conditions)
                .order_by(ProductRow.created_at.desc(), ProductRow.id.desc())
                .offset(page.skip).limit(page.limit)
            )).scalars().all()
            return PageResult(await self._load(ids, None), await self._capped_count(conditions))
        if self._postgres:
            tsquery = " & ".join(f"{t}:*" for t in terms)
            best_first = text("ts_rank(products.search_tsv, to_tsquery('simple', :tsquery)) DESC").bindparams(
                tsquery=tsquery)
            all_conditions = [*conditions, self._text_condition(terms)]
            ids = (await self._session.execute(
                select(ProductRow.id).where(*all_conditions).order_by(best_first, ProductRow.id)
                .offset(page.skip).limit(page.limit)
            )).scalars().all()
            return PageResult(await self._load(ids, None), await self._capped_count(all_conditions))
        # SQLite: bm25 over FTS5, joined to the product filters.
        where = " AND ".join(["products_fts MATCH :fts"] + [_sqlite_sql(c, self._session) for c in conditions])
        sql = text(
            f"SELECT products.id FROM products_fts JOIN products ON products.id = products_fts.rowid "
            f"WHERE {where} ORDER BY bm25(products_fts), products.id LIMIT :limit OFFSET :skip"
        )
        params = {"fts": _fts_query(terms), "limit": page.limit, "skip": page.skip}
        ids = (await self._session.execute(sql, params)).scalars().all()
        return PageResult(await self._load(ids, None),
                          await self._capped_count([*conditions, self._text_condition(terms)]))

    # -- PostgreSQL: index-ordered nearest neighbours ----------------------------------------------

    async def _postgres_nearest(self, criteria: ProductFilter, terms: list[str]) -> PageResult[Product]:
        near = criteria.near
        assert near is not None
        conditions = self._filters(criteria)
        if terms:
            conditions.append(self._text_condition(terms))
        origin = "ll_to_earth(:near_lat, :near_lon)"
        params: dict[str, Any] = {"near_lat": near.latitude, "near_lon": near.longitude}
        if criteria.radius_km is not None:
            # earth_box is a cube around a sphere of radius 6378168 m: pad it, the exact cut is haversine.
            conditions.append(
                text(f"earth_box({origin}, :box_m) @> ll_to_earth(products.latitude, products.longitude)")
                .bindparams(box_m=criteria.radius_km * 1000 * 1.01, **params)
            )
        order = text(f"ll_to_earth(products.latitude, products.longitude) <-> {origin}").bindparams(**params)
        page = criteria.page
        wanted = page.skip + page.limit
        rows = (await self._session.execute(
            select(ProductRow.id, ProductRow.latitude, ProductRow.longitude).where(*conditions)
            .order_by(order).limit(wanted + (wanted // 4 + 8 if criteria.radius_km else 0))
        )).all()
        ranked = _by_distance(rows, near, criteria.radius_km)
        ids = [pid for pid, _ in ranked[page.skip:wanted]]
        if criteria.radius_km is None:
            total = await self._capped_count(conditions)
        elif len(ranked) < wanted:
            total = len(ranked)
        else:
            total = await self._count_within(conditions, near, criteria.radius_km)
        return PageResult(await self._load(ids, near), total)

    async def _count_within(self, conditions: list[ColumnElement[bool]], near: GeoPoint, radius_km: float) -> int:
        rows = (await self._session.execute(
            select(ProductRow.id, ProductRow.latitude, ProductRow.longitude).where(*conditions)
            .limit(TOTAL_COUNT_CAP)
        )).all()
        return len(_by_distance(rows, near, radius_km))

    # -- SQLite: growing bounding boxes ------------------------------------------------------------

    async def _sqlite_nearest(self, criteria: ProductFilter, terms: list[str]) -> PageResult[Product]:
        near = criteria.near
        assert near is not None
        conditions = self._filters(criteria)
        page = criteria.page
        wanted = page.skip + page.limit
        if terms:
            rare = await self._rare_text_ids(terms)
            if rare is not None:
                rows = (await self._session.execute(
                    select(ProductRow.id, ProductRow.latitude, ProductRow.longitude)
                    .where(ProductRow.id.in_(rare), *conditions)
                )).all()
                ranked = _by_distance(rows, near, criteria.radius_km)
                ids = [pid for pid, _ in ranked[page.skip:wanted]]
                return PageResult(await self._load(ids, near), len(ranked))
        limit_km = criteria.radius_km if criteria.radius_km is not None else BOX_RADII_KM[-1]
        radii = [r for r in BOX_RADII_KM if r < limit_km] + [limit_km]
        ranked: list[tuple[int, float]] = []
        scanned_all = False
        for radius in radii:
            box = bounding_box(near, radius)
            rows = await self._box_rows(conditions, box, terms)
            ranked = _by_distance(rows, near, radius)
            scanned_all = radius >= limit_km
            if len(ranked) >= wanted or scanned_all:
                break
        ids = [pid for pid, _ in ranked[page.skip:wanted]]
        if scanned_all or len(ranked) < wanted:
            total = len(ranked)
        elif criteria.radius_km is not None:
            rows = await self._box_rows(conditions, bounding_box(near, criteria.radius_km), terms, TOTAL_COUNT_CAP)
            total = len(_by_distance(rows, near, criteria.radius_km))
        else:
            all_conditions = [*conditions, self._text_condition(terms)] if terms else conditions
            total = await self._capped_count(all_conditions)
        return PageResult(await self._load(ids, near), total)

    async def _rare_text_ids(self, terms: list[str]) -> list[int] | None:
        """All ids matching the text when there are few of them, else None."""
        ids = (await self._session.execute(
            text("SELECT rowid FROM products_fts WHERE products_fts MATCH :fts LIMIT :cap"),
            {"fts": _fts_query(terms), "cap": RARE_TEXT_LIMIT + 1},
        )).scalars().all()
        return list(ids) if len(ids) <= RARE_TEXT_LIMIT else None

    async def _box_rows(self, conditions: list[ColumnElement[bool]], box: Any, terms: list[str],
                        limit: int | None = None) -> list[Any]:
        lat = ProductRow.latitude.between(box.min_latitude, box.max_latitude)
        if box.crosses_antimeridian:
            lon = or_(ProductRow.longitude >= box.min_longitude, ProductRow.longitude <= box.max_longitude)
        else:
            lon = ProductRow.longitude.between(box.min_longitude, box.max_longitude)
        columns = [ProductRow.id, ProductRow.latitude, ProductRow.longitude]
        if terms:
            columns.append(ProductRow.search_text)
        query = select(*columns).where(and_(lat, lon), *conditions)
        if limit is not None:
            query = query.limit(limit)
        rows = (await self._session.execute(query)).all()
        if terms:
            rows = [row for row in rows if matches_terms(row.search_text, terms)]
        return rows


def _by_distance(rows: Sequence[Any], near: GeoPoint, radius_km: float | None) -> list[tuple[int, float]]:
    ranked = []
    for row in rows:
        distance = haversine_km(near, GeoPoint(row.latitude, row.longitude))
        if radius_km is None or distance <= radius_km:
            ranked.append((row.id, distance))
    ranked.sort(key=lambda item: (item[1], item[0]))
    return ranked


def _fts_query(terms: Sequence[str]) -> str:
    return " ".join(f'"{term}"*' for term in terms)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sqlite_sql(condition: ColumnElement[bool], session: AsyncSession) -> str:
    compiled = condition.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)
