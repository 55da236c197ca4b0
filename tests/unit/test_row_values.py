"""A new run's row values (``triggering._shared_values``): what the task and options give
is worked out once and reused (``_fixed_values``), what the moment gives every time."""

from __future__ import annotations

from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.engine.triggering import _shared_values

NOW = 1_767_225_600.0


def test_the_moment_and_the_environment_are_each_rows_own() -> None:
    task = TaskDefinition(id="t", queue="q", ttl=30.0)
    delayed = parse_options({"delay": {"at": NOW + 100}}, NOW)
    first = _shared_values("dev", task, delayed, NOW)
    assert (first["status"], first["available_at"], first["queued_at"]) == (
        "DELAYED", NOW + 100, None)
    assert first["expires_at"] == NOW + 130 and first["created_at"] == NOW
    later = _shared_values("dev", task, delayed, NOW + 200)  # the same task and options
    assert (later["status"], later["available_at"], later["queued_at"]) == (
        "QUEUED", NOW + 200, NOW + 200)
    assert later["expires_at"] == NOW + 230 and first["status"] == "DELAYED"
    assert _shared_values("prod", task, delayed, NOW)["environment"] == "prod"


def test_options_and_definitions_are_told_apart() -> None:
    task = TaskDefinition(id="t", queue="q")
    plain = _shared_values("dev", task, parse_options({}, NOW), NOW)
    keyed = _shared_values("dev", task, parse_options({"idempotency_key": "k",
                                                       "tags": ["a"]}, NOW), NOW)
    assert (plain["idempotency_key"], plain["idempotency_expires_at"], plain["tags"]) == (
        None, None, "[]")
    assert keyed["idempotency_key"] == "k" and keyed["tags"] == '["a"]'
    assert keyed["idempotency_expires_at"] == NOW + 30 * 86400
    other = TaskDefinition(id="u", queue="r", machine="large-1x")
    row = _shared_values("dev", other, parse_options({}, NOW), NOW)
    assert (row["task_id"], row["queue"], row["machine"]) == ("u", "r", "large-1x")
