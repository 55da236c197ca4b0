"""The database the example runs on: a temporary SQLite file, and PostgreSQL when it
listens on 127.0.0.1:5432 (`OUTLAST_TEST_PG_URL` names another server; under CI it must
be there). On PostgreSQL one database serves the session, emptied before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PG_ADMIN_URL = os.environ.get("OUTLAST_TEST_PG_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")


def admin_connection() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable: {exc}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"outlast_example_webhooks_{os.getpid()}"
    with admin_connection() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    from webhook_ingester import db

    db.engine_for(url).dispose()
    with admin_connection() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                      .format(sql.Identifier(name)))


def empty(url: str) -> None:
    """Every table emptied (Outlast's and the app's), the schema's version kept."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'outlast_migrations'")]
        if tables:
            conn.execute(sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in tables)))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> str:
    """Outlast's and the app's one database, also given to the tasks as
    `OUTLAST_DATABASE_URL`, as in production."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        empty(url)
    monkeypatch.setenv("OUTLAST_DATABASE_URL", url)
    return url
