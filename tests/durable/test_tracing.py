"""With OpenTelemetry installed, attempts and durable operations become spans, and logs
written inside them carry the trace id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import opentelemetry.sdk.trace as otel_sdk  # the test extra installs it
import pytest
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from outlast import logger, step, task, wait
from outlast.engine.trace import Span
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns

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


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = otel_sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
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
