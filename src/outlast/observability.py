"""OpenTelemetry spans for attempts, steps, waits and child triggers — when it is installed.

Outlast does not depend on OpenTelemetry: with ``pip install 'outlast[otel]'`` every
attempt becomes a span (``attempt 1``) with a child span per durable operation, named as
the run page's trace names them (``step charge``, ``wait.sleep``, ``trigger_and_wait
resize``: ``outlast.core.spans``), logs
written during a span carry its ``trace_id``, and setting ``OTEL_EXPORTER_OTLP_ENDPOINT``
makes workers export spans over OTLP/HTTP. Without the package these helpers cost nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

log = logging.getLogger("outlast.otel")

try:  # optional dependency
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - exercised when the extra is not installed
    _trace = None  # type: ignore[assignment]

_TRACER_NAME = "outlast"


def span(name: str, **attributes: Any) -> Any:
    """A context manager: a span named ``name`` when OpenTelemetry is there, else nothing."""
    if _trace is None:
        return nullcontext()
    clean = {k: v for k, v in attributes.items() if isinstance(v, str | int | float | bool)}
    return _recording(name, clean)


@contextmanager
def _recording(name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    assert _trace is not None
    tracer = _trace.get_tracer(_TRACER_NAME)
    # suspensions end spans by BaseException; only real errors are marked (mark_error)
    with tracer.start_as_current_span(name, attributes=attributes, record_exception=False,
                                      set_status_on_exception=False) as current:
        try:
            yield current
        except Exception as exc:
            mark_error(current, exc)
            raise


def trace_id() -> str | None:
    """The current span's trace id as 32 hex digits, or None outside a recorded span."""
    if _trace is None:
        return None
    context = _trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def mark_error(current: Any, exc: BaseException) -> None:
    if _trace is not None and current is not None and hasattr(current, "record_exception"):
        current.record_exception(exc)
        current.set_status(_trace.Status(_trace.StatusCode.ERROR, str(exc)[:200]))


def configure_export() -> bool:
    """Export spans over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set."""
    if _trace is None or not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK or OTLP "
                    "exporter is missing: pip install 'outlast[otel]'")
        return False
    service = os.environ.get("OTEL_SERVICE_NAME", "outlast-worker")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _trace.set_tracer_provider(provider)
    return True
