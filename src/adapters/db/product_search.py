"""Product search that stays fast at a million rows, on SQLite and PostgreSQL.

Text: every query word (``core.search_text.query_terms``) must be a prefix of a word of the product's
normalised ``search_text``; the index is FTS5 on SQLite and a ``simple`` tsvector with GIN on PostgreSQL.

Nearest first (``criteria.near``):

* PostgreSQL walks its GiST index on ``ll_to_earth(latitude, longitude)`` in distance order (the cube
  ``<->`` operator), checking the other filters row by row, and stops after ``skip + limit`` rows.
* SQLite either ranks every text match when the text is rare (at most ``RARE_TEXT_MATCHES``), or grows
  a bounding box on the indexed coordinates until the circle inscribed in it holds enough matches. That
  is exact: every point outside the box is farther away than the circle's radius.

``distance_km`` always comes from ``core.geo.distance.haversine_km`` (the radius cut in SQL uses the
same formula and Earth radius).

Totals (the API's ``X-Total-Count``) are exact up to ``TOTAL_COUNT_CAP`` matches and reported as
``TOTAL_COUNT_CAP`` beyond it: an exact count of "laptop" within 25 km of central Jakarta in a catalogue
of a million products means visiting tens of thousands of rows, which no index avoids.

Relevance (text without location) is bm25 (FTS5) or ts_rank (PostgreSQL) over every match when there
are at most ``RANK_WINDOW`` of them; for more, over the ``RANK_WINDOW`` most recently added matches,
so that a one-word query over a huge catalogue does not score every matching row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db import mappers
from core.domain.marketplace import GeoPoint, PageResult, Product, ProductFilter
from core.geo.distance import EARTH_RADIUS_KM, BoundingBox, bounding_box, haversine_km
from core.search_text import query_terms

TOTAL_COUNT_CAP = 100
RARE_TEXT_MATCHES = 2000
RANK_WINDOW = 2000
WHOLE_EARTH_KM = math.pi * EARTH_RADIUS_KM
FIRST_BOX_KM = 0.5
# SQLite: boxes up to this many degrees of latitude are read through the (lat cell, longitude) index.
CELLS_PER_DEGREE = 50
MAX_CELL_SPAN_DEGREES = 2.0
# ll_to_earth() places points on a sphere of radius earth() = 6378168 m; our distances use EARTH_RADIUS_KM.
EARTHDISTANCE_RADIUS_M = 6378168.0

_HAVERSINE_SQL = (
    "2 * {r} * asin(min(1.0, sqrt("
    "power(sin(radians(p.latitude - :near_lat) / 2), 2) + "
    "cos(radians(:near_lat)) * cos(radians(p.latitude)) * power(sin(radians(p.longitude - :near_lon) / 2), 2))))"
)


@dataclass
class _Where:
    """SQL conditions over ``products p`` with their bind parameters."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    def sql(self, prefix: str = " AND ") -> str:
        return "".join(prefix + clause for clause in self.clauses)

    def copy(self) -> _Where:
        return _Where(list(self.clauses), dict(self.params))


def _filters(criteria: ProductFilter) -> _Where:
    where = _Where()
    if criteria.category:
        where.add("p.category = :category", category=criteria.category.strip().lower())
    if criteria.min_price is not None:
        where.add("p.price >= :min_price", min_price=criteria.min_price)
    if criteria.max_price is not None:
        where.add("p.price <= :max_price", max_price=criteria.max_price)
    if criteria.available_only or criteria.in_stock_only:
        where.add("p.is_available = :available", available=True)
    if criteria.in_stock_only:
        where.add("p.stock_quantity > 0")
    if criteria.cities:
        options = []
        for index, name in enumerate(criteria.cities):
            lowered = " ".join(name.lower().split())
            options.append(f"lower(p.city) = :city_{index} OR lower(p.city) LIKE :city_prefix_{index} ESCAPE '\\'")
            where.params[f"city_{index}"] = lowered
            where.params[f"city_prefix_{index}"] = _escape_like(lowered) + " %"
        where.clauses.append("(" + " OR ".join(options) + ")")
    return where


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_query(terms: Sequence[str]) -> str:
    return " ".join(f'"{term}"*' for term in terms)


def _tsquery(terms: Sequence[str]) -> str:
    return " & ".join(f"{term}:*" for term in terms)


def _like_terms(where: _Where, terms: Sequence[str]) -> None:
    """Word-prefix match row by row (SQLite): the text is normalised, so ' ' + word boundary suffices."""
    for index, term in enumerate(terms):
        where.add(f"(' ' || p.search_text) LIKE :term_{index}", **{f"term_{index}": f"% {term}%"})


def _ranked_by_distance(rows: Sequence[Any], near: GeoPoint, radius_km: float | None) -> list[tuple[float, int]]:
    ranked = []
    for row in rows:
        distance = haversine_km(near, GeoPoint(row[1], row[2]))
        if radius_km is None or distance <= radius_km:
            ranked.append((distance, row[0]))
    ranked.sort()
    return ranked


@dataclass(frozen=True, slots=True)
class SearchTuning:
    """Thresholds that pick a strategy; results never depend on them (tests force each strategy)."""

    rare_text_matches: int = RARE_TEXT_MATCHES
    first_box_km: float = FIRST_BOX_KM
    use_cell_index: bool = True


class ProductSearch:
    def __init__(self, session: AsyncSession, tuning: SearchTuning | None = None) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"
        self._tuning = tuning or SearchTuning()

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        terms = query_terms(criteria.text)
        if criteria.near is not None:
            if self._postgres:
                return await self._postgres_nearest(criteria, terms, criteria.near)
            return await self._sqlite_nearest(criteria, terms, criteria.near)
        if terms:
            return await self._relevance(criteria, terms)
        return await self._newest(criteria)

    # -- shared -------------------------------------------------------------------------------------

    async def _rows(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        return (await self._session.execute(text(sql), params)).all()

    async def _capped_count(self, from_where: str, params: dict[str, Any]) -> int:
        sql = f"SELECT count(*) FROM (SELECT 1 {from_where} LIMIT {TOTAL_COUNT_CAP}) AS capped"
        return int((await self._session.execute(text(sql), params)).scalar_one())

    def _text_where(self, where: _Where, terms: Sequence[str]) -> _Where:
        """``where`` plus the text condition, for queries driven by another index."""
        result = where.copy()
        if not terms:
            return result
        if self._postgres:
            result.add("p.search_tsv @@ to_tsquery('simple', :tsquery)", tsquery=_tsquery(terms))
        else:
            _like_terms(result, terms)
        return result

    async def _load(self, ids: Sequence[int], near: GeoPoint | None) -> list[Product]:
        if not ids:
            return []
        placeholders = ", ".join(f":id_{i}" for i in range(len(ids)))
        rows = await self._rows(
            f"SELECT {mappers.PRODUCT_SQL_COLUMNS} FROM products p JOIN suppliers s ON s.id = p.supplier_id "
            f"WHERE p.id IN ({placeholders})",
            {f"id_{i}": product_id for i, product_id in enumerate(ids)},
        )
        by_id = {row.id: row for row in rows}
        return [mappers.product_from_sql(by_id[product_id], near) for product_id in ids if product_id in by_id]

    # -- without a location -------------------------------------------------------------------------

    async def _newest(self, criteria: ProductFilter) -> PageResult[Product]:
        where = _filters(criteria)
        page = criteria.page
        rows = await self._rows(
            f"SELECT p.id FROM products p WHERE 1 = 1{where.sql()} "
            f"ORDER BY p.created_at DESC, p.id DESC LIMIT :limit OFFSET :skip",
            {**where.params, "limit": page.limit, "skip": page.skip},
        )
        total = await self._capped_count(f"FROM products p WHERE 1 = 1{where.sql()}", where.params)
        return PageResult(await self._load([row[0] for row in rows], None), total)

    async def _relevance(self, criteria: ProductFilter, terms: list[str]) -> PageResult[Product]:
        where = _filters(criteria)
        page = criteria.page
        params = {**where.params, "limit": page.limit, "skip": page.skip, "window": RANK_WINDOW}
        if self._postgres:
            params["tsquery"] = _tsquery(terms)
            matches = (
                "FROM products p WHERE p.search_tsv @@ to_tsquery('simple', :tsquery)" + where.sql()
            )
            # The newest RANK_WINDOW matches are scored (all of them when there are fewer).
            rows = await self._rows(
                f"SELECT id FROM (SELECT p.id, ts_rank(p.search_tsv, to_tsquery('simple', :tsquery)) AS score "
                f"{matches} ORDER BY p.id DESC LIMIT :window) AS recent "
                f"ORDER BY score DESC, id LIMIT :limit OFFSET :skip",
                params,
            )
            total = await self._capped_count(matches, params)
        else:
            params["fts"] = _fts_query(terms)
            if where.clauses:
                source = "FROM products_fts f JOIN products p ON p.id = f.rowid WHERE products_fts MATCH :fts"
                matches = source + where.sql()
                total = await self._capped_count(matches, params)
            else:
                matches = "FROM products_fts f WHERE products_fts MATCH :fts"
                total = min(await self._sqlite_text_matches(terms, TOTAL_COUNT_CAP), TOTAL_COUNT_CAP)
            rows = await self._rows(
                f"SELECT id FROM (SELECT f.rowid AS id, bm25(products_fts) AS score {matches} "
                f"ORDER BY f.rowid DESC LIMIT :window) AS recent "
                f"ORDER BY score, id LIMIT :limit OFFSET :skip",
                params,
            )
        return PageResult(await self._load([row[0] for row in rows], None), total)

    # -- PostgreSQL: index-ordered nearest neighbours ---------------------------------------------

    async def _postgres_nearest(self, criteria: ProductFilter, terms: list[str], near: GeoPoint) -> PageResult[Product]:
        where = self._text_where(_filters(criteria), terms)
        where.params.update(near_lat=near.latitude, near_lon=near.longitude)
        if criteria.radius_km is not None:
            # The GiST-indexed box around the earthdistance sphere, then the exact haversine cut.
            box_m = criteria.radius_km / EARTH_RADIUS_KM * EARTHDISTANCE_RADIUS_M * 1.0001 + 1.0
            where.add("earth_box(ll_to_earth(:near_lat, :near_lon), :box_m) @> ll_to_earth(p.latitude, p.longitude)",
                      box_m=box_m)
            where.add(_HAVERSINE_SQL.format(r=EARTH_RADIUS_KM) + " <= :radius_km", radius_km=criteria.radius_km)
        page = criteria.page
        rows = await self._rows(
            f"SELECT p.id, p.latitude, p.longitude FROM products p WHERE 1 = 1{where.sql()} "
            f"ORDER BY ll_to_earth(p.latitude, p.longitude) <-> ll_to_earth(:near_lat, :near_lon), p.id "
            f"LIMIT :wanted",
            {**where.params, "wanted": page.skip + page.limit},
        )
        ranked = _ranked_by_distance(rows, near, None)
        ids = [product_id for _, product_id in ranked[page.skip:]]
        if len(rows) < page.skip + page.limit:
            total = len(rows)
        else:
            total = await self._capped_count(f"FROM products p WHERE 1 = 1{where.sql()}", where.params)
        return PageResult(await self._load(ids, near), total)

    # -- SQLite: rare text, or growing boxes --------------------------------------------------------

    async def _sqlite_nearest(self, criteria: ProductFilter, terms: list[str], near: GeoPoint) -> PageResult[Product]:
        where = _filters(criteria)
        where.params.update(near_lat=near.latitude, near_lon=near.longitude)
        page = criteria.page
        wanted = page.skip + page.limit
        rare = self._tuning.rare_text_matches
        text_matches = await self._sqlite_text_matches(terms, rare + 1) if terms else 0
        if terms and text_matches <= rare:
            rows = await self._rows(
                "SELECT p.id, p.latitude, p.longitude FROM products p WHERE p.id IN "
                f"(SELECT rowid FROM products_fts WHERE products_fts MATCH :fts){where.sql()}",
                {**where.params, "fts": _fts_query(terms)},
            )
            ranked = _ranked_by_distance(rows, near, criteria.radius_km)
            ids = [product_id for _, product_id in ranked[page.skip:wanted]]
            return PageResult(await self._load(ids, near), min(len(ranked), TOTAL_COUNT_CAP))
        filters = where
        where = self._text_where(where, terms)
        limit_km = criteria.radius_km if criteria.radius_km is not None else WHOLE_EARTH_KM
        # With a radius the same scan also counts, up to the cap.
        needed = max(wanted, TOTAL_COUNT_CAP) if criteria.radius_km is not None else wanted
        radius = min(self._tuning.first_box_km, limit_km)
        while True:
            rows = await self._box_rows(where, bounding_box(near, radius))
            ranked = _ranked_by_distance(rows, near, radius)
            if len(ranked) >= needed or radius >= limit_km:
                break
            radius = min(limit_km, _next_radius(radius, len(ranked), needed))
        ids = [product_id for _, product_id in ranked[page.skip:wanted]]
        if criteria.radius_km is not None or radius >= limit_km:
            total = min(len(ranked), TOTAL_COUNT_CAP)
        elif terms and not filters.clauses:
            total = min(text_matches, TOTAL_COUNT_CAP)  # more than RARE_TEXT_MATCHES match the text alone
        elif terms:
            total = await self._capped_count(
                "FROM products_fts f JOIN products p ON p.id = f.rowid WHERE products_fts MATCH :fts" + filters.sql(),
                {**filters.params, "fts": _fts_query(terms)},
            )
        else:
            total = await self._capped_count(f"FROM products p WHERE 1 = 1{where.sql()}", where.params)
        return PageResult(await self._load(ids, near), total)

    async def _sqlite_text_matches(self, terms: Sequence[str], limit: int) -> int:
        """How many products match the text, counting at most ``limit``.

        A prefix query on a long word merges the postings of every word it prefixes before yielding
        anything, while whole words stream: when the whole words alone reach ``limit``, so do the prefixes.
        """
        count = "SELECT count(*) FROM (SELECT rowid FROM products_fts WHERE products_fts MATCH :fts LIMIT :limit)"
        whole_words = " ".join(f'"{term}"' for term in terms)
        found = int((await self._session.execute(text(count), {"fts": whole_words, "limit": limit})).scalar_one())
        if found >= limit:
            return found
        return int((await self._session.execute(text(count), {"fts": _fts_query(terms), "limit": limit})).scalar_one())

    async def _box_rows(self, where: _Where, box: BoundingBox) -> Sequence[Any]:
        params = {**where.params, "min_lat": box.min_latitude, "max_lat": box.max_latitude,
                  "min_lon": box.min_longitude, "max_lon": box.max_longitude}
        if box.crosses_antimeridian:
            longitude = "(p.longitude >= :min_lon OR p.longitude <= :max_lon)"
        else:
            longitude = "p.longitude BETWEEN :min_lon AND :max_lon"
        source = "products p"
        conditions = f"p.latitude BETWEEN :min_lat AND :max_lat AND {longitude}"
        small = box.max_latitude - box.min_latitude <= MAX_CELL_SPAN_DEGREES
        if self._tuning.use_cell_index and small and not box.crosses_antimeridian:
            # Seek each latitude strip of the (cell, longitude) index instead of scanning one wide band.
            cells = range(_cell(box.min_latitude), _cell(box.max_latitude) + 1)
            source = "products p INDEXED BY ix_products_geo_cell"
            conditions = (f"CAST(p.latitude * {CELLS_PER_DEGREE} AS INTEGER) IN ({', '.join(map(str, cells))}) "
                          f"AND {conditions}")
        return await self._rows(f"SELECT p.id, p.latitude, p.longitude FROM {source} WHERE {conditions}{where.sql()}",
                                params)


def _cell(latitude: float) -> int:
    # The same truncation as SQLite's CAST(latitude * 50 AS INTEGER) (towards zero); monotonic, so the
    # cells from the box's south edge to its north edge cover every latitude in between.
    return int(latitude * CELLS_PER_DEGREE)


def _next_radius(radius: float, found: int, needed: int) -> float:
    """Grow towards the radius that should hold ``needed`` matches if density stays the same."""
    if found == 0:
        return radius * 8
    estimate = radius * math.sqrt(needed / found) * 1.25
    return min(radius * 8, max(radius * 2, estimate))
