"""The engine an in-process client reaches, opened from a database URL.

``Client(database_url=...)`` talks to the database with no server between: its
``LocalTransport`` dispatches this package's handler table to an engine opened here. The
SDK imports this module only when such a client is made, so ``import outlast`` loads no
engine and no store.
"""

from __future__ import annotations

from outlast.engine import Engine
from outlast.store import open_store


def open_engine(database_url: str) -> Engine:
    """An engine over the store at ``database_url``; a SQLite file is migrated first."""
    store = open_store(database_url)
    if store.dialect == "sqlite":
        store.migrate()
    return Engine(store)
