"""The span builder (``engine/trace.py``): a run's records in, its span tree out."""

from __future__ import annotations

from typing import Any

from outlast.core.spans import attempt_span, operation_span
from outlast.engine.trace import Records, Span, build


def run(**extra: Any) -> dict[str, Any]:
    return {"id": "run_p", "task": "order", "status": "WAITING", "created_at": 100.0,
            "finished_at": None, "is_final": False, "queue": "q", "output": None,
            "error": None} | extra


def event(kind: str, at: float, status: str, attempt: int | None = 1) -> dict[str, Any]:
    return {"kind": kind, "at": at, "status": status, "attempt": attempt}


def entry(seq: int, kind: str, name: str, start: float, end: float | None,
          result: Any = None) -> dict[str, Any]:
    return {"seq": seq, "kind": kind, "name": name, "status": "pending" if end is None else "ok",
            "result": result, "created_at": start, "completed_at": end}


def log(id: int, at: float, message: str, attempt: int = 1, level: str = "INFO",
        **attributes: Any) -> dict[str, Any]:
    return {"id": id, "attempt": attempt, "at": at, "level": level, "message": message,
            "attributes": attributes}


ATTEMPT = {"number": 1, "status": "SUSPENDED", "worker_id": "w", "machine": "small-1x"}
#: attempt 1 ran twice: before a sleep, and after it until it waits on a token
EVENTS = [event("created", 100.0, "QUEUED", None), event("start_attempt", 101.0, "EXECUTING"),
          event("metadata", 101.5, "EXECUTING"), event("suspend", 103.0, "WAITING"),
          event("resume", 110.0, "QUEUED", None), event("start_attempt", 111.0, "EXECUTING"),
          event("suspend", 112.0, "WAITING")]
JOURNAL = [entry(0, "step", "charge", 101.2, 101.8, "ch_1"),
           entry(1, "sleep", "sleep", 102.0, 110.0, {"until": 110.0}),
           entry(2, "create_token", "token", 111.5, 111.5,
                 {"id": "token_1", "timeout_at": 4000.0}),
           entry(3, "wait_token", "token_1", 111.6, None)]
WAITS = [{"id": "wait_1", "kind": "time", "status": "COMPLETED", "seq": 1, "idx": 0,
          "due_at": 110.0, "child_run_id": None, "output": None, "error": None},
         {"id": "token_1", "kind": "token", "status": "PENDING", "seq": 3, "idx": 0,
          "due_at": 4000.0, "child_run_id": None, "output": None, "error": None}]


def names(span: Span) -> list[tuple[int, str, str]]:
    return [(depth, s.kind, s.name) for depth, s in span.walk()]


def test_attempts_hold_the_operations_they_ran_and_the_lines_they_logged() -> None:
    logs = [log(1, 101.5, "charging"), log(2, 111.7, "asked for approval")]
    trace = build(Records(run(), [ATTEMPT], EVENTS, JOURNAL, WAITS, [], logs))
    assert names(trace.root) == [
        (0, "run", "order"),
        (1, "attempt", "attempt 1"),
        (2, "step", "step charge"), (3, "log", "charging"),
        (2, "wait", "wait.sleep"),
        (1, "attempt", "attempt 1"),
        (2, "operation", "wait.create_token"), (2, "wait", "wait.for_token"),
        (2, "log", "asked for approval")]
    first, second = trace.root.children
    assert (first.start, first.end, first.status) == (101.0, 103.0, "SUSPENDED")
    assert second.attributes["resumed"] and second.end == 112.0
    step, sleep = first.children
    assert (step.start, step.end, step.output, step.attributes["retries"]) == (
        101.2, 101.8, "ch_1", 0)
    assert (sleep.end, sleep.attributes["until"], sleep.status) == (110.0, 110.0, "COMPLETED")
    token = second.children[1]
    assert token.status == "WAITING" and token.end is None
    assert token.attributes["token_id"] == "token_1" and token.attributes["timeout_at"] == 4000.0


def test_a_waiting_run_says_what_it_waits_for() -> None:
    trace = build(Records(run(), [ATTEMPT], EVENTS, JOURNAL, WAITS, [], []))
    assert [w.to_json() for w in trace.waiting] == [
        {"kind": "token", "span_id": "op-3", "until": 4000.0, "token_id": "token_1",
         "children": []}]
    done = build(Records(run(status="COMPLETED", is_final=True), [ATTEMPT], EVENTS, JOURNAL,
                         WAITS, [], []))
    assert done.waiting == []


def test_child_runs_are_nested_under_the_trigger_that_made_them() -> None:
    journal = [entry(0, "trigger_wait", "resize", 101.0, None)]
    waits = [{"id": "wait_c", "kind": "run", "status": "PENDING", "seq": 0, "idx": 0,
              "due_at": None, "child_run_id": "run_c", "output": None, "error": None}]
    children = [{"id": "run_c", "task": "resize", "status": "EXECUTING", "created_at": 101.0,
                 "finished_at": None},
                {"id": "run_d", "task": "notify", "status": "QUEUED", "created_at": 101.5,
                 "finished_at": None}]
    events = EVENTS[:4]
    trace = build(Records(run(), [ATTEMPT], events, journal, waits, children, []))
    trigger = trace.root.children[0].children[0]
    assert (trigger.kind, trigger.name, trigger.status) == (
        "trigger", "trigger_and_wait resize", "WAITING")
    [child] = trigger.children
    assert (child.kind, child.link, child.status) == ("child", "/runs/run_c", "EXECUTING")
    # a run it triggered some other way still shows, in the attempt that was running
    assert [c.name for c in trace.root.children[0].children] == ["trigger_and_wait resize",
                                                                 "notify"]
    assert trace.waiting[0].children == [{"id": "run_c", "task": "resize",
                                          "status": "EXECUTING"}]


def test_a_step_that_failed_is_shown_with_its_retries_and_error() -> None:
    """A failed step has no journal entry; the lines its tries wrote tell the trace."""
    attempt = ATTEMPT | {"status": "FAILED", "error": {"type": "ValueError", "message": "no"}}
    events = [event("start_attempt", 101.0, "EXECUTING"), event("retry", 104.0, "QUEUED")]
    logs = [log(1, 102.0, "step 'pay' failed on try 1: no; trying again in 1.0 s",
                level="WARNING", step="pay", seq=0, elapsed=0.5, retry_in=1.0),
            log(2, 103.5, "step 'pay' failed: no", level="ERROR", step="pay", seq=0,
                elapsed=2.0, error="ValueError", failed=True)]
    trace = build(Records(run(status="QUEUED"), [attempt], events, [], [], [], logs))
    [execution] = trace.root.children
    assert execution.status == "FAILED" and execution.error["type"] == "ValueError"
    [step] = execution.children
    assert (step.name, step.status, step.start, step.end) == ("step pay", "FAILED", 101.5, 103.5)
    assert step.attributes["retries"] == 1 and step.error["type"] == "ValueError"
    assert [c.kind for c in step.children] == ["log", "log"]


def test_a_step_never_starts_before_the_attempt_that_ran_it() -> None:
    """Its start is its end minus what the worker measured; clocks may disagree."""
    journal = [entry(0, "step", "fast", 100.5, 101.2)]
    trace = build(Records(run(), [ATTEMPT], EVENTS[:4], journal, [], [], []))
    assert trace.root.children[0].children[0].start == 101.0


def test_an_attempt_still_running_is_open() -> None:
    trace = build(Records(run(status="EXECUTING"), [ATTEMPT | {"status": "EXECUTING"}],
                          EVENTS[:3], [], [], [], []))
    [execution] = trace.root.children
    assert execution.end is None and execution.status == "EXECUTING"
    assert trace.to_json()["root"]["children"][0]["end"] is None


def test_span_names_say_the_call_that_was_written() -> None:
    assert [operation_span(k, n) for k, n in [
        ("step", "charge"), ("sleep", "sleep"), ("sleep", "until"), ("wait_token", "token_1"),
        ("create_token", "token"), ("trigger", "resize"), ("trigger_wait", "resize"),
        ("patch", "v2"), ("idempotency_key", "k"), ("weird", "x")]] == [
        "step charge", "wait.sleep", "wait.until", "wait.for_token", "wait.create_token",
        "trigger resize", "trigger_and_wait resize", "patched v2", "idempotency_keys.create k",
        "weird x"]
    assert attempt_span(2) == "attempt 2"
