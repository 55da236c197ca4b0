"""How the fault suite tells a re-run recorded step from the allowed at-least-once case."""

from __future__ import annotations

from typing import Any

import pytest
from bench.chaos.checks import Findings, compare_output, judge

WRITTEN = 1000.0  # when the journal entry was written


def run(nonce: str, attempt: int, t: float) -> dict[str, Any]:
    return {"nonce": nonce, "attempt": attempt, "t": t, "pid": 1}


ENTRY = {"result": {"nonce": "rec", "attempt": 2}, "completed_at": WRITTEN,
         "created_at": WRITTEN}


@pytest.mark.parametrize(("other", "rerun"), [
    # attempt 1 ran the step, died before the journal write; attempt 2's run was recorded
    (run("lost", 1, WRITTEN - 3), False),
    # attempt 3 began after attempt 2's lease was gone, so after the commit: a re-run
    (run("again", 3, WRITTEN + 10), True),
    # even when the clocks say otherwise: a later attempt saw the journal
    (run("again", 3, WRITTEN - 0.1), True),
    # a stale attempt 1 still running the step well after the commit
    (run("stale", 1, WRITTEN + 5), True),
    # ... but not one that began within the commit's margin (it read the journal before)
    (run("racing", 1, WRITTEN + 0.1), False),
])
def test_a_rerun_is_a_start_after_the_record(other: dict[str, Any], rerun: bool) -> None:
    found = Findings()
    judge(found, "run_1", "one", ENTRY, [run("rec", 2, WRITTEN - 0.2), other])
    assert (len(found.reruns), found.steps_at_least_once) == ((1, 0) if rerun else (0, 1))


def test_a_completed_run_returns_what_its_journal_recorded() -> None:
    journal = {name: {"result": {"nonce": name[0], "attempt": 1}}
               for name in ("one", "two", "three")}
    found = Findings()
    for output in (["o", "t", "t"], ["o", "x", "t"]):
        compare_output(found, {"id": "run_1", "task": "chaos-durable", "status": "COMPLETED",
                               "output": output}, journal)
    assert found.wrong_outputs == ["run_1: returned ['o', 'x', 't'], journal has "
                                   "['o', 't', 't']"]
