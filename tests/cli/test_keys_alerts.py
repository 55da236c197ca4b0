"""``outlast keys create|list|revoke`` and ``outlast alerts``, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from outlast.cli import runs as runs_cli
from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun, Outcome
from outlast.store import open_store


def test_keys_list_shows_prefixes_and_revoke_stops_a_key(store_url: str, outlast) -> None:
    key = outlast("keys", "create", "--env", "prod", "--database-url", store_url).stdout.strip()
    listed = outlast("keys", "list", "--database-url", store_url)
    assert listed.exit_code == 0, listed.output
    assert key[:11] in listed.stdout and key not in listed.stdout
    assert "active" in listed.stdout
    key_id = listed.stdout.splitlines()[1].split()[0]
    assert key_id.startswith("key_")
    revoked = outlast("keys", "revoke", key_id, "--database-url", store_url)
    assert revoked.exit_code == 0, revoked.output
    store = open_store(store_url)
    try:
        assert Engine(store).authenticate(key) is None
    finally:
        store.close()
    again = outlast("keys", "revoke", key_id, "--database-url", store_url)
    assert again.exit_code == 1 and "no active API key" in again.stderr
    assert "active" not in outlast("keys", "list", "--env", "prod", "--database-url",
                                   store_url).stdout.splitlines()[1]


def test_keys_create_with_a_scope_and_list_shows_it(store_url: str, outlast) -> None:
    made = outlast("keys", "create", "--env", "prod", "--scope", "read", "--database-url",
                   store_url)
    assert made.exit_code == 0, made.output
    assert "read-only prod key" in made.stderr
    outlast("keys", "create", "--env", "prod", "--database-url", store_url)
    listed = outlast("keys", "list", "--database-url", store_url).stdout.splitlines()
    assert listed[0].split()[:3] == ["ID", "ENV", "SCOPE"]
    assert sorted(line.split()[2] for line in listed[1:]) == ["full", "read"]
    store = open_store(store_url)
    try:
        grant = Engine(store).find_key(made.stdout.strip())
        assert grant is not None and grant.scope == "read"
    finally:
        store.close()
    wrong = outlast("keys", "create", "--env", "prod", "--scope", "admin", "--database-url",
                    store_url)
    assert wrong.exit_code == 2 and "admin" in wrong.stderr


def test_alerts_set_list_and_remove(store_url: str, outlast) -> None:
    done = outlast("alerts", "set", "--env", "prod", "http://127.0.0.1:9/hook",
                   "--secret", "s3cret", "--database-url", store_url)
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "s3cret"
    listed = outlast("alerts", "list", "--env", "prod", "--database-url", store_url)
    assert "http://127.0.0.1:9/hook" in listed.stdout
    assert outlast("alerts", "set", "--env", "prod", "ftp://x", "--database-url",
                   store_url).exit_code == 2
    removed = outlast("alerts", "remove", "--env", "prod", "--database-url", store_url)
    assert "removed" in removed.stderr
    assert "127.0.0.1:9" not in outlast("alerts", "list", "--database-url", store_url).stdout


def test_runs_logs_follow_prints_lines_until_the_run_is_final(
        store_url: str, project: object, outlast: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTLAST_DATABASE_URL", store_url)
    store = open_store(store_url)
    engine = Engine(store)
    try:
        engine.register_tasks("dev", [TaskDefinition(id="report", queue="report")])
        run_id = str(engine.trigger("dev", NewRun("report", "{}", TriggerOptions())).row["id"])
        [row] = engine.claim("dev", "w", None, 1)
        engine.append_logs([{"run_id": run_id, "lease_id": row["lease_id"], "attempt": 1,
                             "at": 1.0, "level": "info", "message": f"line {i}",
                             "attributes": "{}"} for i in range(3)])

        idle = threading.Event()

        def poll_pause(seconds: float) -> None:
            idle.set()  # the follower printed what there was and waits for more
            threading.Event().wait(0.05)

        monkeypatch.setattr(runs_cli, "time", SimpleNamespace(sleep=poll_pause))

        def finish_later() -> None:
            assert idle.wait(30), "the follower never waited for more lines"
            engine.append_logs([{"run_id": run_id, "lease_id": row["lease_id"], "attempt": 1,
                                 "at": 2.0, "level": "info", "message": "last line",
                                 "attributes": "{}"}])
            engine.record([Outcome(run_id, row["lease_id"], 1, "completed")])

        later = threading.Thread(target=finish_later)
        later.start()
        result = outlast("runs", "logs", run_id, "--follow")
        later.join()
    finally:
        store.close()
    assert result.exit_code == 0, result.output
    printed = [line for line in result.stdout.splitlines() if "line" in line]
    assert [p.split()[-1] for p in printed] == ["0", "1", "2", "line"]
