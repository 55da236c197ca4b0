"""Persistence: a narrow protocol and two dialects (SQLite, PostgreSQL).

All SQL lives in this package: named queries in ``queries.sql`` (both dialects) and
``<dialect>/queries.sql`` (the ones a dialect writes its own way), migrations in
``<dialect>/migrations``.
"""

from outlast.store.open import open_store
from outlast.store.protocol import Listener, NestedTransactionError, Store, Tx

__all__ = ["Listener", "NestedTransactionError", "Store", "Tx", "open_store"]
