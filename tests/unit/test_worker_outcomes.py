"""What the supervisor writes for an attempt its child reported (``worker/outcomes.py``)."""

from __future__ import annotations

import dataclasses

from outlast.core.outcomes import Outcome
from outlast.worker import outcomes
from outlast.worker.messages import Finished


def test_a_finished_run_becomes_the_outcome_its_constructor_would_make() -> None:
    """Every field is set, to the child's value (a field added to ``Outcome`` and not to
    ``finished`` fails here)."""
    m = Finished("run_1", "lease_1", 2, "failed", 0.25, output={"a": 1},
                 error={"type": "E", "message": "m"}, retry_override=3.0, hooks_done=True,
                 retry_at=9.0, retry_machine="large-1x", hook_errors=({"hook": "h"},))
    made = Outcome("run_1", "lease_1", 2, "failed", 0.25, {"a": 1},
                   {"type": "E", "message": "m"}, 3.0, True, "small-1x", 9.0, "large-1x",
                   ({"hook": "h"},))
    outcome = outcomes.finished(m, "small-1x")
    assert outcome == made and vars(outcome) == vars(made)
    assert sorted(vars(outcome)) == sorted(f.name for f in dataclasses.fields(Outcome))
    assert dataclasses.replace(outcome, kind="completed").kind == "completed"
