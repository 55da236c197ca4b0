"""OpenTelemetry spans for attempts, steps, waits and child triggers — when it is installed.

Outlast does not depend on OpenTelemetry: with ``pip install 'outlast[otel]'`` every
attempt becomes a span (``attempt 1``) with a child span per durable operation, named as
the run page's trace names them (``step charge``, ``wait.sleep``, ``trigger_and_wait
resize``: ``outlast.core.spans``), logs
written during a span carry its ``trace_id``, and setting ``OTEL_EXPORTER_OTLP_ENDPOINT``
makes workers export spans over OTLP/HTTP. Without the package these helpers cost nothing.

Runs join the trace that triggered them: a trigger stores the W3C ``traceparent`` of the
span current where it was made (the ``trigger_and_wait resize`` span inside a task, a web
request's span in app code, or a ``traceparent`` header sent to the HTTP API), and every
attempt of the run is a child of that context (``span(..., parent=...)``), so retries and
resumed attempts land in the same trace as siblings.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

log = logging.getLogger("outlast.otel")

try:  # optional dependency
    from opentelemetry import context as _context
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - exercised when the extra is not installed
    _trace = None  # type: ignore[assignment]

_TRACER_NAME = "outlast"
#: the HTTP header that carries a trigger's trace context (W3C Trace Context)
TRACEPARENT_HEADER = "traceparent"
#: version-trace id-parent span id-flags; a later version may append fields after a dash
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
#: longer is refused unread (the W3C propagator's own bound)
_TRACEPARENT_MAX = 512


def valid_traceparent(value: object) -> str | None:
    """``value`` as a version-00 ``traceparent`` if it is a valid one, else None.

    Anything else (not text, malformed, an all-zero id, version ``ff``, a version 00 with
    extra fields) is ignored, never an error: a caller's broken tracing header must not
    fail its trigger. Needs no OpenTelemetry: a server without it still stores what a
    caller sent, for the workers that export spans."""
    if not isinstance(value, str) or len(value) > _TRACEPARENT_MAX:
        return None
    found = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if found is None:
        return None
    version, trace, parent, flags, extra = found.groups()
    if version == "ff" or (version == "00" and extra) or int(trace, 16) == 0 or int(
            parent, 16) == 0:
        return None
    return f"00-{trace}-{parent}-{flags}"


def current_traceparent() -> str | None:
    """The current span's context as a ``traceparent``, or None outside a valid span:
    what a trigger made here stores, so the run's attempts join this trace."""
    if _trace is None:
        return None
    context = _trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return (f"00-{_trace.format_trace_id(context.trace_id)}-"
            f"{_trace.format_span_id(context.span_id)}-{int(context.trace_flags):02x}")


def span(name: str, parent: str | None = None, **attributes: Any) -> Any:
    """A context manager: a span named ``name`` when OpenTelemetry is there, else nothing.

    ``parent`` (a ``traceparent``): start the span as its child, in its trace, whatever
    span is current here; an empty string: start a new trace (an attempt whose run was
    triggered outside any trace). None: a child of the current span."""
    if _trace is None:
        return nullcontext()
    if isinstance(_provider(), _trace.ProxyTracerProvider):
        return _Unrecorded(parent)
    clean = {k: v for k, v in attributes.items() if isinstance(v, str | int | float | bool)}
    return _recording(name, clean, parent)


class _Unrecorded:
    """A span while no tracer provider is set: what OpenTelemetry's own no-op tracer does,
    without building the span it would throw away (7 us an attempt, every attempt of a
    worker that exports nothing). That tracer records nothing and only makes the parent's
    context current, so a run triggered inside still joins the trace and log lines carry
    its trace id; so does this. A provider set later (even by task code) is seen by the
    next span."""

    __slots__ = ("_context", "_token")

    def __init__(self, parent: str | None) -> None:
        self._context = None if not parent else _parent_context(parent)
        self._token: object = None
        if parent == "" and _context.get_current():  # a new trace, inside another's
            self._context = _context.Context()

    def __enter__(self) -> None:
        if self._context is not None:
            self._token = _context.attach(self._context)

    def __exit__(self, *_: object) -> None:
        if self._token is not None:
            _context.detach(self._token)  # type: ignore[arg-type]


def _parent_context(parent: str | None) -> Any:
    """The OpenTelemetry context to start a span in (see ``span``): None for the current."""
    assert _trace is not None
    if parent is None:
        return None
    valid = valid_traceparent(parent) if parent else None  # "": most runs have no trace
    if valid is None:
        return _context.Context()  # a root span
    _, trace, span_id, flags = valid.split("-")
    remote = _trace.SpanContext(int(trace, 16), int(span_id, 16), is_remote=True,
                                trace_flags=_trace.TraceFlags(int(flags, 16)))
    return _trace.set_span_in_context(_trace.NonRecordingSpan(remote), _context.Context())


#: OpenTelemetry's proxy provider, once ``get_tracer_provider`` found no provider named in
#: this process's environment (``_provider``); forgotten in a forked child, whose
#: environment is its own
_unset: list[Any] = []
os.register_at_fork(after_in_child=_unset.clear)


def _provider() -> Any:
    """The global tracer provider, as ``trace.get_tracer_provider()`` says. While none is
    set, that call looks for one named in the environment, raising and catching a
    ``KeyError`` each time (1.5 us; a worker's child asks twice an attempt). Once it found
    none there, a provider can only come from ``set_tracer_provider`` (task code may call
    it), which sets the module's global: that is read instead, where it is there."""
    assert _trace is not None
    if _unset and getattr(_trace, "_TRACER_PROVIDER", _unset) is None:
        return _unset[0]
    provider = _trace.get_tracer_provider()
    if isinstance(provider, _trace.ProxyTracerProvider) and not _unset:
        _unset.append(provider)
    return provider


_tracers: list[Any] = []


def _tracer() -> Any:
    """Outlast's tracer, looked up once: before an app sets its tracer provider this is
    OpenTelemetry's proxy, which hands every span to the provider set later."""
    assert _trace is not None
    if not _tracers:
        _tracers.append(_trace.get_tracer(_TRACER_NAME))
    return _tracers[0]


@contextmanager
def _recording(name: str, attributes: dict[str, Any], parent: str | None) -> Iterator[Any]:
    assert _trace is not None
    tracer = _tracer()
    # suspensions end spans by BaseException; only real errors are marked (mark_error)
    with tracer.start_as_current_span(name, _parent_context(parent), attributes=attributes,
                                      record_exception=False,
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


def mark_failed(current: Any, error: Mapping[str, Any]) -> None:
    """Mark an attempt's span as failed from its error (``executor.error_info``).

    The attempt's exception never leaves its span (it is caught and classified inside,
    so the run can be retried), hence ``mark_error`` does not see it: the same exception
    event and ERROR status are written here from what the run records."""
    if _trace is None or current is None or not hasattr(current, "add_event"):
        return
    kind, message = str(error.get("type", "")), str(error.get("message", ""))
    event = {"exception.type": kind, "exception.message": message}
    if error.get("stack"):
        event["exception.stacktrace"] = str(error["stack"])
    current.add_event("exception", event)
    current.set_status(_trace.Status(_trace.StatusCode.ERROR, f"{kind}: {message}"[:200]))


def record_retried(exc: BaseException, attempt: int) -> None:
    """A try of the current operation (a step) failed and is tried again: an exception
    event on its span. The status stays unset: a later try may succeed, and a step that
    succeeded is not an error; a try that ends the step failing sets ERROR through
    ``span`` as it leaves."""
    if _trace is None:
        return
    _trace.get_current_span().record_exception(exc, attributes={"outlast.try": attempt})


def flush(timeout_millis: int = 1000) -> None:
    """Export the spans this process has ended and not yet sent, waiting at most
    ``timeout_millis``: a worker's child calls it after each attempt and before it exits,
    since it ends by ``os._exit`` (no ``atexit`` shutdown) and a batching span processor
    would lose what it still held. Bounded so a collector that is down cannot stall the
    worker; an exporter's error is logged, never raised."""
    if _trace is None:
        return
    force_flush = getattr(_provider(), "force_flush", None)
    if force_flush is None:
        return
    try:
        force_flush(timeout_millis)
    except Exception:
        log.warning("could not export spans", exc_info=True)


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
