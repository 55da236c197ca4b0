"""Tasks whose exported spans the linked-trace tests read.

A worker's children are processes of their own: with ``OUTLAST_TEST_SPANS`` naming a
folder, each child exports every span it ends there, one JSON object a line, through the
OpenTelemetry SDK's own ``ConsoleSpanExporter`` (a file per process, so no two write to
the same one). They go through a ``BatchSpanProcessor``, as an OTLP export does, that
would hold them for a minute: they reach the files only because the child flushes its
spans after each attempt and before it exits.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from outlast import Retry, step, task


def _one_line(span: ReadableSpan) -> str:
    return span.to_json(indent=None) + "\n"


def _export_to_folder() -> None:
    folder = os.environ.get("OUTLAST_TEST_SPANS")
    if not folder:
        return
    out = (Path(folder) / f"{os.getpid()}.jsonl").open("a", encoding="utf-8")
    provider = TracerProvider()
    exporter = ConsoleSpanExporter(out=out, formatter=_one_line)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    trace.set_tracer_provider(provider)


_export_to_folder()


@task(id="ot-child")
def child(payload: Any) -> Any:
    return payload


@task(id="ot-parent")
def parent(payload: Any) -> Any:
    return child.trigger_and_wait(payload).unwrap()


@task(id="ot-flaky", retry=Retry(max_attempts=2, min_delay=0, randomize=False))
def flaky(payload: Any, ctx: Any) -> str:
    """Step ``charge`` fails both its tries in attempt 1 (which fails), and its first
    try only in attempt 2 (which completes)."""
    tries = iter(range(1, 3))

    def charge() -> str:
        if ctx.attempt.number == 1 or next(tries) == 1:
            raise RuntimeError("the card was declined")
        return "charged"

    step.run("charge", charge, retry=Retry(max_attempts=2, min_delay=0, randomize=False))
    return "second"
