"""Migrations applied from zero give exactly the checked-in schema, on both dialects.

The expected files are the reviewed record of the schema: a new migration must come with
an update of ``expected_schema_<dialect>.json`` (regenerate it with ``read_schema`` on a
freshly migrated database and read the diff).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from outlast.store import open_store
from outlast.store.queries import migration_files

from .schema import applied_migrations, read_schema

HERE = Path(__file__).parent


def dialect_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def expected(dialect: str) -> dict[str, object]:
    return json.loads((HERE / f"expected_schema_{dialect}.json").read_text())  # type: ignore[no-any-return]


def migrate(url: str) -> list[str]:
    store = open_store(url)
    try:
        return store.migrate()
    finally:
        store.close()


def test_migrating_from_zero_gives_the_expected_schema(empty_store_url: str) -> None:
    dialect = dialect_of(empty_store_url)
    applied = migrate(empty_store_url)
    assert applied == [name for name, _ in migration_files(dialect)]
    assert read_schema(empty_store_url) == expected(dialect)


def test_migrating_twice_is_a_no_op(empty_store_url: str) -> None:
    migrate(empty_store_url)
    before = read_schema(empty_store_url)
    assert migrate(empty_store_url) == []
    assert read_schema(empty_store_url) == before


def test_applied_migrations_are_recorded(empty_store_url: str) -> None:
    migrate(empty_store_url)
    migrate(empty_store_url)
    names = [name for name, _ in migration_files(dialect_of(empty_store_url))]
    assert applied_migrations(empty_store_url) == names
    store = open_store(empty_store_url)
    try:
        with store.transaction(write=False) as tx:  # the engine's own queries run on it
            assert tx.all("list_tasks", environment="dev") == []
    finally:
        store.close()


#: indexes only PostgreSQL has: runs_queued holds the QUEUED runs its list indexes leave
#: out (its migration 0029); SQLite's list indexes hold every run
POSTGRES_ONLY = ["runs_queued"]


def test_both_dialects_have_the_same_tables_columns_and_indexes() -> None:
    sqlite, postgres = expected("sqlite"), expected("postgres")

    def names(schema: dict[str, object]) -> dict[str, list[str]]:
        tables: dict[str, list[str]] = schema["tables"]  # type: ignore[assignment]
        return {t: [c.split()[0] for c in cols] for t, cols in tables.items()}

    assert names(sqlite) == names(postgres)
    assert sqlite["indexes"] == [i for i in postgres["indexes"]  # type: ignore[attr-defined]
                                 if i not in POSTGRES_ONLY]


def test_the_test_databases_match_the_expected_schema(store_url: str) -> None:
    """The harness's migrated databases are the real schema, not a hand-made one."""
    assert read_schema(store_url) == expected(dialect_of(store_url))


def test_a_migrated_postgres_database_is_checked_without_the_migration_lock(
        pg_store: Any) -> None:
    """A worker starting on a migrated database reads which migrations are applied and
    goes on (one query): it does not wait for the migration lock, which another process
    may hold."""
    import psycopg

    from outlast.store.postgres.store import _MIGRATION_LOCK

    pg_store.migrate()
    with psycopg.connect(pg_store.target.conninfo, autocommit=False) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        done = threading.Event()
        threading.Thread(target=lambda: (pg_store.migrate(), done.set()), daemon=True).start()
        assert done.wait(10.0)  # not held up by the lock
