"""The names of a run's spans, shared by the run page's trace and OpenTelemetry.

A durable operation is journaled as (kind, name): ``("step", "charge")``,
``("sleep", "sleep")``, ``("trigger_wait", "resize")``. People read spans by the call
they wrote, so both the dashboard (``outlast.engine.trace``) and the spans a worker
exports (``outlast.sdk.durable``) name them with ``operation_span``: one function, so the
tree on the page and the one in a tracing backend never drift apart.
"""

from __future__ import annotations

#: kind → how its span is named; ``{name}`` is the operation's journaled name
_NAMES = {
    "step": "step {name}",
    "trigger": "trigger {name}",
    "trigger_wait": "trigger_and_wait {name}",
    "patch": "patched {name}",
    "idempotency_key": "idempotency_keys.create {name}",
    "create_token": "wait.create_token",
    "wait_token": "wait.for_token",
    "complete_token": "wait.complete_token",
}
#: the journaled names of ``wait.sleep`` and ``wait.until`` (both kind "sleep")
_SLEEPS = {"sleep": "wait.sleep", "until": "wait.until"}


def operation_span(kind: str, name: str) -> str:
    """The span name of durable operation ``kind``/``name`` (``step charge``)."""
    if kind == "sleep":
        return _SLEEPS.get(name, f"wait.{name}")
    template = _NAMES.get(kind, f"{kind} {{name}}")
    return template.format(name=name)


def attempt_span(number: int) -> str:
    """The span of one attempt of a run."""
    return f"attempt {number}"
