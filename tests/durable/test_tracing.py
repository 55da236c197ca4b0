"""With OpenTelemetry installed, attempts and durable operations become spans, logs
written inside them carry the trace id, and runs join the trace that triggered them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from outlast import logger, step, task, wait
from outlast.engine.trace import Span
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns
from tests.otel_spans import recorded_spans

reg = Registry()


@task(registry=reg)
def helper(payload: Any) -> int:
    return 1


@task(registry=reg)
def traced(payload: Any) -> str:
    value = step.run("fetch", lambda: "data")
    logger.info("fetched", size=len(value))
    wait.sleep(minutes=5)
    helper.trigger_and_wait({})
    return value


@task(registry=reg)
def fan_out(payload: Any) -> int:
    """Every way task code triggers runs, each its own child's parent span."""
    helper.trigger({})
    helper.batch_trigger([{"payload": 1}, {"payload": 2}])
    helper.trigger_and_wait({})
    helper.batch_trigger_and_wait([{"payload": 3}])
    return 7


@task(registry=reg)
async def fan_out_async(payload: Any) -> int:
    await helper.trigger_async({})
    await helper.batch_trigger_async([{"payload": 1}, {"payload": 2}])
    await helper.trigger_and_wait_async({})
    await helper.batch_trigger_and_wait_async([{"payload": 3}])
    return 7


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = recorded_spans()
    exporter.clear()
    yield exporter


def test_attempts_and_operations_are_spans(spans: InMemorySpanExporter) -> None:
    spans.clear()
    with TestRuns(reg) as env:
        run = env.run(traced)
        logs = env.logs(run.id)
    assert run.status == "COMPLETED"
    names = [s.name for s in spans.get_finished_spans()]
    assert names.count("attempt 1") == 4  # the parent's three runs of it, the child's one
    assert "step fetch" in names and "wait.sleep" in names
    attempt = next(s for s in spans.get_finished_spans() if s.name == "attempt 1")
    assert attempt.attributes is not None and attempt.attributes["run_id"] == run.id
    suspended = [s for s in spans.get_finished_spans() if s.name == "wait.sleep"]
    assert all(s.status.status_code.name != "ERROR" for s in suspended)
    fetched = next(entry for entry in logs if entry["message"] == "fetched")
    assert len(fetched["attributes"]["trace_id"]) == 32


def _pairs(tree: Span) -> set[tuple[str, str]]:
    """(parent name, name) of the page's attempts and operations."""
    found = set()
    for attempt in tree.children:
        for op in attempt.children:
            if op.kind not in ("log", "child"):
                found.add((attempt.name, op.name))
    return found


def test_exported_spans_are_the_pages_spans(spans: InMemorySpanExporter) -> None:
    """Same names, same parents: what a tracing backend shows is the run page's tree."""
    spans.clear()
    with TestRuns(reg) as env:
        run = env.run(traced)
        page = env.engine.trace(env.environment, run.id).root
    finished = [s for s in spans.get_finished_spans()
                if (s.attributes or {}).get("run_id") == run.id]
    by_id = {s.context.span_id: s for s in finished}
    exported = {(by_id[s.parent.span_id].name, s.name) for s in finished
                if s.parent is not None and s.parent.span_id in by_id}
    assert exported == _pairs(page)
    assert ("attempt 1", "trigger_and_wait helper") in exported
    assert all(s.parent is None for s in finished if s.name.startswith("attempt "))


def _run_spans(spans: InMemorySpanExporter, run_id: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if (s.attributes or {}).get("run_id") == run_id]


@pytest.mark.parametrize("parent", [fan_out, fan_out_async], ids=["sync", "async"])
def test_a_childs_attempts_are_children_of_the_span_that_triggered_it(
        spans: InMemorySpanExporter, store_url: str, parent: Any) -> None:
    with TestRuns(reg, database_url=store_url) as env:
        run = env.run(parent)
        children = env.client.runs.list(parent_id=run.id)
    assert run.status == "COMPLETED" and len(children) == 5
    triggers = {s.context.span_id: s for s in _run_spans(spans, run.id)
                if s.name in ("trigger helper", "trigger_and_wait helper")}
    assert len(triggers) == 4  # one per call; the waits' replays made no span
    parents = []
    for child in children:
        [attempt] = _run_spans(spans, child.id)
        assert attempt.parent is not None and attempt.parent.span_id in triggers
        trigger_span = triggers[attempt.parent.span_id]
        assert attempt.context.trace_id == trigger_span.context.trace_id
        parents.append(trigger_span.context.span_id)
    assert set(parents) == set(triggers)  # each call is the parent of the runs it made


def test_a_run_triggered_in_an_app_span_joins_its_trace_every_attempt(
        spans: InMemorySpanExporter, store_url: str) -> None:
    """The parent's three runs of ``attempt 1`` (around its sleep and its child) all hang
    from the app's span, not from one another."""
    with TestRuns(reg, database_url=store_url) as env:
        with trace.get_tracer("app").start_as_current_span("POST /import") as request:
            handle = env.trigger(traced)
        env.run_until_idle()
    attempts = [s for s in _run_spans(spans, handle.id) if s.name == "attempt 1"]
    assert len(attempts) == 3
    for attempt in attempts:  # two suspended at a wait, one completed: none an error
        assert attempt.status.status_code.name == "UNSET"
        assert attempt.parent is not None
        assert attempt.parent.span_id == request.get_span_context().span_id
        assert attempt.context.trace_id == request.get_span_context().trace_id
