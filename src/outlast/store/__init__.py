"""Persistence: a narrow protocol and two dialects (SQLite, PostgreSQL).

All SQL lives in this package, in ``<dialect>/queries.sql`` and ``<dialect>/migrations``.
"""

from outlast.store.open import open_store
from outlast.store.protocol import Listener, Store, Tx

__all__ = ["Listener", "Store", "Tx", "open_store"]
