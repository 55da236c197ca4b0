"""``outlast schedules list|create|delete|activate|deactivate`` against a database."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.engine import Engine


@pytest.fixture
def run(engine: Engine, register: Any, cli_on_store: Any) -> Any:
    register(engine, "report")
    return lambda *args: cli_on_store("schedules", *args)


def test_create_list_pause_resume_delete(run: Any) -> None:
    made = run("create", "report", "0 9 * * MON-FRI", "--timezone", "Europe/Berlin",
               "--external-id", "user-17", "--deduplication-key", "user-17-report")
    assert made.exit_code == 0, made.output
    schedule_id = made.stdout.strip()
    assert schedule_id.startswith("sched_")
    assert "At 09:00 on Monday through Friday" in made.stderr
    again = run("create", "report", "0 10 * * *", "--deduplication-key", "user-17-report")
    assert again.stdout.strip() == schedule_id
    listed = run("list")
    assert listed.exit_code == 0 and schedule_id in listed.stdout
    assert "0 10 * * *" in listed.stdout and "imperative" in listed.stdout
    assert "no (deactivated)" in run("deactivate", schedule_id).stderr + run("list").stdout
    assert "active" in run("activate", schedule_id).stderr
    assert run("delete", schedule_id).stdout.strip() == schedule_id
    assert "no schedules" in run("list").stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (("create", "report", "0 9 * *"), 2, "expected 5 fields"),
    (("create", "report", "@daily", "--timezone", "Mars/Olympus"), 2, "unknown time zone"),
    (("create", "nope", "@daily"), 1, "unknown task 'nope'"),
    (("delete", "sched_nope"), 1, "no schedule 'sched_nope'"),
])
def test_errors_are_one_line(run: Any, args: tuple[str, ...], code: int, message: str) -> None:
    result = run(*args)
    assert result.exit_code == code
    assert result.stderr.startswith("error: ") and message in result.stderr
