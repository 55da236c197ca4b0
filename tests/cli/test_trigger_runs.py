"""``outlast trigger`` and ``outlast runs``, through a client on the test database.

With ``OUTLAST_DATABASE_URL`` set and no server, the client talks to the database in
process through the same API handlers a server uses, so these tests need no worker: a
run is triggered, read and acted on, and completing it is the acceptance test's job.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import click
import httpx
import pytest

from outlast import Client
from outlast.cli import trigger as trigger_cli
from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.engine import versions as registry
from outlast.store import open_store


@pytest.fixture
def database(store_url: str, project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The test database, with task ``report`` registered, as the CLI's default target."""
    store = open_store(store_url)
    engine = Engine(store)
    engine.register_tasks("dev", [TaskDefinition(id="report", queue="report")])
    with engine.store.transaction() as tx:  # versions runs are pinned or moved to here
        for version in ("20261204.1", "v2"):
            registry.register(tx, "dev", version, [TaskDefinition(id="report", queue="report")],
                              source="deploy", now=engine.clock.now(), promote=False)
    monkeypatch.setenv("OUTLAST_DATABASE_URL", store_url)
    yield engine
    store.close()


def test_trigger_prints_the_run_id(database: Engine, outlast) -> None:
    result = outlast("trigger", "report", '{"month": "2026-01"}', "--tag", "team:a",
                     "--tag", "monthly", "--priority", "5", "--delay", "5m")
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip()
    run = database.retrieve("dev", run_id)
    assert run["payload"] == {"month": "2026-01"}
    assert run["tags"] == ["team:a", "monthly"]
    assert run["priority"] == 5
    assert run["status"] == "DELAYED"


def test_trigger_reads_the_payload_from_stdin(database: Engine, outlast) -> None:
    result = outlast("trigger", "report", "-", input='[1, 2, 3]')
    assert database.retrieve("dev", result.stdout.strip())["payload"] == [1, 2, 3]


def test_idempotent_trigger_says_so(database: Engine, outlast) -> None:
    first = outlast("trigger", "report", "--idempotency-key", "k1")
    second = outlast("trigger", "report", "--idempotency-key", "k1")
    assert first.stdout == second.stdout
    assert "existing run" in second.stderr


def test_bad_json_is_a_usage_error(database: Engine, outlast) -> None:
    result = outlast("trigger", "report", "{name: Ada}")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the payload is not valid JSON")
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_option_is_a_usage_error(database: Engine, outlast) -> None:
    result = outlast("trigger", "report", "--delay", "soon")
    assert result.exit_code == 2
    assert "delay" in result.stderr and "Traceback" not in result.output


def test_unknown_task(database: Engine, outlast) -> None:
    result = outlast("trigger", "nope", "{}")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unknown task 'nope'")
    assert "Traceback" not in result.output


def test_wait_gives_up_after_the_timeout(database: Engine, outlast) -> None:
    result = outlast("trigger", "report", "--wait", "--timeout", "0.3")
    assert result.exit_code == 1
    assert "is still QUEUED after 0.3s" in result.stderr


def test_runs_list_show_logs_cancel_replay(database: Engine, outlast) -> None:
    run_id = outlast("trigger", "report", '{"n": 1}', "--tag", "t1").stdout.strip()
    other = outlast("trigger", "report", '{"n": 2}').stdout.strip()

    listed = outlast("runs", "list", "--tag", "t1")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "TASK", "STATUS", "ATTEMPTS", "CREATED", "DURATION", "TAGS"]
    assert [line.split()[0] for line in lines[1:]] == [run_id]
    assert other in outlast("runs", "list", "--status", "queued", "--limit", "5").stdout

    shown = outlast("runs", "show", run_id)
    assert f"{run_id}  report  QUEUED" in shown.stdout
    assert '"n": 1' in shown.stdout

    assert outlast("runs", "logs", run_id).stderr.strip() == "no logs yet"

    canceled = outlast("runs", "cancel", run_id)
    assert canceled.stdout.strip() == f"{run_id} CANCELED"
    again = outlast("runs", "cancel", run_id)
    assert again.exit_code == 1 and "already CANCELED" in again.stderr

    replayed = outlast("runs", "replay", run_id, '{"n": 3}').stdout.strip()
    assert replayed != run_id
    assert database.retrieve("dev", replayed)["payload"] == {"n": 3}
    assert database.retrieve("dev", replayed)["replayed_from"] == run_id


def test_failed_run_shows_its_traceback(database: Engine, outlast, capsys) -> None:
    from outlast.cli.trigger import report
    from outlast.engine import Outcome
    from outlast.sdk.handles import Run

    run_id = outlast("trigger", "report").stdout.strip()
    [row] = database.claim("dev", "worker_test", None, 1)
    error = {"type": "KeyError", "message": "'month'", "stack": "Traceback...\nKeyError: 'month'"}
    database.record([Outcome(run_id=run_id, lease_id=row["lease_id"], attempt=1,
                             kind="failed", error=error, retry_override=False)])
    shown = outlast("runs", "show", run_id).stdout
    assert "KeyError: 'month'" in shown and "Traceback..." in shown
    with pytest.raises(click.exceptions.Exit) as exited:
        report(Run.from_record(database.retrieve("dev", run_id)))
    assert exited.value.exit_code == 1
    printed = capsys.readouterr().err
    assert f"run {run_id} ended FAILED after 1 attempt(s)" in printed
    assert printed.strip().endswith("error: KeyError: 'month'")


def test_unknown_run(database: Engine, outlast) -> None:
    result = outlast("runs", "show", "run_missing")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no run 'run_missing'")


def test_runs_list_empty(database: Engine, outlast) -> None:
    result = outlast("runs", "list", "--task", "report")
    assert result.exit_code == 0 and result.stderr.strip() == "no runs match"


def test_no_server_configured(project, outlast) -> None:
    result = outlast("runs", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no Outlast server configured")


def test_unreachable_server(project, outlast) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = outlast("trigger", "report", "--url", f"http://127.0.0.1:{port}", "--api-key", "k")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach the Outlast server at "
                                    f"http://127.0.0.1:{port}")


def test_dev_env_is_found_from_a_subdirectory(project, outlast, monkeypatch) -> None:
    (project / "outlast.toml").write_text("")
    (project / ".outlast").mkdir()
    (project / ".outlast" / "dev.env").write_text(
        "OUTLAST_API_URL=http://127.0.0.1:9\nOUTLAST_API_KEY=k\n")
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    result = outlast("runs", "list")
    assert "cannot reach the Outlast server at http://127.0.0.1:9" in result.stderr


def test_wait_prints_the_output_as_json(database: Engine, outlast, capsys) -> None:
    from outlast.cli.trigger import report
    from outlast.sdk.handles import Run

    record = database.retrieve("dev", outlast("trigger", "report").stdout.strip())
    record.update(status="COMPLETED", output={"greeting": "안녕하세요"})
    report(Run.from_record(record))
    printed = capsys.readouterr().out
    assert json.loads(printed) == {"greeting": "안녕하세요"}
    assert "안녕하세요" in printed


def _client_answering(*statuses: int, prefix: str = "") -> Client:
    """A client whose server (at ``http://dev.test`` + ``prefix``) answers its ``/readyz``
    with these statuses, then the last one."""
    answers = list(statuses)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path != f"{prefix}/readyz":
            return httpx.Response(404)
        status = answers.pop(0) if len(answers) > 1 else answers[0]
        body = {"status": "ready"} if status == 200 else {
            "status": "not_ready", "reason": "the worker has not registered its tasks yet"}
        return httpx.Response(status, json=body)

    client = Client(url="http://dev.test", api_key="k")
    client.transport._http = httpx.Client(  # type: ignore[attr-defined]
        base_url=f"http://dev.test{prefix}/api/v1", transport=httpx.MockTransport(handle))
    return client


@pytest.mark.parametrize(("statuses", "ready"), [
    ((503, 503, 200), True),   # a starting dev server: wait, then trigger again
    ((200,), True),            # it became ready between the trigger and the check
    ((404,), False),           # a server without /readyz: the unknown task is the answer
])
def test_a_trigger_waits_for_a_starting_server(statuses: tuple[int, ...], ready: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trigger_cli, "READY_POLL", 0.0)
    with _client_answering(*statuses) as client:
        assert trigger_cli.wait_ready(client, timeout=30) is ready


def test_a_server_that_stays_not_ready_is_named(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(trigger_cli, "READY_POLL", 0.0)
    with _client_answering(503) as client:
        assert trigger_cli.wait_ready(client, timeout=0.05) is False
    assert "still not ready after 0.05s: the worker has not registered its tasks yet" \
        in capsys.readouterr().err


@pytest.mark.parametrize(("server", "ready"), [
    ("http://dev.test", "http://dev.test/readyz"),
    ("http://dev.test/", "http://dev.test/readyz"),
    ("https://host.example/outlast", "https://host.example/outlast/readyz"),
    ("https://host.example:8443/a/b/", "https://host.example:8443/a/b/readyz"),
])
def test_readiness_is_asked_under_the_servers_path_prefix(server: str, ready: str) -> None:
    with Client(url=server, api_key="k") as client:
        http = client.transport.http  # type: ignore[attr-defined]
        assert str(trigger_cli.ready_url(http.base_url)) == ready


def test_a_server_behind_a_path_prefix_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trigger_cli, "READY_POLL", 0.0)
    with _client_answering(503, 200, prefix="/outlast") as client:
        assert trigger_cli.wait_ready(client, timeout=30) is True


def test_runs_resume_and_move_a_parked_run(database: Engine, outlast) -> None:
    from outlast.engine import Outcome

    run_id = outlast("trigger", "report").stdout.strip()
    (row,) = database.claim("dev", "worker-1", None, 1)
    database.record([Outcome(run_id, row["lease_id"], row["attempt_count"], "parked", error={
        "seq": 0, "recorded": {"kind": "step", "name": "a"},
        "called": {"kind": "step", "name": "b"}})])
    shown = outlast("runs", "show", run_id)
    assert "PARKED" in shown.stdout and f"outlast runs resume {run_id}" in shown.stdout
    assert run_id in outlast("runs", "list", "--status", "parked").stdout
    again = outlast("runs", "move", run_id)
    assert again.exit_code == 2 and "--version" in again.stderr
    bad = outlast("runs", "move", run_id, "--version", "not a version")
    assert bad.exit_code == 2, bad.output
    assert bad.stderr.startswith("error: version 'not a version' is not a version name")
    moved = outlast("runs", "move", run_id, "--version", "20261204.1")
    assert moved.exit_code == 0, moved.output
    assert moved.stdout.strip() == f"{run_id} QUEUED (version 20261204.1)"
    refused = outlast("runs", "resume", run_id)
    assert refused.exit_code == 1 and "not PARKED" in refused.stderr
    assert database.retrieve("dev", run_id)["version"] == "20261204.1"


def test_runs_resume_with_a_version(database: Engine, outlast) -> None:
    from outlast.engine import Outcome

    run_id = outlast("trigger", "report").stdout.strip()
    (row,) = database.claim("dev", "worker-1", None, 1)
    database.record([Outcome(run_id, row["lease_id"], row["attempt_count"], "parked")])
    resumed = outlast("runs", "resume", run_id, "--version", "v2")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.strip() == f"{run_id} QUEUED (version v2)"


def test_trigger_pins_a_version_and_runs_list_filters_by_it(database: Engine, outlast) -> None:
    pinned = outlast("trigger", "report", "--version", "v2")
    assert pinned.exit_code == 0, pinned.output
    run_id = pinned.stdout.strip()
    other = outlast("trigger", "report").stdout.strip()
    assert database.retrieve("dev", run_id)["version"] == "v2"
    listed = outlast("runs", "list", "--version", "v2")
    assert run_id in listed.stdout and other not in listed.stdout
    unknown = outlast("trigger", "report", "--version", "never-deployed")
    assert unknown.exit_code == 2 and "not registered" in unknown.stderr


def test_runs_show_gives_the_numbers_the_run_page_gives(database: Engine, outlast) -> None:
    from outlast.engine import Outcome

    run_id = outlast("trigger", "report").stdout.strip()
    [row] = database.claim("dev", "worker_test", None, 1)
    database.record([Outcome(run_id=run_id, lease_id=row["lease_id"], attempt=1,
                             kind="completed", executed=8.0)])
    shown = outlast("runs", "show", run_id).stdout
    run = database.retrieve("dev", run_id)
    assert "attempts    1 of 3" in shown
    assert (f"duration    8.00s (waiting 0.00s, queued {run['queued_duration']:.2f}s)   "
            f"cost {run['cost']:.6f}") in shown


def test_runs_show_gives_a_large_payload_as_its_size_and_url(database: Engine, outlast
                                                             ) -> None:
    big = json.dumps({"n": "x" * (1024 * 1024)})
    run_id = outlast("trigger", "report", "-", input=big).stdout.strip()
    shown = outlast("runs", "show", run_id)
    assert shown.exit_code == 0
    assert f"1.0 MB, kept as a blob: GET /api/v1/runs/{run_id}/payload" in shown.stdout
    assert "xxxx" not in shown.stdout
    full = outlast("runs", "show", run_id, "--full")
    assert "x" * 1000 in full.stdout
