"""attempts.decide: the pure policy from an attempt's outcome to the run's next transition."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.core.outcomes import Outcome, is_final_failure
from outlast.core.retry import Retry
from outlast.engine.attempts import MAX_PLATFORM_HANDBACKS, Decision, RunFacts, decide

FIXED = Retry(max_attempts=3, factor=2.0, min_delay=1.0, max_delay=30.0, randomize=False)
OOM = Retry(max_attempts=3, factor=2.0, min_delay=1.0, max_delay=30.0, randomize=False,
            out_of_memory_machine="large-1x")


def outcome(kind: str, attempt: int = 1, **kw: Any) -> Outcome:
    return Outcome(run_id="run_x", lease_id="lease_x", attempt=attempt, kind=kind,  # type: ignore[arg-type]
                   **kw)


CASES = [
    # (id, outcome, retry policy, expected decision)
    ("completed", outcome("completed"), FIXED, Decision("complete")),
    ("completed-on-last", outcome("completed", 3), FIXED, Decision("complete")),
    ("failed-1-retries", outcome("failed", 1), FIXED, Decision("retry", 1.0, "small-1x")),
    ("failed-2-backs-off", outcome("failed", 2), FIXED, Decision("retry", 2.0, "small-1x")),
    ("failed-last-fails", outcome("failed", 3), FIXED, Decision("fail")),
    ("failed-past-last-fails", outcome("failed", 4), FIXED, Decision("fail")),
    ("aborted-first-fails", outcome("aborted", 1), FIXED, Decision("fail")),
    ("crashed-1-retries", outcome("crashed", 1), FIXED, Decision("retry", 1.0, "small-1x")),
    ("crashed-last-crashes", outcome("crashed", 3), FIXED, Decision("crash")),
    ("oom-retries-bigger", outcome("oom", 1), OOM, Decision("retry", 1.0, "large-1x")),
    ("oom-no-bigger-machine", outcome("oom", 2), FIXED, Decision("retry", 2.0, "small-1x")),
    ("oom-last-crashes", outcome("oom", 3), OOM, Decision("crash")),
    ("override-false-fails", outcome("failed", 1, retry_override=False), FIXED, Decision("fail")),
    ("override-false-crash", outcome("crashed", 1, retry_override=False), FIXED,
     Decision("fail")),
    ("override-seconds", outcome("failed", 1, retry_override=42.5), FIXED,
     Decision("retry", 42.5, "small-1x")),
    ("override-int-seconds", outcome("failed", 2, retry_override=7), FIXED,
     Decision("retry", 7.0, "small-1x")),
    ("override-true-uses-policy", outcome("failed", 2, retry_override=True), FIXED,
     Decision("retry", 2.0, "small-1x")),
    ("override-on-last-fails", outcome("failed", 3, retry_override=5.0), FIXED,
     Decision("fail")),
    ("timed-out", outcome("timed_out", 1), FIXED, Decision("time_out")),
    ("timed-out-last", outcome("timed_out", 3), FIXED, Decision("time_out")),
    ("parked", outcome("parked", 1), FIXED, Decision("park")),
    ("parked-last", outcome("parked", 3), FIXED, Decision("park")),
    ("parked-override-false", outcome("parked", 1, retry_override=False), FIXED,
     Decision("park")),
    ("released", outcome("released", 1), FIXED, Decision("release")),
    ("released-last", outcome("released", 3), FIXED, Decision("release")),
    ("platform-error-gives-back", outcome("platform_error", 1), FIXED,
     Decision("release", 1.0)),
    ("platform-error-last-gives-back", outcome("platform_error", 3), FIXED,
     Decision("release", 1.0)),
]


@pytest.mark.parametrize(("result", "policy", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_decide(result: Outcome, policy: Retry, expected: Decision) -> None:
    facts = RunFacts(max_attempts=policy.max_attempts, retry=policy, machine="small-1x")
    assert decide(result, facts) == expected


@pytest.mark.parametrize(("earlier", "expected"), [
    (0, Decision("release", 1.0)), (1, Decision("release", 2.0)),
    (3, Decision("release", 8.0)), (MAX_PLATFORM_HANDBACKS - 2, Decision("release", 60.0)),
    (MAX_PLATFORM_HANDBACKS - 1, Decision("system_failure")),
    (MAX_PLATFORM_HANDBACKS, Decision("system_failure")),
])
def test_platform_handbacks_back_off_and_end_in_system_failure_only_past_the_cap(
        earlier: int, expected: Decision) -> None:
    facts = RunFacts(max_attempts=1, retry=FIXED, machine="small-1x",
                     platform_handbacks=earlier)
    assert decide(outcome("platform_error", 1), facts) == expected


def test_run_max_attempts_overrides_the_policy() -> None:
    facts = RunFacts(max_attempts=1, retry=FIXED, machine="small-1x")
    assert decide(outcome("failed", 1), facts) == Decision("fail")
    assert decide(outcome("crashed", 1), facts) == Decision("crash")


def test_jittered_retry_delay_stays_in_bounds() -> None:
    policy = Retry(max_attempts=5, min_delay=4.0, randomize=True)
    facts = RunFacts(max_attempts=5, retry=policy, machine="micro")
    for _ in range(100):
        decision = decide(outcome("failed", 1), facts)
        assert decision.transition == "retry"
        assert 3.0 <= decision.delay <= 5.0
        assert decision.machine == "micro"


@pytest.mark.parametrize(
    ("result", "max_attempts", "expected"),
    [
        (outcome("failed", 1), 3, False),
        (outcome("failed", 3), 3, True),
        (outcome("aborted", 1), 3, True),
        (outcome("timed_out", 1), 3, True),
        (outcome("failed", 1, retry_override=False), 3, True),
        (outcome("crashed", 2), 3, False),
        (outcome("parked", 3), 3, False),
    ],
)
def test_is_final_failure(result: Outcome, max_attempts: int, expected: bool) -> None:
    assert is_final_failure(result, max_attempts) is expected
