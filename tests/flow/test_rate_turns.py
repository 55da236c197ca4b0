"""Keys keep their turns when a queue-wide rule, not the claim's capacity, ends a claim.

A claim that a queue's rate (or its total cap) cut short served keys up to some point;
the next claim must resume after the last key served, or the keys the rate turned away
lose their turn every window and starve behind the others' backlog.
"""

from __future__ import annotations

import json
from typing import Any

from outlast.clock import FakeClock
from outlast.core.limits import Rate
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from outlast.engine.flow import Candidate, QueueState, plan
from tests.conftest import definition

KEYS = "abcdefg"


def test_rate_cut_claim_resumes_after_the_last_key_served() -> None:
    heads = [Candidate(f"r{k}", "q", k, 0.0) for k in KEYS]
    decided = plan(heads, {"q": QueueState("q", rate=Rate(5, 1))}, 10)
    assert decided.ids == ["ra", "rb", "rc", "rd", "re"]
    assert decided.cursors == {"q": "e"}


def test_exhausted_rate_leaves_the_turn_where_it_was() -> None:
    state = QueueState("q", rate=Rate(5, 1), rate_used=5, cursor="e")
    decided = plan([Candidate("ra", "q", "a", 0.0)], {"q": state}, 10)
    assert decided.ids == [] and decided.cursors == {}


def test_total_cut_claim_resumes_after_the_last_key_served() -> None:
    heads = [Candidate(f"r{k}", "q", k, 0.0) for k in KEYS]
    decided = plan(heads, {"q": QueueState("q", limit=1, total=3)}, 10)
    assert decided.ids == ["ra", "rb", "rc"] and decided.cursors == {"q": "c"}


def test_every_key_gets_its_turn_under_a_rate(engine: Engine, register: Any,
                                              clock: FakeClock) -> None:
    register(engine, definition("job", queue="q", rate_limit="5/s"))
    opts = {k: parse_options({"concurrency_key": k}, engine.clock.now()) for k in KEYS}
    engine.trigger_batch("dev", [NewRun("job", json.dumps(i), opts[k])
                                 for i in range(2) for k in KEYS])
    # the runs are equally old, so which sort first by id is chance; the turns are not
    first = engine.claim("dev", "w1", None, 10)
    assert sorted(r["concurrency_key"] for r in first) == list("abcde")
    clock.advance(1)
    second = engine.claim("dev", "w1", None, 10)
    assert sorted(r["concurrency_key"] for r in second) == list("abcfg")


def test_turns_do_not_depend_on_which_equally_old_run_sorts_first(
        engine: Engine, register: Any, clock: FakeClock) -> None:
    """The oldest runs by id all belong to two keys; the rate still serves keys in turn."""
    register(engine, definition("job", queue="q", rate_limit="3/s"))
    opts = {k: parse_options({"concurrency_key": k}, engine.clock.now()) for k in "xyz"}
    engine.trigger_batch("dev", [NewRun("job", "0", opts[k]) for k in "x" + "y" * 9])
    engine.trigger_batch("dev", [NewRun("job", "0", opts["z"])])
    first = engine.claim("dev", "w1", None, 3)
    assert sorted(r["concurrency_key"] for r in first) == list("xyz")
