"""Which ``traceparent`` values a trigger takes (W3C Trace Context), and the context a
span of this process gives: anything malformed is ignored, never an error."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from outlast.observability import current_traceparent, valid_traceparent
from tests.otel_spans import recorded_spans, traceparent_of

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
GOOD = f"00-{TRACE}-{SPAN}-01"


@pytest.mark.parametrize(("given", "kept"), [
    (GOOD, GOOD),
    (f"00-{TRACE}-{SPAN}-00", f"00-{TRACE}-{SPAN}-00"),  # not sampled: still linked
    (f" \t{GOOD} ", GOOD),  # optional whitespace around a header value
    (f"01-{TRACE}-{SPAN}-01-more", GOOD),  # a later version: its first four fields
    (f"00-{TRACE}-{SPAN}-01-more", None),  # version 00 has exactly four
    (f"ff-{TRACE}-{SPAN}-01", None),  # version ff is invalid
    (f"00-{'0' * 32}-{SPAN}-01", None),  # all-zero trace id
    (f"00-{TRACE}-{'0' * 16}-01", None),  # all-zero parent id
    (f"00-{TRACE.upper()}-{SPAN}-01", None),  # hex is lower case
    (f"00-{TRACE[:-1]}-{SPAN}-01", None),  # a short trace id
    (f"00_{TRACE}_{SPAN}_01", None),
    (GOOD + " " * 600, None),  # longer than any header may be
    ("", None),
    ("garbage", None),
    (None, None),
    (42, None),
])
def test_valid_traceparent(given: object, kept: str | None) -> None:
    assert valid_traceparent(given) == kept


def test_the_current_span_is_the_traceparent_a_trigger_stores() -> None:
    recorded_spans()
    assert current_traceparent() is None  # outside any span
    with trace.get_tracer("test").start_as_current_span("request") as span:
        assert current_traceparent() == traceparent_of(span)  # type: ignore[arg-type]


_WITHOUT_PROVIDER = f"""
from opentelemetry import trace
from outlast.observability import current_traceparent, span, trace_id
assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
with span("attempt 1", {GOOD!r}, run_id="run_x") as current:
    assert current_traceparent() == {GOOD!r}, current_traceparent()
    assert trace_id() == {TRACE!r}
    with span("step a", run_id="run_x"):  # a step inside keeps the attempt's context
        assert current_traceparent() == {GOOD!r}
with span("attempt 1", {GOOD!r}, run_id="run_x"):
    with span("attempt 1", "", run_id="run_y"):  # a run triggered outside any trace
        assert current_traceparent() is None
assert current_traceparent() is None
"""


def test_without_a_tracer_provider_a_span_still_carries_its_parent_trace() -> None:
    """No provider set (a worker that exports nothing): spans are not built, yet a run's
    attempt still runs in the trace it was triggered in, as OpenTelemetry's no-op tracer
    would have it, so what it triggers and logs joins that trace. Run in a fresh
    interpreter: this test process may have set a provider already."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _WITHOUT_PROVIDER], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


_PROVIDER_SET_LATER = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from outlast.observability import flush, span

for _ in range(3):  # no provider yet: nothing is built, nothing exported
    with span("attempt 1", "", run_id="run_x"):
        pass
    flush()
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
flushed = []
provider.force_flush = lambda timeout_millis=0: flushed.append(timeout_millis) or True
trace.set_tracer_provider(provider)  # as task code may, in a worker's child
with span("attempt 2", "", run_id="run_y"):
    pass
flush()
assert [s.name for s in exporter.get_finished_spans()] == ["attempt 2"]
assert flushed == [1000], flushed
"""


def test_a_provider_set_after_spans_without_one_is_used_by_the_next() -> None:
    """While no provider is set, spans and flushes stop asking OpenTelemetry (whose look
    into the environment cost a worker's child 3 us an attempt) and read its global:
    a provider set later, even by task code, still records the next span and is
    flushed. A fresh interpreter, as above."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _PROVIDER_SET_LATER], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
