"""Failures grouped: each failed attempt recorded once, and the groups read back.

Every attempt that fails counts, the ones retried afterwards included: a flaky call that
succeeds on its third try still failed twice, and the Errors page should say so. The
attempt that ends its run (FAILED, CRASHED, TIMED_OUT, SYSTEM_FAILURE) is marked
``final``, so a group says both how many attempts failed and how many runs it ended. A
hand-back (shutdown, platform outage) is no failure of the task, and neither is a parked
run (its mismatch is on the Versions page) nor an expired or canceled one.

The fingerprint is computed here, once, in the transaction that records the failure;
reads group by its column (``run_errors_window``, ``run_errors_group``) and never open
error JSON, except for one group's newest occurrences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from outlast.core.fingerprints import error_parts, fingerprint, is_fingerprint, normalize, sample
from outlast.errors import NotFoundError, ValidationError
from outlast.jsonutil import loads
from outlast.store.protocol import Row, Tx

if TYPE_CHECKING:
    from outlast.engine import Engine

#: the transitions that end a run because of a failure (its last attempt is ``final``)
FINAL_FAILURES = frozenset({"fail", "crash", "time_out", "system_failure"})
#: window name → (seconds, slots of the chart drawn over it)
WINDOWS: dict[str, tuple[int, int]] = {
    "1h": (3600, 12), "24h": (86400, 24), "7d": (7 * 86400, 28), "30d": (30 * 86400, 30)}
DEFAULT_WINDOW = "24h"
#: groups listed at most, the most frequent first
MAX_GROUPS = 100
#: a group's newest occurrences shown with it
OCCURRENCES = 20


@dataclass(frozen=True)
class Failure:
    """One failed attempt, as ``attempts.apply`` knows it."""

    environment: str
    task_id: str
    version: str | None
    run_id: str
    attempt: int
    error: dict[str, Any] | None


def record(tx: Tx, failure: Failure, transition: str, now: float) -> None:
    """Record ``failure`` if ``transition`` (what its outcome led to) makes it one."""
    if transition != "retry" and transition not in FINAL_FAILURES:
        return
    kind, message = error_parts(failure.error)
    tx.run("insert_run_error", environment=failure.environment, task_id=failure.task_id,
           fingerprint=fingerprint(failure.task_id, kind, message), error_type=kind,
           message=sample(message), run_id=failure.run_id, attempt=failure.attempt,
           final=1 if transition in FINAL_FAILURES else 0, version=failure.version, at=now)


def window_of(name: str | None) -> tuple[str, int, int]:
    """(name, seconds, slots) of a window name; a ValidationError names the valid ones."""
    name = name or DEFAULT_WINDOW
    if name not in WINDOWS:
        raise ValidationError(f"window: expected one of {', '.join(WINDOWS)}, got {name!r}",
                              option="window")
    return (name, *WINDOWS[name])


@dataclass
class _Tally:
    """One group's counts in the window, summed from ``error_buckets`` rows."""

    task_id: str
    counts: list[int]
    attempts: int = 0
    runs: int = 0
    versions: set[str] | None = None

    def add(self, row: Row) -> None:
        slot = min(max(int(row["slot"]), 0), len(self.counts) - 1)
        self.counts[slot] += int(row["attempts"])
        self.attempts += int(row["attempts"])
        self.runs += int(row["runs"] or 0)
        if row["version"] is not None:
            self.versions = (self.versions or set()) | {str(row["version"])}


def _tally(rows: list[Row], slots: int) -> dict[str, _Tally]:
    tallies: dict[str, _Tally] = {}
    for row in rows:
        fp = str(row["fingerprint"])
        tallies.setdefault(fp, _Tally(str(row["task_id"]), [0] * slots)).add(row)
    return tallies


def _group(tx: Tx, env: str, fp: str, tally: _Tally, window: tuple[str, int, int],
           since: float) -> dict[str, Any]:
    latest = tx.one("error_group_latest", environment=env, fingerprint=fp)
    assert latest is not None  # the tally came from its rows
    return {
        "fingerprint": fp, "task_id": latest["task_id"], "error_type": latest["error_type"],
        "message": latest["message"], "pattern": normalize(str(latest["message"])),
        "attempts_failed": tally.attempts, "runs_failed": tally.runs,
        "first_seen": float(latest["first_seen"]), "last_seen": float(latest["last_seen"]),
        "versions": sorted(tally.versions or ()), "counts": tally.counts,
        "window": window[0], "since": since, "slot_seconds": window[1] / window[2],
    }


class ErrorGroups:
    """``engine.errors``: the environment's failures by group, over a window of time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self, env: str, window: str | None = None,
             task: str | None = None) -> list[dict[str, Any]]:
        """The groups with a failure in the window, the most failed attempts first."""
        spec = window_of(window)
        since = self.engine.clock.now() - spec[1]
        with self.engine.store.transaction(write=False) as tx:
            rows = tx.all("error_buckets", environment=env, since=since,
                          width=spec[1] / spec[2], task_id=task or "")
            tallies = sorted(_tally(rows, spec[2]).items(),
                             key=lambda item: (-item[1].attempts, item[0]))[:MAX_GROUPS]
            groups = [_group(tx, env, fp, t, spec, since) for fp, t in tallies]
        return sorted(groups, key=lambda g: (-g["attempts_failed"], -g["last_seen"]))

    def get(self, env: str, fp: str, window: str | None = None) -> dict[str, Any]:
        """One group: its counts in the window, newest occurrences and a full stack."""
        spec = window_of(window)
        if not is_fingerprint(fp):
            raise ValidationError(f"fingerprint: expected 16 hex digits, got {fp!r}",
                                  option="fingerprint")
        since = self.engine.clock.now() - spec[1]
        with self.engine.store.transaction(write=False) as tx:
            if tx.one("error_group_latest", environment=env, fingerprint=fp) is None:
                raise NotFoundError(f"no error group {fp!r} in environment {env!r}",
                                    fingerprint=fp)
            rows = tx.all("error_group_buckets", environment=env, fingerprint=fp, since=since,
                          width=spec[1] / spec[2])
            tally = _tally(rows, spec[2]).get(fp)
            group = _group(tx, env, fp, tally or _Tally("", [0] * spec[2]), spec, since)
            found = tx.all("error_occurrences", environment=env, fingerprint=fp,
                           limit=OCCURRENCES)
        occurrences = [_occurrence(r) for r in found]
        stack = next((o.pop("stack") for o in occurrences if o.get("stack")), None)
        for o in occurrences:
            o.pop("stack", None)
        return group | {"occurrences": occurrences, "stack": stack}


def _occurrence(row: Row) -> dict[str, Any]:
    error = loads(row["attempt_error"]) if row["attempt_error"] else None
    return {"run_id": row["run_id"], "attempt": int(row["attempt"]),
            "final": bool(row["final"]), "version": row["version"], "at": float(row["at"]),
            "message": (error or {}).get("message", row["message"]),
            "run_status": row["run_status"], "stack": (error or {}).get("stack")}
