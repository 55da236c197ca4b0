"""Tasks whose exported spans the linked-trace tests read.

A worker's children are processes of their own: with ``OUTLAST_TEST_SPANS`` naming a
folder, each child exports every span it ends there, one JSON object a line, through the
OpenTelemetry SDK's own ``ConsoleSpanExporter`` (a file per process, so no two write to
the same one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from outlast import Retry, task


def _one_line(span: ReadableSpan) -> str:
    return span.to_json(indent=None) + "\n"


def _export_to_folder() -> None:
    folder = os.environ.get("OUTLAST_TEST_SPANS")
    if not folder:
        return
    out = (Path(folder) / f"{os.getpid()}.jsonl").open("a", encoding="utf-8")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out,
                                                                        formatter=_one_line)))
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
    if ctx.attempt.number == 1:
        raise RuntimeError("the first attempt fails")
    return "second"
