"""The test process's OpenTelemetry spans, kept in the SDK's in-memory exporter.

OpenTelemetry takes one tracer provider per process (a second ``set_tracer_provider`` is
ignored), so every test that reads spans shares this one.
"""

from __future__ import annotations

import opentelemetry.sdk.trace as otel_sdk  # the test extra installs it
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_exporter = InMemorySpanExporter()


def recorded_spans() -> InMemorySpanExporter:
    """The exporter every span of this process ends in (the provider is set on first use)."""
    if not isinstance(trace.get_tracer_provider(), otel_sdk.TracerProvider):
        provider = otel_sdk.TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    return _exporter


def traceparent_of(span: otel_sdk.ReadableSpan) -> str:
    """``span``'s context as the W3C header carries it."""
    assert span.context is not None
    return (f"00-{trace.format_trace_id(span.context.trace_id)}-"
            f"{trace.format_span_id(span.context.span_id)}-{int(span.context.trace_flags):02x}")
