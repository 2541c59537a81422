"""SQLite: a (latitude strip, longitude) index for nearest-first search.

A plain (latitude, longitude) index answers a small bounding box by scanning every row of the box's
latitude band across the whole country. Indexing CAST(latitude * 50 AS INTEGER) (strips of 0.02
degrees, about 2.2 km) before the longitude lets the search seek each strip's longitude range
instead. PostgreSQL uses its GiST index on ll_to_earth() and needs nothing here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_products_geo_cell "
            "ON products (CAST(latitude * 50 AS INTEGER), longitude, latitude)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_products_geo_cell")
