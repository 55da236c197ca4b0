"""Several projects in one PostgreSQL database, each in its own schema (``?schema=NAME``).

A project's API keys, runs and wake-ups live in its schema: a key of one project is
unknown to another, a worker of one never sees the other's runs, and neither wakes the
other's listeners. SQLite keeps one project per file and refuses the option.
"""

from __future__ import annotations

import os
import select
import warnings
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.engine.events import CHANGED_CHANNEL, QUEUED_CHANNEL
from outlast.errors import ConfigError
from outlast.server.app import create_app
from outlast.store import Store, open_store
from outlast.store.postgres.target import parse_target
from tests.conftest import create_pg_database, drop_pg_database, require_postgres
from tests.worker.support import running_worker, trigger, wait_final

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture
def shared_database() -> Iterator[str]:
    """An empty PostgreSQL database that two projects share."""
    require_postgres()
    name = f"outlast_projects_{os.getpid()}"
    url = create_pg_database(name)
    yield url
    drop_pg_database(name)


@pytest.fixture
def projects(shared_database: str) -> Iterator[dict[str, Store]]:
    """``billing`` and ``search``: one database, two schemas, both migrated."""
    stores = {name: open_store(f"{shared_database}?schema={name}")
              for name in ("billing", "search")}
    for store in stores.values():
        store.migrate()
    yield stores
    for store in stores.values():
        store.close()


def test_each_project_gets_its_own_tables(projects: dict[str, Store],
                                          shared_database: str) -> None:
    with psycopg.connect(shared_database) as conn:
        rows = conn.execute("SELECT schemaname FROM pg_tables WHERE tablename = 'runs' "
                            "ORDER BY schemaname").fetchall()
    assert [r[0] for r in rows] == ["billing", "search"]


def test_a_key_works_only_in_its_own_project_and_environment(
        projects: dict[str, Store]) -> None:
    billing, search = Engine(projects["billing"]), Engine(projects["search"])
    key = billing.create_api_key("prod")
    assert billing.authenticate(key) == "prod"
    assert search.authenticate(key) is None
    billing.register_tasks("prod", [TaskDefinition(id="invoice", queue="invoice")])
    search.register_tasks("prod", [TaskDefinition(id="invoice", queue="invoice")])

    app = create_app(search)
    with TestClient(app) as http:
        refused = http.post("/api/v1/tasks/invoice/trigger", json={"payload": {}},
                            headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    with TestClient(create_app(billing)) as http:
        made = http.post("/api/v1/tasks/invoice/trigger", json={"payload": {}},
                         headers={"Authorization": f"Bearer {key}"})
        assert made.status_code in (200, 201), made.text
        run_id = made.json()["id"]
        assert http.get(f"/api/v1/runs/{run_id}",
                        headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert [r["id"] for r in billing.list_runs("prod")[0]] == [run_id]
    assert search.list_runs("prod")[0] == []


def test_a_worker_runs_only_its_own_projects_runs(projects: dict[str, Store],
                                                  tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    billing = Engine(projects["billing"], lease_seconds=3)
    search = Engine(projects["search"], lease_seconds=3)
    with running_worker(search):
        # the same task id exists in both projects; only billing's worker may take billing's
        with running_worker(billing):
            done = wait_final(billing, trigger(billing, "hello-world", {"name": "Ada"}))
        assert done["output"] == {"greeting": "Hello, Ada!"}
        waiting = trigger(billing, "hello-world", {"name": "Bo"})
        ours = wait_final(search, trigger(search, "hello-world", {"name": "Cy"}))
        assert ours["status"] == "COMPLETED"
        assert billing.retrieve("dev", waiting)["status"] == "QUEUED"
    assert {r["id"] for r in search.list_runs("dev")[0]} == {ours["id"]}


def test_wake_ups_stay_inside_a_project(projects: dict[str, Store]) -> None:
    billing, search = Engine(projects["billing"]), Engine(projects["search"])
    for engine in (billing, search):
        engine.register_tasks("dev", [TaskDefinition(id="t", queue="t")])
    listeners = {name: store.listen([QUEUED_CHANNEL]) for name, store in projects.items()}
    try:
        trigger(billing, "t")
        heard = _drain(listeners["billing"])
        assert (QUEUED_CHANNEL, "t") in heard
        assert _drain(listeners["search"], wait=0.3) == []
    finally:
        for listener in listeners.values():
            listener.close()


def test_a_claims_start_notes_stay_inside_a_project(projects: dict[str, Store]) -> None:
    """The claim statement sends its starts' notes itself, on the project's channel."""
    billing = Engine(projects["billing"])
    billing.register_tasks("dev", [TaskDefinition(id="t", queue="t")])
    run_id = trigger(billing, "t")
    listeners = {name: store.listen([CHANGED_CHANNEL]) for name, store in projects.items()}
    try:
        _, claimed = billing.record_and_claim([], "dev", "w", None, 1)
        assert [r["id"] for r in claimed.rows] == [run_id]
        assert (CHANGED_CHANNEL, run_id) in _drain(listeners["billing"])
        assert _drain(listeners["search"], wait=0.3) == []
    finally:
        for listener in listeners.values():
            listener.close()


def _drain(listener, wait: float = 5.0) -> list[tuple[str, str]]:
    select.select([listener.fileno()], [], [], wait)
    return listener.drain()


def test_schema_names_are_checked() -> None:
    assert parse_target("postgresql://h/db").schema is None
    assert parse_target("postgresql://h/db?schema=public").schema is None
    target = parse_target("postgresql://h/db?sslmode=disable&schema=billing_2")
    assert target.schema == "billing_2"
    assert "sslmode=disable" in target.conninfo and "search_path=billing_2" in target.conninfo
    assert "schema=" not in target.conninfo
    assert parse_target("postgresql://h/db?schema=" + "a" * 47).schema == "a" * 47
    for bad in ("Billing", "1st", "a-b", "x;drop", "", "a" * 48, "pg_temp"):
        with pytest.raises(ConfigError, match="schema"):
            parse_target(f"postgresql://h/db?schema={bad}")
    with pytest.raises(ConfigError, match="more than one schema"):
        parse_target("postgresql://h/db?schema=a&schema=b")


def test_the_rest_of_the_url_is_kept_as_written() -> None:
    info = conninfo_to_dict(parse_target(
        "postgresql://u:p%40ss@h/db?options=-c%20statement_timeout%3D5000"
        "&application_name=a%20b&schema=billing").conninfo)
    assert info["options"] == "-c statement_timeout=5000 -c search_path=billing"
    assert info["application_name"] == "a b" and info["password"] == "p@ss"
    socket = conninfo_to_dict(parse_target(
        "postgresql:///db?host=/var/run/postgresql&schema=billing").conninfo)
    assert socket["host"] == "/var/run/postgresql" and socket["dbname"] == "db"
    own = conninfo_to_dict(parse_target(
        "postgresql://h/db?options=-c%20search_path%3Dmine").conninfo)
    assert own["options"] == "-c search_path=mine"  # no schema asked: theirs is kept


def test_without_a_schema_a_project_never_lands_in_a_schema_named_after_its_user(
        shared_database: str) -> None:
    """PostgreSQL's default path is ``"$user", public``: once another project made a schema
    called ``postgres`` (our user), unpinned tables would be looked up there."""
    other = open_store(f"{shared_database}?schema=postgres")
    other.migrate()
    plain = open_store(shared_database)
    try:
        plain.migrate()
        key = Engine(other).create_api_key("prod")
        assert Engine(plain).authenticate(key) is None
        assert Engine(other).authenticate(key) == "prod"
    finally:
        other.close()
        plain.close()


def test_sqlite_refuses_options(tmp_path) -> None:
    with pytest.raises(ConfigError, match="own file"):
        open_store(f"sqlite:///{tmp_path / 'x.db'}?schema=billing")


def test_cli_keys_of_one_project_are_not_listed_or_accepted_in_another(
        shared_database: str, tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from outlast.cli.main import cli

    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("OUTLAST_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()

    def outlast(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    billing, search = f"{shared_database}?schema=billing", f"{shared_database}?schema=search"
    for url in (billing, search):
        outlast("migrate", "--database-url", url)
    key = outlast("keys", "create", "--env", "prod", "--database-url", billing).strip()
    assert key[:11] in outlast("keys", "list", "--database-url", billing)
    assert key[:11] not in outlast("keys", "list", "--database-url", search)
    store = open_store(search)
    try:
        assert Engine(store).authenticate(key) is None
    finally:
        store.close()
