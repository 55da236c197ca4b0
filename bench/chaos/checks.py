"""What the fault suite asserts, computed from the store and the side-effect log.

- lost: a run the suite triggered that the store does not know.
- stuck: a run (triggered, or a child run) not final once the drain is over.
- failed: a final run that did not complete; the tasks never fail on their own.
- recorded steps re-run: an execution of a step that began after the step's result was
  committed to the journal. The journal's result names the recorded execution (its nonce
  and attempt number). Another execution is a re-run when it belongs to a later attempt
  (that attempt began after the recorded attempt lost or gave up its lease, so after the
  commit: writes are fenced by the lease) or began more than ``MARGIN`` seconds after the
  journal's write time (a stale attempt still executing). Executions of an earlier attempt
  before the commit are the allowed at-least-once case: the process died between the side
  effect and the journal write.
- attempts failed by platform errors: an attempt that ended FAILED. The tasks never
  raise, so the error came from the platform (a database call of a durable operation, a
  broken pipe) and cost the run a retry; kills end attempts CRASHED, not FAILED.
- outputs that disagree with the journal: a completed run returns the nonces of its
  steps; they must be the ones the journal recorded (replay answered from the record).
- duplicate child runs: a parent with more than one child (``trigger_and_wait`` replayed
  into a second trigger).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outlast.engine import Engine

#: seconds between the journal's write time (taken before the commit) and a later start
#: that surely saw the commit
MARGIN = 0.5


@dataclass
class Findings:
    triggered: int = 0
    completed: int = 0
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reruns: list[str] = field(default_factory=list)
    duplicate_children: list[str] = field(default_factory=list)
    wrong_outputs: list[str] = field(default_factory=list)
    platform_failed_attempts: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)  # by status
    step_executions: int = 0
    steps_at_least_once: int = 0  # allowed: lost before the journal write


def all_runs(engine: Engine) -> dict[str, dict[str, Any]]:
    runs: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        page, cursor = engine.list_runs("dev", limit=1000, cursor=cursor)
        runs.update((r["id"], r) for r in page)
        if cursor is None:
            return runs


def stuck(runs: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(f"{r} {row['status']} ({row['task']})" for r, row in runs.items()
                  if not row["is_final"])


def read_effects(path: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """run id → step name → executions, in log order."""
    by_run: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            by_run[record["run"]][record["step"]].append(record)
    return by_run


def check(engine: Engine, triggered: list[str], out: Path) -> Findings:
    runs = all_runs(engine)
    found = Findings(triggered=len(triggered))
    found.lost = [run_id for run_id in triggered if run_id not in runs]
    found.stuck = stuck(runs)
    found.failed = sorted(f"{r} {row['status']} ({row['task']}): {row.get('error')}"
                          for r, row in runs.items()
                          if row["is_final"] and row["status"] != "COMPLETED")
    found.completed = sum(1 for row in runs.values() if row["status"] == "COMPLETED")
    children: dict[str, int] = defaultdict(int)
    for row in runs.values():
        if row.get("parent_id"):
            children[row["parent_id"]] += 1
    found.duplicate_children = sorted(p for p, n in children.items() if n > 1)
    _attempts(engine, found, sorted(runs))
    effects = read_effects(out / "effects.jsonl")
    for run_id, steps in effects.items():
        journal = {e["name"]: e for e in engine.durable.run_journal(run_id)
                   if e["kind"] == "step" and e["status"] != "pending"}
        if run_id in runs:
            compare_output(found, runs[run_id], journal)
        for name, executions in steps.items():
            found.step_executions += len(executions)
            entry = journal.get(name)
            if entry is not None:
                judge(found, run_id, name, entry, executions)
    return found


def _attempts(engine: Engine, found: Findings, run_ids: list[str]) -> None:
    statuses: dict[str, int] = defaultdict(int)
    for run_id in run_ids:
        for attempt in engine.attempts(run_id):
            statuses[attempt["status"]] += 1
            if attempt["status"] == "FAILED":
                error = attempt["error"] or {}
                found.platform_failed_attempts.append(
                    f"{run_id} attempt {attempt['number']}: {error.get('type')}: "
                    f"{str(error.get('message'))[:300]}")
    found.attempts = dict(sorted(statuses.items()))


#: the steps whose recorded nonces a completed run returns, in order, per task
OUTPUT_STEPS = {"chaos-durable": ["one", "two", "three"],
                "chaos-async": ["one", "two", "three"],
                "chaos-parent": ["before-child", "after-child"]}


def compare_output(found: Findings, run: dict[str, Any],
                    journal: dict[str, dict[str, Any]]) -> None:
    """A completed run returns the nonces its journal recorded: replay answered from it."""
    names = OUTPUT_STEPS.get(run["task"])
    if run["status"] != "COMPLETED" or names is None:
        return
    output = run["output"]
    got = output if isinstance(output, list) else [output.get("first"), output.get("last")]
    recorded = [(journal.get(n) or {}).get("result", {}).get("nonce") for n in names]
    if got != recorded:
        found.wrong_outputs.append(f"{run['id']}: returned {got}, journal has {recorded}")


def judge(found: Findings, run_id: str, name: str, entry: dict[str, Any],
           executions: list[dict[str, Any]]) -> None:
    recorded = entry["result"] or {}
    written = float(entry["completed_at"] or entry["created_at"])
    for e in executions:
        if e["nonce"] == recorded.get("nonce"):
            continue
        later_attempt = e["attempt"] > int(recorded.get("attempt", 0))
        after_commit = float(e["t"]) > written + MARGIN
        if later_attempt or after_commit:
            why = "a later attempt" if later_attempt else "a stale attempt after the commit"
            found.reruns.append(
                f"{run_id} step {name!r}: recorded by attempt {recorded.get('attempt')}, "
                f"ran again in attempt {e['attempt']} ({why}, "
                f"{float(e['t']) - written:+.2f}s after the journal write, pid {e['pid']})")
        else:
            found.steps_at_least_once += 1
