"""SQL persistence on SQLite (default) and PostgreSQL."""
