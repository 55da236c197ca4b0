"""The SDK's public surface is typed: keyword options are checked by mypy and at run time,
and what the client reads back are frozen records, the same types everywhere."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

import outlast
from outlast import Client, Token, wait
from outlast.core.params import RunFilters, RunSelection
from outlast.core.records import AttemptRecord, EnvironmentLimit, QueueRecord, RunEvent, TaskRecord
from outlast.engine import Engine
from outlast.errors import ValidationError
from outlast.sdk.transports import LocalTransport
from tests.conftest import definition


@pytest.fixture
def client(engine: Engine) -> Client:
    engine.register_tasks("dev", [definition("hello")])
    return Client(transport=LocalTransport(engine, "dev"))


def test_a_token_from_the_client_is_the_token_wait_hands_out(client: Client) -> None:
    token = client.tokens.create(timeout=60.0, tags=["a"])
    assert type(token) is Token
    assert client.tokens.retrieve(token.id) == token
    assert client.tokens.list(tag="a") == [token]
    done = client.tokens.complete(token.id, {"ok": True})
    assert (done.status, done.output) == ("COMPLETED", {"ok": True})
    assert done["status"] == "COMPLETED"  # read as a dict, as before
    with pytest.raises(dataclasses.FrozenInstanceError):
        done.status = "PENDING"  # type: ignore[misc]
    with pytest.raises(TypeError):
        list(done)  # a record, not a sequence of its keys


def test_a_record_from_a_newer_server_ignores_fields_it_does_not_know() -> None:
    token = Token.from_json({"id": "wp_1", "url": None, "colour": "red"})
    assert token == Token(id="wp_1", url=None) and token.get("colour") is None


def test_wait_create_token_outside_a_run_returns_the_clients_token(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from outlast.sdk import client as client_module

    monkeypatch.setattr(client_module, "_default", client)
    token = wait.create_token(timeout="1h")
    assert type(token) is Token and client.tokens.retrieve(token.id) == token


def test_queues_tasks_and_run_parts_are_frozen_records(client: Client) -> None:
    handle = client.tasks.trigger("hello", {"n": 1}, tags=["x"], priority=2)
    [queue] = client.queues.list()
    assert isinstance(queue, QueueRecord) and (queue.name, queue.queued) == ("hello", 1)
    assert client.queues.update("hello", concurrency_limit=3).overrides == {
        "concurrency_limit": 3}
    assert isinstance(client.queues.environment_limit(), EnvironmentLimit)
    assert [t.id for t in client.tasks.list()] == ["hello"]
    assert isinstance(client.tasks.list()[0], TaskRecord)
    events = client.runs.events(handle.id)
    assert events and all(isinstance(e, RunEvent) for e in events)
    assert events[0].run_id == handle.id
    assert all(isinstance(a, AttemptRecord) for a in client.runs.attempts(handle.id))
    assert client.runs.logs(handle.id) == [] and client.runs.journal(handle.id) == []


def test_unknown_keyword_options_fail_at_run_time_naming_the_option(client: Client) -> None:
    with pytest.raises(ValidationError, match="dealy"):
        client.tasks.trigger("hello", {}, dealy="5m")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="runs.list.*stauts"):
        client.runs.list(stauts="FAILED")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="tokens.list.*colour"):
        client.tokens.list(colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="speed_limit"):
        client.queues.update("hello", speed_limit=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="schedules.update.*cronn"):
        client.schedules.update("sched_1", cronn="* * * * *")  # type: ignore[call-arg]


def test_a_bulk_selection_takes_the_runs_list_filters_without_paging(client: Client) -> None:
    """One filter set: a filter ``runs.list`` learns, a bulk action takes too."""
    paging = {"search", "sort", "limit", "cursor"}
    assert RunFilters.__optional_keys__ == RunSelection.__optional_keys__ | paging
    assert not RunSelection.__optional_keys__ & paging
    with pytest.raises(TypeError, match="bulk_actions.*'limit'"):
        client.bulk_actions.count(task="hello", limit=5)  # type: ignore[call-arg]


MISTAKES = """
    from outlast import Client, runs, schedules, task, tasks

    @task
    def hello(payload: dict) -> None: ...

    client = Client(url="http://localhost")
    hello.trigger({}, dealy="5m")
    tasks.trigger("hello", {}, priority="high")
    client.tasks.trigger("hello", {}, tgas=["a"])
    runs.list(stauts="FAILED")
    client.tokens.list(colour="red")
    client.queues.update("q", speed_limit=3)
    token = client.tokens.create()
    token.nope
    hello.trigger({}, delay="5m", tags=["a"], debounce={"key": "k", "delay": 5})
    schedules.update("s", task=hello, cron="0 * * * *")
    schedules.update("s", crom="0 * * * *")
    schedules.task(cron="@hourly", retyr=None)
"""


def test_mypy_rejects_unknown_options_and_wrong_types(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "mistakes.py"
    source.write_text(textwrap.dedent(MISTAKES))
    monkeypatch.setenv("MYPYPATH", str(Path(outlast.__file__).parents[1]))
    # its own cache: mypy writes one even without --incremental, and the suite's mypy run
    # in another worker process uses the project's
    out, _, _ = mypy_api.run(["--strict", "--no-incremental", "--follow-imports=silent",
                              "--allow-untyped-defs", "--disable-error-code=type-arg",
                              f"--cache-dir={tmp_path / 'mypy-cache'}", str(source)])
    lines = [line for line in out.splitlines() if ": error:" in line]
    wrong = {int(line.split(":")[1]) for line in lines}
    assert wrong == {8, 9, 10, 11, 12, 13, 15, 18, 19}, out  # lines 16 and 17 are right
