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
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns

reg = Registry()


@task(registry=reg)
def traced(payload: Any) -> str:
    value = step.run("fetch", lambda: "data")
    logger.info("fetched", size=len(value))
    wait.sleep(minutes=5)
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
    assert names.count("outlast.attempt") == 2  # before and after the suspension
    assert "outlast.step" in names and "outlast.sleep" in names
    attempt = next(s for s in spans.get_finished_spans() if s.name == "outlast.attempt")
    assert attempt.attributes is not None and attempt.attributes["run_id"] == run.id
    suspended = [s for s in spans.get_finished_spans() if s.name == "outlast.sleep"]
    assert all(s.status.status_code.name != "ERROR" for s in suspended)
    fetched = next(entry for entry in logs if entry["message"] == "fetched")
    assert len(fetched["attributes"]["trace_id"]) == 32
