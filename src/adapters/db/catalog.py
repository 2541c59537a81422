"""Running search plans (``adapters.db.product_search.Plan``), and the lean read path of the catalogue.

The public product listing and search (``core.ports.marketplace.ProductCatalog``) do not need a
unit of work: each call runs one plan on a connection of its own, without the ORM session.

* SQLite: the plan runs on a plain ``sqlite3`` connection inside one read transaction, on the event
  loop's thread while it is quick, in a worker thread once it has taken ``SQLITE_INLINE_BUDGET_S``
  (no thread hop per statement, no ORM; see ``SqliteCatalog``).
* PostgreSQL: the plan's statements go straight to an asyncpg pool (``:name`` parameters become
  ``$n``); no transaction unless the plan sets a ``SET LOCAL``, and no reset query when a connection
  goes back to the pool (a read leaves nothing behind; an open transaction is rolled back).

Each call sees every write committed before it, in any process: PostgreSQL reads every time; SQLite
answers criteria it has answered before only while ``PRAGMA data_version`` says no other connection has
committed since (``SqliteCatalog``).
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import TextClause

from adapters.db.product_search import Plan, ProductSearch, Query, SearchTuning
from core.domain.marketplace import PageResult, Product, ProductFilter

T = TypeVar("T")

SQLITE_READ_THREADS = 4
SQLITE_INLINE_BUDGET_S = 0.002
SQLITE_PROGRESS_STEPS = 1000  # SQLite VM steps between two looks at the clock
SQLITE_CACHED_RESULTS = 256
SQLITE_KEPT_ROWS = 50_000  # rows of ``Query.keep`` statements kept while the database is unchanged
POSTGRES_READ_CONNECTIONS = 10
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=1024)
def _text(sql: str) -> TextClause:
    return text(sql)


async def run_on_session(session: AsyncSession, plan: Plan[T]) -> T:
    """The plan inside the session's transaction (a unit of work reading what it wrote)."""
    try:
        query = next(plan)
        while True:
            result = await session.execute(_text(query.sql), query.params)
            query = plan.send(result.all() if result.returns_rows else [])
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        plan.close()


def sqlite_database_path(async_url: str) -> str | None:
    """The file of a ``sqlite+aiosqlite:///`` URL; None for an in-memory database."""
    database = make_url(async_url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return database


class SqliteCatalog:
    """Plans on a small pool of ``sqlite3`` connections: inline first, in a worker thread when slow.

    A plan starts on the event loop's thread (a search on the demo catalogue takes well under a
    millisecond, less than a thread hop and its GIL hand-over cost). When it has run for
    ``inline_budget_s``, SQLite's progress handler interrupts the statement at hand and the rest of
    the plan, from that statement on, runs in a worker thread (sqlite3 releases the GIL while it
    steps), so a slow search on a large catalogue never holds the loop for longer than the budget.

    Answers to the last ``cached_results`` distinct criteria are kept while the database is unchanged:
    each ``find`` first reads ``PRAGMA data_version`` on a connection of its own, which never writes,
    so the number changes once any other connection, in this process or another, has committed; the
    kept answers are then dropped. An answer is kept only when no newer version was seen while it
    was read (a plan starts after its version was read, so it is of that version or a later one).

    The rows of the statements a plan marks ``keep`` (candidates and counts that do not depend on the
    user's point, a page's product rows) are kept too, up to ``kept_rows`` rows: a search from a new point
    over the same filters is ranked from them without reading. They are kept only when the version read
    again after the plan is still the one read before it, so every kept row is of the version they are
    kept for, and a plan answered from kept rows alone is one snapshot. A plan that used kept rows and
    also read reads the version again when done; if something was committed meanwhile, the two may be of
    different versions, and it runs again without kept rows (one snapshot).
    """

    def __init__(
        self,
        path: str,
        *,
        threads: int = SQLITE_READ_THREADS,
        inline_budget_s: float = SQLITE_INLINE_BUDGET_S,
        tuning: SearchTuning | None = None,
        cached_results: int = SQLITE_CACHED_RESULTS,
        kept_rows: int = SQLITE_KEPT_ROWS,
    ) -> None:
        self._path = path
        self._search = ProductSearch(postgres=False, tuning=tuning)
        self._cached_results = cached_results
        self._results: OrderedDict[ProductFilter, PageResult[Product]] = OrderedDict()
        self._kept = _KeptRows(kept_rows)
        self._version: int | None = None
        self._watch: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="catalog-read")
        self._budget = inline_budget_s
        self._free: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self.plans_moved_to_thread = 0
        self.statements_run = 0

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        version = self._data_version()
        if version != self._version:
            self._results.clear()
            self._kept.clear()
            self._version = version
        kept = self._results.get(criteria)
        if kept is not None:
            self._results.move_to_end(criteria)
            return kept
        run = await self._run(self._search.find(criteria), self._kept)
        result: PageResult[Product] = run.result
        if run.rows_to_keep or (run.used_kept and run.statements_run):
            if self._data_version() != version:  # a commit while it ran: keep nothing of it
                if run.used_kept:  # kept rows and rows read after the commit: read everything again, in one snapshot
                    return (await self._run(self._search.find(criteria))).result  # type: ignore[no-any-return]
                return result
            for key, rows in run.rows_to_keep:
                self._kept.put(key, rows)
        if self._version == version and self._cached_results:
            self._results[criteria] = result
            if len(self._results) > self._cached_results:
                self._results.popitem(last=False)
        return result

    async def supplier_exists(self, supplier_id: int) -> bool:
        return (await self._run(ProductSearch.supplier_exists(supplier_id))).result  # type: ignore[no-any-return]

    def _data_version(self) -> int:
        if self._watch is None:
            self._watch = self._open()
        return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._results.clear()
        self._kept.clear()
        self._watch = None
        for connection in self._all:
            connection.close()
        self._all.clear()
        self._free.clear()

    async def _run(self, plan: Plan[Any], kept: _KeptRows | None = None) -> _SqlitePlanRun:
        """The plan run to its end (its ``result``); ``kept`` answers its ``keep`` statements on the loop's thread."""
        connection = self._free.pop() if self._free else self._open()
        run = _SqlitePlanRun(connection, plan, kept)
        in_thread: asyncio.Future[bool] | None = None
        try:
            deadline = time.perf_counter() + self._budget
            connection.set_progress_handler(lambda: time.perf_counter() > deadline, SQLITE_PROGRESS_STEPS)
            try:
                finished = run.step(deadline)
            finally:
                connection.set_progress_handler(None, 0)
            if not finished:
                self.plans_moved_to_thread += 1
                in_thread = asyncio.get_running_loop().run_in_executor(self._executor, run.step, None)
                await asyncio.shield(in_thread)
            self.statements_run += run.statements_run
            return run
        finally:
            if in_thread is not None and not in_thread.done():
                # Cancelled while the thread still uses the connection: give it back once the thread is done.
                in_thread.add_done_callback(lambda done: self._release(run, connection, done))
            else:
                self._release(run, connection)

    def _release(
        self, run: _SqlitePlanRun, connection: sqlite3.Connection, abandoned: asyncio.Future[bool] | None = None
    ) -> None:
        if abandoned is not None and not abandoned.cancelled():
            abandoned.exception()  # nobody awaits it any more
        run.close()
        self._free.append(connection)

    def _open(self) -> sqlite3.Connection:
        # The engine's pragmas (adapters.db.engine) for reading; WAL is the database's own setting.
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA cache_size=-65536")
        connection.execute("PRAGMA query_only=ON")
        self._all.append(connection)
        return connection


_Key = tuple[str, tuple[tuple[str, Any], ...]]


class _KeptRows:
    """Rows of ``keep`` statements by statement and parameters, least recently used first out."""

    def __init__(self, max_rows: int) -> None:
        self._max_rows = max_rows
        self._rows: OrderedDict[_Key, tuple[Any, ...]] = OrderedDict()
        self._count = 0

    @staticmethod
    def key(query: Query) -> _Key:
        return query.sql, tuple(sorted(query.params.items()))

    def get(self, key: _Key) -> tuple[Any, ...] | None:
        rows = self._rows.get(key)
        if rows is not None:
            self._rows.move_to_end(key)
        return rows

    def put(self, key: _Key, rows: tuple[Any, ...]) -> None:
        if len(rows) > self._max_rows or key in self._rows:
            return
        self._rows[key] = rows
        self._count += len(rows)
        while self._count > self._max_rows:
            self._count -= len(self._rows.popitem(last=False)[1])

    def clear(self) -> None:
        self._rows.clear()
        self._count = 0


class _SqlitePlanRun:
    """One plan on one connection, inside one read transaction (one snapshot for all the statements it runs).

    The transaction starts with the first statement not answered from ``kept`` rows; those are used only
    on the loop's thread (a plan moved to a worker thread runs every statement from there on).
    """

    def __init__(self, connection: sqlite3.Connection, plan: Plan[Any], kept: _KeptRows | None = None) -> None:
        self._connection = connection
        self._plan = plan
        self._kept = kept
        self._pending: Query | None = None
        self.result: Any = None
        self.used_kept = False
        self.rows_to_keep: list[tuple[_Key, tuple[Any, ...]]] = []
        self.statements_run = 0

    def step(self, deadline: float | None) -> bool:
        """Run the plan on; False when ``deadline`` passed first (``step`` again to go on)."""
        kept = self._kept if deadline is not None else None
        try:
            if self._pending is None:
                self._pending = next(self._plan)
            while True:
                query = self._pending
                key = _KeptRows.key(query) if kept is not None and query.keep else None
                rows: Sequence[Any] | None = kept.get(key) if kept is not None and key is not None else None
                if rows is not None:
                    self.used_kept = True
                else:
                    if not self._connection.in_transaction:
                        self._connection.execute("BEGIN")
                    try:
                        rows = self._connection.execute(query.sql, query.params).fetchall()
                    except sqlite3.OperationalError as error:
                        if deadline is not None and str(error) == "interrupted" and self._connection.in_transaction:
                            return False  # the budget's interrupt: the same statement runs again, elsewhere
                        raise
                    self.statements_run += 1
                    if key is not None:
                        rows = tuple(rows)  # shared once kept: nobody may change them
                        self.rows_to_keep.append((key, rows))
                self._pending = self._plan.send(rows)
                if deadline is not None and time.perf_counter() > deadline:
                    return False
        except StopIteration as done:
            self.result = done.value
            return True

    def close(self) -> None:
        self._plan.close()
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")


def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED_PARAMETER.sub(number, sql), tuple(names)


_positional_cached = functools.lru_cache(maxsize=1024)(_positional)


async def _no_reset(_connection: Any) -> None:
    """Reads leave no session state (asyncpg still rolls back an open transaction)."""


class PostgresCatalog:
    """Plans on an asyncpg pool of the same database."""

    def __init__(
        self, dsn: str, *, max_connections: int = POSTGRES_READ_CONNECTIONS, tuning: SearchTuning | None = None
    ) -> None:
        self._dsn = dsn
        self._max_connections = max_connections
        self._search = ProductSearch(postgres=True, tuning=tuning)
        self._pool: Any = None
        self._opening = asyncio.Lock()

    @classmethod
    def from_async_url(cls, async_url: str, **options: Any) -> PostgresCatalog:
        url = make_url(async_url).set(drivername="postgresql")
        return cls(url.render_as_string(hide_password=False), **options)

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        return await self._run(self._search.find(criteria))

    async def supplier_exists(self, supplier_id: int) -> bool:
        return await self._run(ProductSearch.supplier_exists(supplier_id))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _open(self) -> Any:
        import asyncpg

        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=self._max_connections, reset=_no_reset
                )
        return self._pool

    async def _run(self, plan: Plan[T]) -> T:
        pool = self._pool or await self._open()
        async with pool.acquire() as connection:
            transaction = None
            try:
                query: Query = next(plan)
                while True:
                    if query.sets_local and transaction is None:
                        transaction = connection.transaction(readonly=True)
                        await transaction.start()
                    sql, names = _positional_cached(query.sql)
                    arguments = [query.params[name] for name in names]
                    if query.sets_local:
                        await connection.execute(sql, *arguments)
                        rows: Sequence[Any] = []
                    else:
                        rows = await connection.fetch(sql, *arguments)
                    query = plan.send(rows)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            finally:
                plan.close()
                if transaction is not None:
                    await transaction.rollback()


class SessionCatalog:
    """Plans on a fresh session each (an in-memory SQLite database has no second connection)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, postgres: bool, tuning: SearchTuning | None = None
    ) -> None:
        self._sessions = sessions
        self._search = ProductSearch(postgres=postgres, tuning=tuning)

    async def find(self, criteria: ProductFilter) -> PageResult[Product]:
        async with self._sessions() as session:
            return await run_on_session(session, self._search.find(criteria))

    async def supplier_exists(self, supplier_id: int) -> bool:
        async with self._sessions() as session:
            return await run_on_session(session, ProductSearch.supplier_exists(supplier_id))

    async def close(self) -> None:
        return None


def open_catalog(
    async_url: str,
    sessions: async_sessionmaker[AsyncSession],
    *,
    tuning: SearchTuning | None = None,
    sqlite_inline_budget_s: float = SQLITE_INLINE_BUDGET_S,
) -> SqliteCatalog | PostgresCatalog | SessionCatalog:
    """The lean read path that fits the database (``close()`` it when done)."""
    if async_url.startswith("postgresql"):
        return PostgresCatalog.from_async_url(async_url, tuning=tuning)
    path = sqlite_database_path(async_url)
    if path is None:
        return SessionCatalog(sessions, postgres=False, tuning=tuning)
    return SqliteCatalog(path, tuning=tuning, inline_budget_s=sqlite_inline_budget_s)
