"""Pick the store implementation from a database URL."""

from __future__ import annotations

from outlast.errors import ConfigError
from outlast.store.protocol import Store


def open_store(url: str) -> Store:
    """``sqlite:///path/to.db`` (relative) or ``sqlite:////abs/path``; ``postgresql://…``
    with an optional ``?schema=NAME`` to keep a project's tables apart in a shared database.
    """
    if url.startswith("sqlite:///"):
        if "?" in url:
            raise ConfigError(
                f"database_url {url!r}: SQLite takes no options (a schema per project is a "
                "PostgreSQL option; with SQLite each project has its own file)")
        from outlast.store.sqlite.store import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from outlast.store.postgres.store import PostgresStore

        return PostgresStore(url)
    raise ConfigError(f"unsupported database_url {url!r}: use sqlite:///… or postgresql://…")
