"""``outlast migrate`` and ``outlast keys create``, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from outlast.engine import Engine
from outlast.store import open_store
from outlast.store.queries import migration_files


def test_migrate_applies_then_reports_up_to_date(empty_store_url: str, outlast) -> None:
    first = outlast("migrate", "--database-url", empty_store_url)
    assert first.exit_code == 0, first.output
    dialect = "sqlite" if empty_store_url.startswith("sqlite") else "postgres"
    names = [name for name, _ in migration_files(dialect)]
    assert first.stdout.splitlines() == [f"applied {n}" for n in names]
    second = outlast("migrate", "--database-url", empty_store_url)
    assert second.stdout.strip() == "database is up to date"


def test_migrate_uses_the_project_database(project: Path, outlast) -> None:
    (project / "outlast.toml").write_text('database_url = "sqlite:///state/runs.db"\n')
    assert outlast("migrate").exit_code == 0
    assert (project / "state" / "runs.db").is_file()


def test_migrate_hides_passwords(project: Path, outlast) -> None:
    result = outlast("migrate", "--database-url", "postgresql://me:s3cret@127.0.0.1:1/db")
    assert result.exit_code == 1
    assert "s3cret" not in result.output
    assert "postgresql://me:***@127.0.0.1:1/db" in result.stderr


def test_keys_create_prints_a_working_key_once(store_url: str, outlast) -> None:
    result = outlast("keys", "create", "--env", "prod", "--database-url", store_url)
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("ol_prod_")
    assert "not be shown again" in result.stderr
    store = open_store(store_url)
    try:
        assert Engine(store).authenticate(key) == "prod"
    finally:
        store.close()


def test_keys_create_needs_a_known_environment(project: Path, outlast) -> None:
    result = outlast("keys", "create", "--env", "production")
    assert result.exit_code == 2
    assert "'production' is not one of" in result.stderr


def test_unsupported_database_url_is_a_clean_error(project: Path, outlast) -> None:
    result = outlast("keys", "create", "--env", "dev", "--database-url", "mysql://x")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --database-url: unsupported database_url")
