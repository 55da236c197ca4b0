"""A pass that only claims commits without waiting for the disk; nothing else does."""

from __future__ import annotations

from typing import Any

from outlast.engine import Engine
from outlast.store.postgres.store import PostgresStore


def _setting(store: PostgresStore) -> str:
    with store.connection() as conn:  # the store's only connection
        row = conn.execute("SHOW synchronous_commit").fetchone()
    assert row is not None
    return str(row["synchronous_commit"])


def test_a_lazy_claim_does_not_leak_into_the_next_transaction(
        pg_store: PostgresStore, register: Any, trigger: Any) -> None:
    store, engine = pg_store, Engine(pg_store)
    register(engine, "t")
    run_id = trigger(engine, "t").row["id"]
    decisions, claimed = engine.record_and_claim([], "dev", "w", None, 1)
    assert [r["id"] for r in claimed.rows] == [run_id] and decisions == []
    assert _setting(store) == "on"
    with store.transaction() as tx:
        tx.lazy_commit()
        assert tx.one("ping") == {"ok": 1}
    assert _setting(store) == "on"
    assert engine.retrieve("dev", run_id)["status"] == "EXECUTING"
