"""``/api/v1/errors`` on SQLite and PostgreSQL: failures grouped by task, error type and
normalized message, counted over a window of the fake clock, with links to their runs."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.conftest import T0, trigger_run
from tests.errors.support import attempt, error, fail_run, retry_due
from tests.server.test_openapi_schemas import _Conformance

from outlast.clock import FakeClock
from outlast.engine import Engine

API = "/api/v1"
HOUR = 3600.0


def _get(client: TestClient, path: str) -> Any:
    answer = client.get(API + path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def groups(client: TestClient, query: str = "") -> dict[tuple[str, str], dict[str, Any]]:
    """The groups of ``GET /errors``, by (task, pattern)."""
    data = _get(client, f"/errors{query}")["data"]
    found = {(g["task_id"], g["pattern"]): g for g in data}
    assert len(found) == len(data), "two groups with the same task and pattern"
    return found


def test_failures_group_by_task_type_and_normalized_message(
        client: TestClient, engine: Engine, clock: FakeClock, tasks: tuple[str, ...]) -> None:
    first = fail_run(engine, "hello", "order 42 not found for 'ada' "
                                      "(run_01jf8zq3v6w2x9c4b7n5m8k3hd)")
    clock.advance(1)
    second = fail_run(engine, "hello", "order 7  not found for \"bob\" "
                                       "(run_01jf8zq3v6w2x9c4b7n5m8k3he)")
    fail_run(engine, "hello", "order 42 not found for 'ada'", kind="KeyError")  # another type
    fail_run(engine, "other", "order 42 not found for 'ada'")  # another task
    fail_run(engine, "hello", "payment declined")  # another message

    found = groups(client)
    assert len(found) == 4
    order = found[("hello", "order <n> not found for <str> (<run>)")]
    assert (order["error_type"], order["attempts_failed"], order["runs_failed"]) == (
        "ValueError", 2, 0)  # retries are left: no run failed for good yet
    assert order["message"].startswith("order 7 not found for \"bob\"")  # the newest, tidied
    assert (order["first_seen"], order["last_seen"]) == (T0, T0 + 1)
    assert found[("hello", "order <n> not found for <str>")]["error_type"] == "KeyError"
    assert found[("other", "order <n> not found for <str>")]["task_id"] == "other"
    assert ("hello", "payment declined") in found
    # the group's runs, through the runs list
    runs = _get(client, f"/runs?fingerprint={order['fingerprint']}")["data"]
    assert {r["id"] for r in runs} == {first, second}
    assert _get(client, "/errors?task=other")["data"][0]["task_id"] == "other"
    assert len(_get(client, "/errors?task=other")["data"]) == 1


def test_a_retried_then_successful_run_counts_its_failed_attempt_only(
        client: TestClient, engine: Engine, clock: FakeClock, tasks: tuple[str, ...]) -> None:
    run_id = fail_run(engine, "hello", "connection reset by peer 10.0.0.7:5432")
    retry_due(clock)
    assert attempt(engine, "completed", output={"ok": True}) == [run_id]

    (group,) = groups(client).values()
    assert (group["attempts_failed"], group["runs_failed"]) == (1, 0)
    assert group["pattern"] == "connection reset by peer <n>:<n>"
    detail = _get(client, f"/errors/{group['fingerprint']}")
    (seen,) = detail["occurrences"]
    assert (seen["run_id"], seen["attempt"], seen["final"], seen["run_status"]) == (
        run_id, 1, False, "COMPLETED")
    assert "Traceback" in detail["stack"] and "ValueError: connection reset" in detail["stack"]


def test_runs_failed_for_good_are_counted_apart_from_attempts(
        client: TestClient, engine: Engine, clock: FakeClock, tasks: tuple[str, ...]) -> None:
    fail_run(engine, "hello", "timeout after 30s", max_attempts=1)
    run_id = fail_run(engine, "hello", "timeout after 31s", max_attempts=2)
    retry_due(clock)
    attempt(engine, "failed", error=error("timeout after 32s"))
    assert engine.retrieve("dev", run_id)["status"] == "FAILED"

    (group,) = groups(client).values()
    assert (group["attempts_failed"], group["runs_failed"]) == (3, 2)
    assert group["last_seen"] == T0 + 60 and group["first_seen"] == T0
    latest = _get(client, f"/errors/{group['fingerprint']}")["occurrences"][0]
    assert (latest["run_id"], latest["attempt"], latest["final"], latest["message"]) == (
        run_id, 2, True, "timeout after 32s")


def test_a_lost_worker_and_a_timeout_are_failures_a_hand_back_is_not(
        client: TestClient, engine: Engine, clock: FakeClock, tasks: tuple[str, ...]) -> None:
    fail_run(engine, "hello", "boom")  # another task's failure, filtered out
    trigger_run(engine, "other", max_attempts=1)
    attempt(engine, "released", error={"type": "WorkerShutdown", "message": "bye"})
    attempt(engine, "timed_out",
            error={"type": "MaxDurationExceeded", "message": "ran over 60 s"})
    trigger_run(engine, "other")
    engine.claim("dev", "worker-9", ["other"], 10)
    clock.advance(120)  # the lease ran out: the sweeper takes the attempt back as a crash
    engine.sweep()

    found = {g["error_type"]: g for g in _get(client, "/errors?task=other")["data"]}
    assert set(found) == {"MaxDurationExceeded", "WorkerLost"}
    assert found["MaxDurationExceeded"]["runs_failed"] == 1
    assert found["WorkerLost"]["pattern"] == (
        "worker worker-<n> stopped heartbeating; the attempt was lost")


def test_counts_follow_the_window_on_the_fake_clock(
        client: TestClient, engine: Engine, clock: FakeClock, tasks: tuple[str, ...]) -> None:
    fail_run(engine, "hello", "disk full")
    clock.advance(2 * HOUR)
    fail_run(engine, "hello", "disk full")
    clock.advance(30 * 60)

    def counted(window: str) -> tuple[int, list[int]]:
        (group,) = _get(client, f"/errors?window={window}")["data"]
        return group["attempts_failed"], group["counts"]

    attempts, counts = counted("1h")
    # 12 slots of 5 minutes; the failure 30 minutes ago is in the 7th
    assert (attempts, len(counts), counts[6], sum(counts)) == (1, 12, 1, 1)
    attempts, counts = counted("24h")  # the default: 24 slots of an hour
    assert (attempts, len(counts), counts[21], counts[23], sum(counts)) == (2, 24, 1, 1, 2)
    assert _get(client, "/errors")["data"][0]["window"] == "24h"
    clock.advance(2 * 86400)
    assert _get(client, "/errors?window=24h")["data"] == []
    assert counted("7d")[0] == 2 and len(counted("30d")[1]) == 30
    (group,) = _get(client, "/errors?window=7d")["data"]
    # first and last seen are of all time, whatever the window
    assert (group["first_seen"], group["last_seen"]) == (T0, T0 + 2 * HOUR)
    assert _get(client, f"/errors/{group['fingerprint']}?window=1h")["attempts_failed"] == 0


@pytest.mark.parametrize("path", ["/errors?window=2h", "/errors?window=0", "/errors/nothex?x=1",
                                  "/errors/0123456789abcdef?window=week"])
def test_bad_input_is_a_400_naming_it(client: TestClient, tasks: tuple[str, ...],
                                      path: str) -> None:
    answer = client.get(API + path)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"


def test_an_unknown_group_is_a_404(client: TestClient, tasks: tuple[str, ...]) -> None:
    answer = client.get(API + "/errors/0123456789abcdef")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_groups_are_per_environment(client: TestClient, engine: Engine,
                                    as_env: Any, tasks: tuple[str, ...]) -> None:
    fail_run(engine, "hello", "boom")
    assert as_env("staging").get(API + "/errors").json()["data"] == []
    fingerprint = _get(client, "/errors")["data"][0]["fingerprint"]
    assert as_env("staging").get(f"{API}/errors/{fingerprint}").status_code == 404


def test_answers_match_the_openapi_document(client: TestClient, engine: Engine,
                                            clock: FakeClock, tasks: tuple[str, ...]) -> None:
    fail_run(engine, "hello", "boom")
    spec = _Conformance(client.get("/api/openapi.json").json())
    listed = _get(client, "/errors")
    spec.check("GET", "/errors", "/errors", listed)
    path = f"/errors/{listed['data'][0]['fingerprint']}"
    spec.check("GET", path, "/errors/{fingerprint}", _get(client, path))
