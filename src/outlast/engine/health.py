"""Whether the database can serve this code: its schema has every migration the code has.

``/readyz`` asks it: a server started against a PostgreSQL database that nobody migrated
yet (``outlast migrate`` is a deploy step there, not something a server does on start)
answers its health check, yet every trigger would fail on a missing table or column.
"""

from __future__ import annotations

from outlast.store.migrate import pending
from outlast.store.protocol import Store


def pending_migrations(store: Store) -> list[str]:
    """The names of the migrations this code has and the database lacks (all of them
    when the database has none: the migrations table itself is missing)."""
    try:
        with store.transaction(write=False) as tx:
            applied = {str(r["name"]) for r in tx.all("applied_migrations")}
    except Exception:  # no migrations table: nothing was ever applied
        applied = set()
    return [name for name, _ in pending(store.dialect, applied)]
