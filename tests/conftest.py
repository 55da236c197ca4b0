"""Shared fixtures: every store-backed test runs on real SQLite and real PostgreSQL.

Fixtures (names are stable; tests in every folder rely on them):

``store_url``        a fresh, migrated, empty database, parametrized ``sqlite`` / ``postgres``
``empty_store_url``  a fresh database with no migrations applied (same two ids)
``store``            ``open_store(store_url)``, closed after the test
``clock``            a ``FakeClock`` starting at ``T0``; time moves only when told to
``engine``           ``Engine(store, clock=clock, lease_seconds=LEASE_SECONDS)``
``register``         ``register(engine, *definitions_or_ids, env="dev")`` → definitions
``trigger``          ``trigger(engine, task_id, payload=None, env="dev", **options)`` → row

PostgreSQL: one database per test session (named after the pid, so parallel sessions do
not collide), migrated once and emptied with ``TRUNCATE`` before each test. When the
server is unreachable the PostgreSQL half of the suite skips locally and fails under
``CI``, so a broken CI database can never turn into a green build.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.core.settings import Settings
from outlast.engine import Engine, NewRun
from outlast.engine.triggering import Triggered
from outlast.store import Store, open_store

PG_ADMIN_URL = os.environ.get(
    "OUTLAST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DIALECTS = ["sqlite", "postgres"]
#: 2026-01-01T00:00:00Z: a fixed start keeps every computed time reproducible.
T0 = 1_767_225_600.0
LEASE_SECONDS = 30.0

_pg_status: dict[str, str | None] = {}
_database_numbers = itertools.count()


# -- PostgreSQL plumbing ---------------------------------------------------------------


def pg_url(database: str) -> str:
    """``PG_ADMIN_URL`` with its database replaced by ``database``."""
    info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_URL)
    info["dbname"] = database
    host, port = info.get("host", "127.0.0.1"), info.get("port", "5432")
    user = info.get("user", "postgres")
    password = f":{info['password']}" if info.get("password") else ""
    return f"postgresql://{user}{password}@{host}:{port}/{database}"


def _pg_unreachable() -> str | None:
    """None when PostgreSQL answers, else the reason (checked once per session)."""
    if "reason" not in _pg_status:
        try:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _pg_status["reason"] = None
        except psycopg.Error as exc:
            _pg_status["reason"] = f"{type(exc).__name__}: {exc}".strip()
    return _pg_status["reason"]


def require_postgres() -> None:
    """Skip (locally) or fail (under CI) when PostgreSQL is not reachable."""
    reason = _pg_unreachable()
    if reason is None:
        return
    message = (
        f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({reason}); start it or set "
        "OUTLAST_TEST_PG_URL"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message}. CI=true: PostgreSQL tests must not be skipped.", pytrace=False)
    pytest.skip(message)


_DROP = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")


def create_pg_database(name: str) -> str:
    """Create an empty database ``name`` (dropping a leftover one); return its URL."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(_DROP.format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return pg_url(name)


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(_DROP.format(sql.Identifier(name)))


class _SessionDatabase:
    """The session's migrated PostgreSQL database and a connection that empties it."""

    def __init__(self) -> None:
        self.name = f"outlast_test_{os.getpid()}"
        self.url = create_pg_database(self.name)
        store = open_store(self.url)
        try:
            store.migrate()
        finally:
            store.close()
        self._conn = psycopg.connect(self.url, autocommit=True)
        rows = self._conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'outlast_migrations' ORDER BY tablename"
        ).fetchall()
        self._truncate = sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
            sql.SQL(", ").join(sql.Identifier(r[0]) for r in rows)
        )

    def empty(self) -> None:
        """TRUNCATE every table; reconnect first if a test killed our connection."""
        if self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.url, autocommit=True)
        try:
            self._conn.execute(self._truncate)
        except psycopg.OperationalError:
            self._conn = psycopg.connect(self.url, autocommit=True)
            self._conn.execute(self._truncate)

    def close(self) -> None:
        self._conn.close()
        drop_pg_database(self.name)


@pytest.fixture(scope="session")
def _pg_session_db() -> Iterator[_SessionDatabase]:
    require_postgres()
    db = _SessionDatabase()
    yield db
    db.close()


# -- store fixtures ---------------------------------------------------------------------


@pytest.fixture
def pg_store(_pg_session_db: _SessionDatabase) -> Iterator[Any]:
    """An empty PostgreSQL store of one pooled connection: every transaction reuses the
    same one, so a test can watch it (its protocol trace, its settings)."""
    from outlast.store.postgres.store import PostgresStore

    require_postgres()
    _pg_session_db.empty()
    store = PostgresStore(_pg_session_db.url, min_size=1, max_size=1)
    yield store
    store.close()


@pytest.fixture(params=DIALECTS, ids=DIALECTS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database of the parametrized dialect."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outlast.db'}"
        store = open_store(url)
        try:
            store.migrate()
        finally:
            store.close()
        return url
    db: _SessionDatabase = request.getfixturevalue("_pg_session_db")
    db.empty()
    return db.url


@pytest.fixture(params=DIALECTS, ids=DIALECTS)
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new database with no tables at all (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    require_postgres()
    name = f"outlast_empty_{os.getpid()}_{next(_database_numbers)}"
    url = create_pg_database(name)
    yield url
    drop_pg_database(name)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def engine_settings() -> Settings:
    """The engine's settings: the defaults; a test parametrizes it to change them
    (``@pytest.mark.parametrize("engine_settings", [Settings(max_payload_bytes=…)])``)."""
    return Settings()


@pytest.fixture
def engine(store: Store, clock: FakeClock, engine_settings: Settings) -> Engine:
    return Engine(store, clock=clock, lease_seconds=LEASE_SECONDS, settings=engine_settings)


# -- helpers as fixtures ----------------------------------------------------------------


def definition(task_id: str, **fields: Any) -> TaskDefinition:
    """A task definition whose queue defaults to the task id (as ``@task`` does)."""
    fields.setdefault("queue", task_id)
    return TaskDefinition(id=task_id, **fields)


def register_tasks(
    engine: Engine, *definitions_or_ids: TaskDefinition | str, env: str = "dev"
) -> list[TaskDefinition]:
    defs = [definition(d) if isinstance(d, str) else d for d in definitions_or_ids]
    engine.register_tasks(env, defs)
    return defs


def trigger_run(
    engine: Engine, task_id: str, payload: Any = None, env: str = "dev", **options: Any
) -> Triggered:
    """Trigger one run the way the SDK does: options parsed, payload as JSON text."""
    opts = parse_options(options, engine.clock.now())
    return engine.trigger(env, NewRun(task_id, json.dumps(payload), opts))


@pytest.fixture
def register() -> Callable[..., list[TaskDefinition]]:
    """``register(engine, "task-a", TaskDefinition(...), env="dev")``."""
    return register_tasks


@pytest.fixture
def trigger() -> Callable[..., Triggered]:
    """``trigger(engine, "task-a", {"x": 1}, delay="5m", tags=["t"])`` → ``Triggered``."""
    return trigger_run


@pytest.fixture
def cli_on_store(store_url: str, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``cli_on_store("queues", "list")``: the real ``outlast`` command against the test's
    database, from an empty directory with no other ``OUTLAST_*`` setting."""
    from click.testing import CliRunner

    from outlast.cli.main import cli

    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("OUTLAST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OUTLAST_DATABASE_URL", store_url)

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke
