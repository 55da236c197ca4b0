"""How a replay check ended, and what that says about the run: the pure core of
``outlast.worker.replay``.

A replay of a recorded run (``outlast.worker.replay.replay``) ends in an ``Ending``;
``judge`` turns it into a ``Verdict``:

- ``ok``: the code reached the end of the record (``ReplayEnd``: the next operation would
  run live, or a wait is still pending), or returned;
- ``non_determinism``: it called another operation than the one recorded (position,
  recorded and called kind and name), even if task code caught the error;
- ``task_missing``: the run's task is not in this code at all;
- ``raised``: the code raised before it reached the end of the record, or the payload no
  longer loads. A raise past the record is what the run would do live too: ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["ok", "non_determinism", "task_missing", "raised"]
OK: Kind = "ok"


class ReplayEnd(BaseException):  # noqa: N818 - a control-flow signal, not an error
    """The replay reached where the record ends: past it the run would go on live.

    A ``BaseException``, like ``SuspendRun``, so that ``except Exception`` in task code
    cannot swallow it.
    """


@dataclass(frozen=True)
class Ending:
    """How one replay ended: what it raised (None: the task returned), how many journal
    positions it took, the first replay mismatch (even one task code caught), and whether
    the payload still loads."""

    reached: int
    recorded: int
    exc: BaseException | None = None
    mismatch: dict[str, Any] | None = None
    payload_ok: bool = True


@dataclass(frozen=True)
class Verdict:
    """Would this code carry the run on? ``kind`` says; the other fields say where not."""

    run_id: str
    task_id: str
    kind: Kind
    seq: int | None = None
    recorded: dict[str, str] | None = None
    called: dict[str, str] | None = None
    error: dict[str, str] | None = None

    @property
    def breaks(self) -> bool:
        return self.kind != OK

    def describe(self) -> str:
        """One line for a person: what this code would do to the run."""
        if self.kind == "task_missing":
            return f"task {self.task_id!r} is gone"
        if self.kind == "non_determinism" and self.recorded and self.called:
            return (f"#{self.seq}: recorded {self.recorded['kind']} {self.recorded['name']!r}, "
                    f"code calls {self.called['kind']} {self.called['name']!r}")
        if self.kind == "raised" and self.error:
            return f"#{self.seq}: raised {self.error['type']}: {self.error['message']}"
        return "would continue"


def judge(run_id: str, task_id: str, ending: Ending | None) -> Verdict:
    """The verdict on a replay that ended so (None: the task is not in the code)."""
    if ending is None:
        return Verdict(run_id, task_id, "task_missing")
    if ending.mismatch is not None:
        return Verdict(run_id, task_id, "non_determinism", seq=ending.mismatch["seq"],
                       recorded=ending.mismatch["recorded"], called=ending.mismatch["called"])
    exc = ending.exc
    if exc is None or isinstance(exc, ReplayEnd):
        return Verdict(run_id, task_id, OK)
    if not ending.payload_ok or ending.reached < ending.recorded:
        return Verdict(run_id, task_id, "raised", seq=ending.reached,
                       error={"type": type(exc).__name__, "message": str(exc)[:500]})
    # past the record, a raise is what the run would do live anyway (and retry)
    return Verdict(run_id, task_id, OK)
