"""Pick the store implementation from a database URL."""

from __future__ import annotations

from outlast.errors import ConfigError
from outlast.store.protocol import Store


def open_store(url: str) -> Store:
    """``sqlite:///path/to.db`` (relative) or ``sqlite:////abs/path``; ``postgresql://…``."""
    if url.startswith("sqlite:///"):
        from outlast.store.sqlite.store import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from outlast.store.postgres.store import PostgresStore

        return PostgresStore(url)
    raise ConfigError(f"unsupported database_url {url!r}: use sqlite:///… or postgresql://…")
