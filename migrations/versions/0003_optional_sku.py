"""Products may have no SKU (the original API's contract); a SKU, when given, stays unique.

Both databases let a unique column hold many NULLs. PostgreSQL drops NOT NULL in place; SQLite
rebuilds the table (batch mode), which drops the table's triggers and expression index with it, so
they are created again here (the FTS5 rows are untouched: the rebuilt table keeps every id).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS products_fts_insert AFTER INSERT ON products BEGIN "
    "INSERT INTO products_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_delete AFTER DELETE ON products BEGIN "
    "INSERT INTO products_fts(products_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_update AFTER UPDATE OF search_text ON products BEGIN "
    "INSERT INTO products_fts(products_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO products_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE INDEX IF NOT EXISTS ix_products_geo_cell "
    "ON products (CAST(latitude * 50 AS INTEGER), longitude, latitude)",
)


def _set_sku_nullable(nullable: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("products", "sku", existing_type=sa.String(64), nullable=nullable)
        return
    op.execute("DROP INDEX IF EXISTS ix_products_geo_cell")  # batch mode cannot reflect an expression index
    with op.batch_alter_table("products", recreate="always") as batch:
        batch.alter_column("sku", existing_type=sa.String(64), nullable=nullable)
    for statement in _SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    _set_sku_nullable(True)


def downgrade() -> None:
    op.execute("DELETE FROM products WHERE sku IS NULL")
    _set_sku_nullable(False)
