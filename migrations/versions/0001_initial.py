"""Initial schema: suppliers, products, users, conversations, messages, and product search indexes.

SQLite gets an FTS5 table kept in sync by triggers; PostgreSQL gets a generated tsvector column with
a GIN index and, through the cube/earthdistance extensions, a GiST index for nearest-first search.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _audit() -> list[sa.Column]:
    return [
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "suppliers",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("business_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(40)),
        sa.Column("address", sa.String(500)),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("province", sa.String(100)),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("api_key_hash", sa.String(64), nullable=False),
        *_audit(),
        sa.UniqueConstraint("email", name="uq_suppliers_email"),
        sa.UniqueConstraint("api_key_hash", name="uq_suppliers_api_key_hash"),
    )
    op.create_index("ix_suppliers_city", "suppliers", ["city"])

    op.create_table(
        "products",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "supplier_id",
            ID,
            sa.ForeignKey("suppliers.id", ondelete="CASCADE", name="fk_products_supplier_id_suppliers"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("stock_quantity", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("tags", sa.String(500)),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("is_available", sa.Boolean(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        *_audit(),
        sa.UniqueConstraint("sku", name="uq_products_sku"),
    )
    op.create_index("ix_products_lat_lon", "products", ["latitude", "longitude"])
    op.create_index("ix_products_category_price", "products", ["category", "price"])
    op.create_index("ix_products_price", "products", ["price"])
    op.create_index("ix_products_created_at", "products", ["created_at"])
    op.create_index("ix_products_supplier_id", "products", ["supplier_id"])

    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(40)),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("city", sa.String(100)),
        sa.Column("province", sa.String(100)),
        sa.Column("ai_access_enabled", sa.Boolean(), nullable=False),
        sa.Column("api_key_hash", sa.String(64), nullable=False),
        *_audit(),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.UniqueConstraint("api_key_hash", name="uq_users_api_key_hash"),
    )

    op.create_table(
        "conversations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id",
            ID,
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_conversations_user_id_users"),
            nullable=False,
        ),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("last_filters", sa.Text()),
        *_audit(),
        sa.UniqueConstraint("session_id", name="uq_conversations_session_id"),
    )
    op.create_index("ix_conversations_user_id", "conversations", ["user_id"])

    op.create_table(
        "messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            ID,
            sa.ForeignKey(
                "conversations.id", ondelete="CASCADE", name="fk_messages_conversation_id_conversations"
            ),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("details", sa.Text()),
        *_audit(),
    )
    op.create_index("ix_messages_conversation_id_id", "messages", ["conversation_id", "id"])

    if op.get_bind().dialect.name == "postgresql":
        _postgres_search()
    else:
        _sqlite_search()


def _sqlite_search() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE products_fts USING fts5(search_text, content='products', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')"
    )
    op.execute(
        "CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN "
        "INSERT INTO products_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
    )
    op.execute(
        "CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN "
        "INSERT INTO products_fts(products_fts, rowid, search_text) "
        "VALUES ('delete', old.id, old.search_text); END"
    )
    op.execute(
        "CREATE TRIGGER products_fts_update AFTER UPDATE OF search_text ON products BEGIN "
        "INSERT INTO products_fts(products_fts, rowid, search_text) "
        "VALUES ('delete', old.id, old.search_text); "
        "INSERT INTO products_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
    )


def _postgres_search() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS cube")
    op.execute("CREATE EXTENSION IF NOT EXISTS earthdistance")
    op.execute(
        "ALTER TABLE products ADD COLUMN search_tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED"
    )
    op.execute("CREATE INDEX ix_products_search_tsv ON products USING GIN (search_tsv)")
    op.execute("CREATE INDEX ix_products_earth ON products USING GIST (ll_to_earth(latitude, longitude))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for trigger in ("products_fts_insert", "products_fts_delete", "products_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS products_fts")
    for table in ("messages", "conversations", "users", "products", "suppliers"):
        op.drop_table(table)
