"""A run as a tree of spans: attempts → steps, waits and child triggers → child runs, with
log lines placed in time on the span that wrote them.

Nothing new is recorded for it: the tree is built from what the store already holds —
attempts, the journal (each durable operation, when it began and ended), the waitpoints
the run blocks on, its child runs and its logs. ``build`` is a pure function of those
records, so the page, the HTTP API and the tests all read the same tree; span names come
from ``outlast.core.spans``, as do the OpenTelemetry spans a worker exports.

What the journal cannot say, the logs do: a step that raised has no journal entry (the
next attempt runs it again), but each failed try of it is a log line carrying the step's
name and sequence number (``outlast.sdk.steps``), so the trace shows its retries and the
error that ended it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from outlast.core.spans import attempt_span, operation_span
from outlast.jsonutil import loads

Json = dict[str, Any]

#: how much of a run the trace reads: its first log lines, child runs and waitpoints
MAX_LOGS = 1000
MAX_CHILDREN = 200
MAX_WAITPOINTS = 1000
MAX_EVENTS = 2000

WAIT_KINDS = {"sleep", "wait_token"}
TRIGGER_KINDS = {"trigger", "trigger_wait"}


@dataclass(frozen=True)
class Span:
    """One row of the tree. ``end`` is None while it goes on; ``status`` is a run or
    attempt status word (COMPLETED, FAILED, WAITING, EXECUTING, …)."""

    id: str
    name: str
    kind: str  # run | attempt | step | wait | trigger | operation | child | log
    status: str
    start: float
    end: float | None
    attributes: Json = field(default_factory=dict)
    output: Any = None
    error: Any = None
    link: str | None = None
    children: list[Span] = field(default_factory=list)

    def walk(self) -> Iterable[tuple[int, Span]]:
        """(depth, span) for this span and all below it, depth first, in order."""
        yield 0, self
        for child in self.children:
            for depth, span in child.walk():
                yield depth + 1, span

    def to_json(self) -> Json:
        return {"id": self.id, "name": self.name, "kind": self.kind, "status": self.status,
                "start": self.start, "end": self.end, "attributes": self.attributes,
                "output": self.output, "error": self.error, "link": self.link,
                "children": [c.to_json() for c in self.children]}


@dataclass(frozen=True)
class Wait:
    """What an unfinished run waits for: a time, a token, or child runs."""

    kind: str  # sleep | token | children
    span_id: str
    until: float | None = None  # the sleep's end, or the token's timeout
    token_id: str | None = None
    children: list[Json] = field(default_factory=list)  # id, task, status

    def to_json(self) -> Json:
        return {"kind": self.kind, "span_id": self.span_id, "until": self.until,
                "token_id": self.token_id, "children": self.children}


@dataclass(frozen=True)
class Trace:
    root: Span
    waiting: list[Wait]

    def to_json(self) -> Json:
        return {"root": self.root.to_json(), "waiting": [w.to_json() for w in self.waiting]}


@dataclass(frozen=True)
class Records:
    """What the store holds about one run, as the engine's record functions shape it.
    ``waitpoints`` are the ones the run blocks on (kind, status, seq, idx, due_at,
    child_run_id, id, output, error)."""

    run: Json
    attempts: list[Json]
    #: the run's events that change its status (``start_attempt``, ``suspend``, …)
    events: list[Json]
    journal: list[Json]
    waitpoints: list[Json]
    children: list[Json]
    logs: list[Json]


def waitpoint_record(row: Json) -> Json:
    """What the trace reads of a waitpoint row (never its secret's hash)."""
    return {"id": row["id"], "kind": row["kind"], "status": row["status"],
            "seq": row["seq"], "idx": row["idx"], "due_at": row["due_at"],
            "child_run_id": row["child_run_id"], "output": loads(row["output"]),
            "error": loads(row["error"]), "created_at": row["created_at"],
            "completed_at": row["completed_at"]}


def build(records: Records) -> Trace:
    """The span tree of ``records.run``."""
    run = records.run
    children = {c["id"]: c for c in records.children}
    by_seq: dict[int, list[Json]] = {}
    for w in records.waitpoints:
        by_seq.setdefault(w["seq"], []).append(w)
    step_logs = _step_logs(records.logs)
    ops = [_operation(e, by_seq.get(e["seq"], []), children, step_logs.get(e["seq"], []))
           for e in records.journal]
    recorded = {e["seq"] for e in records.journal}
    ops += [_failed_step(seq, lines) for seq, lines in sorted(step_logs.items())
            if seq not in recorded and _final_failure(lines)]
    attempts = executions(records.events, records.attempts)
    root = Span(f"run-{run['id']}", str(run["task"]), "run", run["status"],
                float(run["created_at"]), run.get("finished_at"),
                attributes=_run_attributes(run), output=run.get("output"),
                error=run.get("error"), children=list(attempts))
    for op in ops:
        _place(attempts, root, op)
    placed = {c.link for op in ops for c in op.children}
    for child in records.children:
        if f"/runs/{child['id']}" not in placed:
            _home(attempts, root, float(child["created_at"])).children.append(
                _child(child, child))
    for line in records.logs:
        _log_home(attempts, root, line).children.append(_log(line))
    _sort(root)
    return Trace(root, waiting(run, records.journal, by_seq, children))


# -- attempts and where things go ----------------------------------------------------------


def executions(events: list[Json], attempts: list[Json]) -> list[Span]:
    """One span per time an attempt ran: from its ``start_attempt`` event to the next
    event that moved the run out of EXECUTING. A run resumed after a wait goes on with
    the same attempt number (a wait spends no attempt), so attempt 1 can run three times:
    before a sleep, between the sleep and a token, after the token."""
    by_number = {int(a["number"]): a for a in attempts}
    spans: list[Span] = []
    current: Json | None = None
    for event in events:
        if event["kind"] == "start_attempt":
            if current is not None:  # a start with no end seen: its lease was lost
                spans.append(_execution(current, None, by_number, spans))
            current = event
        elif current is not None and event["status"] != "EXECUTING":
            spans.append(_execution(current, event, by_number, spans))
            current = None
    if current is not None:
        spans.append(_execution(current, None, by_number, spans))
    return _last_ends(spans, by_number)


def _execution(start: Json, end: Json | None, by_number: dict[int, Json],
               before: list[Span]) -> Span:
    number = int(start.get("attempt") or 0)
    resumed = any(s.attributes["number"] == number for s in before)
    a = by_number.get(number, {})
    status = "EXECUTING" if end is None else _ended(end)
    return Span(f"attempt-{number}-{len(before)}", attempt_span(number), "attempt", status,
                float(start["at"]), None if end is None else float(end["at"]),
                attributes={"number": number, "resumed": resumed,
                            "worker": a.get("worker_id"), "machine": a.get("machine")})


def _ended(event: Json) -> str:
    """How one run of an attempt ended, from the event that ended it."""
    if event["kind"] == "suspend":
        return "SUSPENDED"
    if event["kind"] == "park":
        return "PARKED"
    return str(event["status"] or "")


def _last_ends(spans: list[Span], by_number: dict[int, Json]) -> list[Span]:
    """The last run of each attempt ends as the attempt did (FAILED before a retry, not
    the QUEUED its run went back to), with the attempt's error."""
    last = {s.attributes["number"]: i for i, s in enumerate(spans)}
    out = list(spans)
    for number, i in last.items():
        a = by_number.get(number)
        if a is not None and spans[i].end is not None and spans[i].status != "SUSPENDED":
            out[i] = _replace(spans[i], status=a["status"], error=a.get("error"))
    return out


def _place(attempts: list[Span], root: Span, op: Span) -> None:
    """An operation goes in the attempt that ran it: a wait or trigger in the one that
    began it (it may end attempts later), a step in the one it ended in. A step cannot
    have begun before that attempt (its start is its end minus the time the worker
    measured, and clocks of two machines may disagree)."""
    at = float(op.end) if op.kind == "step" and op.end is not None else op.start
    home = _home(attempts, root, at)
    if home is not root and op.start < home.start:
        op = _replace(op, start=home.start)
    home.children.append(op)


def _home(attempts: list[Span], root: Span, at: float) -> Span:
    """The attempt that was running at ``at`` (the first whose time holds it, else the
    last one started by then), else the run."""
    for a in attempts:
        if a.start <= at + 1e-6 and (a.end is None or at <= float(a.end) + 1e-6):
            return a
    found = [a for a in attempts if a.start <= at + 1e-6]
    return found[-1] if found else root


def _log_home(attempts: list[Span], root: Span, line: Json) -> Span:
    """A log line goes on the span that wrote it: its attempt, and in it the step it names
    (a step's own retry lines) or the step running when it was written."""
    runs = [a for a in attempts if a.attributes["number"] == line["attempt"]]
    if not runs:
        return root
    at = float(line["at"])
    attempt = next((a for a in reversed(runs) if a.start <= at), runs[0])
    seq = (line.get("attributes") or {}).get("seq")
    for op in attempt.children:
        if op.kind == "step" and (op.attributes.get("seq") == seq or _during(op, at)):
            return op
    return attempt


def _during(span: Span, at: float) -> bool:
    return span.end is not None and span.start <= at <= span.end


def _sort(span: Span) -> None:
    span.children.sort(key=lambda s: (s.start, s.kind == "log"))
    for child in span.children:
        _sort(child)


# -- durable operations --------------------------------------------------------------------


def _operation(entry: Json, waits: list[Json], children: dict[str, Json],
               tries: list[Json]) -> Span:
    kind, name, seq = entry["kind"], entry["name"], entry["seq"]
    pending = entry["status"] == "pending"
    start = float(entry.get("created_at") or 0.0)
    span = Span(f"op-{seq}", operation_span(kind, name), _span_kind(kind),
                "WAITING" if pending else "COMPLETED", start,
                None if pending else entry.get("completed_at"),
                attributes={"seq": seq, "operation": kind, "name": name},
                output=None if pending else entry.get("result"))
    if kind == "step":
        span.attributes["retries"] = sum(1 for t in tries if "retry_in" in t["attributes"])
    elif kind == "sleep":
        span.attributes["until"] = _until(entry, waits)
    elif kind == "wait_token":
        return _token_wait(span, entry, waits)
    elif kind == "create_token":
        span.attributes.update(_token_facts(entry.get("result")))
    elif kind in TRIGGER_KINDS:
        span.children.extend(_child(children.get(cid), {"id": cid, "status": status})
                             for cid, status in _child_ids(entry, waits))
    return span


def _span_kind(kind: str) -> str:
    if kind == "step":
        return "step"
    if kind in WAIT_KINDS:
        return "wait"
    return "trigger" if kind in TRIGGER_KINDS else "operation"


def _until(entry: Json, waits: list[Json]) -> float | None:
    result = entry.get("result")
    if isinstance(result, dict) and isinstance(result.get("until"), int | float):
        return float(result["until"])
    return next((float(w["due_at"]) for w in waits if w.get("due_at") is not None), None)


def _token_wait(span: Span, entry: Json, waits: list[Json]) -> Span:
    """``wait.for_token``: the token (its name in the journal is the token id), its
    timeout, and how it ended: an answer, or an error (a timeout)."""
    token = next((w for w in waits if w.get("kind") == "token"), {})
    span.attributes.update(token_id=entry["name"], timeout_at=token.get("due_at"))
    result = entry.get("result")
    if isinstance(result, dict) and result.get("ok") is False:
        return _replace(span, status="FAILED", error=result.get("error"), output=None)
    if isinstance(result, dict):
        return _replace(span, output=result.get("output"))
    return span


def _token_facts(result: Any) -> Json:
    if not isinstance(result, dict):
        return {}
    return {"token_id": result.get("id"), "timeout_at": result.get("timeout_at")}


def _child_ids(entry: Json, waits: list[Json]) -> list[tuple[str, str | None]]:
    """The runs a trigger made: from its waitpoints (trigger_and_wait) or its result."""
    found = [(str(w["child_run_id"]), _child_status(w)) for w in waits if w.get("child_run_id")]
    if found:
        return found
    result = entry.get("result")
    ids = result.get("ids") if isinstance(result, dict) else None
    if isinstance(ids, list):
        return [(str(i), None) for i in ids]
    if isinstance(result, list):  # a batch's outcomes
        return [(str(r["id"]), r.get("status")) for r in result if isinstance(r, dict)]
    if isinstance(result, dict) and "id" in result:
        return [(str(result["id"]), result.get("status"))]
    return []


def _child_status(wait: Json) -> str | None:
    output = wait.get("output")
    return output.get("status") if isinstance(output, dict) else None


def _child(child: Json | None, fallback: Json) -> Span:
    """A child run, linked; what the parent's record says when the run is not at hand."""
    found = child or fallback
    status = str(found.get("status") or "QUEUED")
    start = float(found.get("created_at") or 0.0)
    return Span(f"child-{found['id']}", str(found.get("task") or found["id"]), "child",
                status, start, found.get("finished_at"),
                attributes={"run_id": found["id"]}, output=found.get("output"),
                error=found.get("error"), link=f"/runs/{found['id']}")


# -- steps that failed, and log lines --------------------------------------------------


def _step_logs(logs: list[Json]) -> dict[int, list[Json]]:
    """The lines a step's tries wrote about themselves, by the step's sequence number."""
    found: dict[int, list[Json]] = {}
    for line in logs:
        attrs = line.get("attributes") or {}
        if "step" in attrs and isinstance(attrs.get("seq"), int):
            found.setdefault(attrs["seq"], []).append(line)
    return found


def _final_failure(lines: list[Json]) -> Json | None:
    return next((line for line in reversed(lines) if line["attributes"].get("failed")), None)


def _failed_step(seq: int, lines: list[Json]) -> Span:
    """A step that raised after its last try: no journal entry, so its lines tell."""
    last = _final_failure(lines) or lines[-1]
    attrs = last["attributes"]
    end = float(last["at"])
    elapsed = attrs.get("elapsed")
    start = end - float(elapsed) if isinstance(elapsed, int | float) and math.isfinite(
        elapsed) else end
    retries = sum(1 for t in lines if "retry_in" in t["attributes"])
    return Span(f"op-{seq}", operation_span("step", str(attrs["step"])), "step", "FAILED",
                start, end, attributes={"seq": seq, "operation": "step",
                                        "name": attrs["step"], "retries": retries},
                error={"type": attrs.get("error"), "message": last["message"]})


def _log(line: Json) -> Span:
    at = float(line["at"])
    return Span(f"log-{line['id']}", str(line["message"]), "log", str(line["level"]), at, at,
                attributes=dict(line.get("attributes") or {}))


def _replace(span: Span, **changes: Any) -> Span:
    values = {f: getattr(span, f) for f in span.__dataclass_fields__} | changes
    return Span(**values)


def _run_attributes(run: Json) -> Json:
    return {"run_id": run["id"], "queue": run.get("queue"), "version": run.get("version")}


# -- what an unfinished run waits for ------------------------------------------------------


def waiting(run: Json, entries: list[Json], by_seq: dict[int, list[Json]],
            children: dict[str, Json]) -> list[Wait]:
    """The pending waits of a run that is not final, in journal order."""
    if run.get("is_final"):
        return []
    found = []
    for e in entries:
        if e["status"] != "pending":
            continue
        waits, span_id = by_seq.get(e["seq"], []), f"op-{e['seq']}"
        if e["kind"] == "sleep":
            found.append(Wait("sleep", span_id, until=_until(e, waits)))
        elif e["kind"] == "wait_token":
            due = next((w.get("due_at") for w in waits), None)
            found.append(Wait("token", span_id, until=due, token_id=e["name"]))
        elif e["kind"] in TRIGGER_KINDS:
            found.append(Wait("children", span_id, children=[
                _child_fact(children.get(cid), cid, status)
                for cid, status in _child_ids(e, waits)]))
    return found


def _child_fact(child: Json | None, child_id: str, status: str | None) -> Json:
    if child is None:
        return {"id": child_id, "task": None, "status": status}
    return {"id": child_id, "task": child["task"], "status": child["status"]}
