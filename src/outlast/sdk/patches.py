"""``patched``: change a task's code without breaking the runs already in flight.

    from outlast import patched

    if patched("send-sms-v2"):    # runs that reach this point on the new code
        send_sms_v2(...)
    else:                         # runs recorded before the change keep the old path
        send_sms(...)

Replay needs every run to call the same durable operations in the same order. A run
recorded before the change has the old branch's operations in its journal where the new
code asks ``patched``; a run that reaches the same point on the new code has none yet.
``patched`` tells them apart at the journal's current position:

- a ``patch`` entry with this id is recorded there: the run took the new branch before
  (it is consumed, like any replayed operation) → True;
- another entry is recorded there: the run was recorded before the patch existed → False,
  and the position is left for the old branch's operation to replay;
- nothing is recorded there: a new execution; a ``patch`` entry is written (so every
  later replay answers the same) → True.

The answer is kept for the attempt: asking again about the same change (in a loop, or
from two places) returns it without touching the journal. Once no run of the old code is
in flight, delete the old branch and the ``patched`` call together (as in Temporal's
``workflow.patched`` and DBOS's ``patch``).
"""

from __future__ import annotations

import threading
from weakref import WeakKeyDictionary

from outlast.core.durable_requests import Op, Patch
from outlast.errors import ValidationError
from outlast.sdk.durable import DurableRun, active

KIND = "patch"
MAX_ID = 200

#: each attempt's answers, by change id (weak: they end with the attempt's DurableRun)
_answers: WeakKeyDictionary[DurableRun, dict[str, bool]] = WeakKeyDictionary()
_lock = threading.Lock()


def patched(change_id: str) -> bool:
    """True when this run takes the new code of change ``change_id``; see the module doc."""
    _check_id(change_id)
    run = active(f"patched({change_id!r})")
    with _lock:
        answers = _answers.setdefault(run, {})
    if change_id not in answers:
        answers[change_id] = _decide(run, change_id)
    return answers[change_id]


def _decide(run: DurableRun, change_id: str) -> bool:
    entry = run.peek()
    if entry is not None and (entry.kind, entry.name) != (KIND, change_id):
        return False  # recorded before the patch: the old branch replays from here
    # recorded with the patch (replayed), or a new execution (a patch entry is written)
    return bool(run.call(KIND, change_id, lambda at: _mark(run, at)))


def _mark(run: DurableRun, at: Op) -> bool:
    return bool(run.ask(Patch(at))["result"])


def _check_id(change_id: object) -> None:
    if not isinstance(change_id, str) or not change_id.strip():
        raise ValidationError(f"patched: the change id must be a non-empty string, "
                              f"not {change_id!r}")
    if len(change_id) > MAX_ID:
        raise ValidationError(f"patched: the change id is {len(change_id)} characters long; "
                              f"at most {MAX_ID}")
