"""A run's attempts join the trace that triggered it, on a real worker and both stores.

The worker's children export their spans through the OpenTelemetry SDK into files
(``otel_project``); the spans of this process (an app's request span) are in the SDK's
in-memory exporter (``tests.otel_spans``). A child run's ``attempt 1`` is a child of its
parent's ``trigger_and_wait`` span; a run triggered inside an app span, or over HTTP with
a ``traceparent`` header, is in that trace; each attempt of a retried run is a child of
the trigger's context, not of the attempt before; a malformed header is ignored. A failed
attempt, and a step whose try failed, are ERROR spans with the exception; a worker
stopped right after a run exports all its spans first.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace

import tests.worker.support as worker_support
from outlast.engine import Engine
from outlast.sdk.client import Client
from outlast.sdk.transports import LocalTransport
from outlast.server.app import create_app
from outlast.store import Store
from outlast.worker.supervisor import Supervisor
from tests.eventually import eventually
from tests.otel_spans import recorded_spans
from tests.server.conftest import DEV_KEY, LiveServer
from tests.worker.support import trigger, wait_final

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PROJECT = Path(__file__).parent / "otel_project"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = "00f067aa0ba902b7"


@pytest.fixture
def live_engine(store: Store) -> Engine:
    return Engine(store, lease_seconds=5)


@pytest.fixture
def exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the worker's children export their spans to."""
    folder = tmp_path / "spans"
    folder.mkdir()
    monkeypatch.setenv("OUTLAST_TEST_SPANS", str(folder))
    return folder


@pytest.fixture
def worker(live_engine: Engine, exported: Path) -> Iterator[Supervisor]:
    with worker_support.running_worker(live_engine, 2, root=PROJECT, probe="ot-parent") as sup:
        yield sup


def spans_of(folder: Path, run_id: str, count: int) -> list[dict[str, Any]]:
    """The ``count`` spans the children exported for ``run_id``, in the order they ended."""

    def found() -> list[dict[str, Any]] | None:
        spans = [json.loads(line) for path in sorted(folder.glob("*.jsonl"))
                 for line in path.read_text(encoding="utf-8").splitlines()]
        mine = [s for s in spans if s["attributes"].get("run_id") == run_id]
        return sorted(mine, key=lambda s: s["end_time"]) if len(mine) >= count else None

    return eventually(found, 10, f"{count} spans of run {run_id}")


def ids(span: dict[str, Any]) -> tuple[str, str]:
    """(trace id, span id) as 32 and 16 hex digits."""
    return (span["context"]["trace_id"].removeprefix("0x"),
            span["context"]["span_id"].removeprefix("0x"))


def parent_of(span: dict[str, Any]) -> str | None:
    parent = span["parent_id"]
    return None if parent is None else str(parent).removeprefix("0x")


def named(spans: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [found] = [s for s in spans if s["name"] == name]
    return found


def http_client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine, dev_api_key=DEV_KEY, scheduler=False),
                      headers={"Authorization": f"Bearer {DEV_KEY}"})


def test_a_child_runs_attempt_is_a_child_of_the_parents_trigger_and_wait_span(
        live_engine: Engine, worker: Supervisor, exported: Path) -> None:
    parent_id = trigger(live_engine, "ot-parent", {"n": 1})
    assert wait_final(live_engine, parent_id)["status"] == "COMPLETED"
    [child] = live_engine.list_runs("dev", parent_id=parent_id)[0]
    waited = named(spans_of(exported, parent_id, 3), "trigger_and_wait ot-child")
    attempt = named(spans_of(exported, child["id"], 1), "attempt 1")
    assert ids(attempt)[0] == ids(waited)[0]
    assert parent_of(attempt) == ids(waited)[1]


def test_a_run_triggered_inside_an_app_span_is_in_its_trace(
        live_engine: Engine, worker: Supervisor, exported: Path) -> None:
    recorded_spans()
    client = Client(transport=LocalTransport(live_engine, "dev"))
    with trace.get_tracer("app").start_as_current_span("POST /orders") as request:
        run_id = client.tasks.trigger("ot-child", {"order": 7}).id
    assert wait_final(live_engine, run_id)["status"] == "COMPLETED"
    attempt = named(spans_of(exported, run_id, 1), "attempt 1")
    assert ids(attempt)[0] == trace.format_trace_id(request.get_span_context().trace_id)
    assert parent_of(attempt) == trace.format_span_id(request.get_span_context().span_id)


def test_a_retried_runs_attempts_are_siblings_under_the_trigger(
        live_engine: Engine, worker: Supervisor, exported: Path) -> None:
    """Each attempt hangs from the trigger's context, none from the one before."""
    with http_client(live_engine) as http:
        answer = http.post("/api/v1/tasks/ot-flaky/trigger", json={},
                           headers={"traceparent": f"00-{TRACE}-{CALLER}-01"})
    assert answer.status_code == 201, answer.text
    run = wait_final(live_engine, answer.json()["id"])
    assert (run["status"], run["attempts"]) == ("COMPLETED", 2)
    spans = spans_of(exported, run["id"], 4)
    first, second = named(spans, "attempt 1"), named(spans, "attempt 2")
    assert first["attributes"]["outlast.outcome"] == "failed"
    for attempt in (first, second):
        assert ids(attempt)[0] == TRACE
        assert parent_of(attempt) == CALLER


#: each one ignored: the run starts a trace of its own (``observability.valid_traceparent``)
MALFORMED = [
    "not-a-traceparent",
    f"00-{'0' * 32}-{CALLER}-01",  # an all-zero trace id
    f"ff-{TRACE}-{CALLER}-01",  # a version that may never be sent
    f"00-{TRACE.upper()}-{CALLER}-01",  # upper-case hex
    f"00-{TRACE}-{CALLER}-01-extra",  # version 00 has four fields
    f"00-{TRACE}-{CALLER}-01" + " " * 600,  # past the length any header may have
]


def test_a_malformed_traceparent_header_is_ignored(
        live_engine: Engine, worker: Supervisor, exported: Path) -> None:
    run_ids = []
    with http_client(live_engine) as http:
        for header in MALFORMED:
            answer = http.post("/api/v1/tasks/ot-child/trigger", json={"payload": 1},
                               headers={"traceparent": header})
            batch = http.post("/api/v1/batch", json={"items": [{"task": "ot-child"}]},
                              headers={"traceparent": header})
            assert (answer.status_code, batch.status_code) == (201, 201), header
            run_ids += [answer.json()["id"], batch.json()["runs"][0]["id"]]
    for run_id in run_ids:
        assert wait_final(live_engine, run_id)["status"] == "COMPLETED"
        attempt = named(spans_of(exported, run_id, 1), "attempt 1")
        assert parent_of(attempt) is None  # a trace of its own
        assert ids(attempt)[0] != TRACE


def test_an_http_client_sends_its_current_span_as_traceparent(
        live_engine: Engine, worker: Supervisor, exported: Path) -> None:
    recorded_spans()
    app = create_app(live_engine, dev_api_key=DEV_KEY, scheduler=False)
    with (LiveServer(app) as server, Client(url=server.url, api_key=DEV_KEY) as client,
          trace.get_tracer("app").start_as_current_span("checkout") as request):
        single = client.tasks.trigger("ot-child", 1).id
        [batched] = client.tasks.batch_trigger("ot-child", [{"payload": 2}]).runs
    context = request.get_span_context()
    for run_id in (single, batched.id):
        assert wait_final(live_engine, run_id)["status"] == "COMPLETED"
        attempt = named(spans_of(exported, run_id, 1), "attempt 1")
        assert ids(attempt)[0] == trace.format_trace_id(context.trace_id)
        assert parent_of(attempt) == trace.format_span_id(context.span_id)


def status_of(span: dict[str, Any]) -> tuple[str, str | None]:
    return span["status"]["status_code"], span["status"].get("description")


def exceptions_in(span: dict[str, Any]) -> list[str]:
    """The ``exception.message`` of each exception event on ``span``."""
    return [e["attributes"]["exception.message"] for e in span["events"]
            if e["name"] == "exception"]


def test_a_failed_attempt_and_a_retried_step_are_error_spans(
        live_engine: Engine, worker: Supervisor, exported: Path) -> None:
    """Attempt 1's step fails both tries and the attempt fails; attempt 2's step fails
    its first try only: every failed try is on its step's span, and only the failed
    attempt and the step that failed for good are errors."""
    run_id = trigger(live_engine, "ot-flaky")
    assert wait_final(live_engine, run_id)["status"] == "COMPLETED"
    spans = spans_of(exported, run_id, 4)
    first, second = named(spans, "attempt 1"), named(spans, "attempt 2")
    assert status_of(first) == ("ERROR", "RuntimeError: the card was declined")
    assert exceptions_in(first) == ["the card was declined"]
    assert status_of(second) == ("UNSET", None)
    steps = {parent_of(s): s for s in spans if s["name"] == "step charge"}
    failed, retried = steps[ids(first)[1]], steps[ids(second)[1]]
    assert status_of(failed)[0] == "ERROR" and status_of(retried) == ("UNSET", None)
    assert exceptions_in(failed) == ["the card was declined"] * 2
    assert exceptions_in(retried) == ["the card was declined"]


def test_a_worker_stopped_right_after_a_run_has_exported_its_spans(
        live_engine: Engine, exported: Path) -> None:
    """The children batch their spans (``otel_project``): nothing is read until the
    worker has stopped, and nothing is missing."""
    with worker_support.running_worker(live_engine, 2, root=PROJECT, probe="ot-parent"):
        parent_id = trigger(live_engine, "ot-parent", {"n": 2})
        assert wait_final(live_engine, parent_id)["status"] == "COMPLETED"
    [child] = live_engine.list_runs("dev", parent_id=parent_id)[0]
    spans = [json.loads(line) for path in sorted(exported.glob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines()]
    names = sorted(s["name"] for s in spans
                   if s["attributes"].get("run_id") in (parent_id, child["id"]))
    assert names == ["attempt 1", "attempt 1", "attempt 1", "trigger_and_wait ot-child"]
