"""The review agent: files reviewed once each, progress streamed, a person approves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from code_review.github import SAMPLE_FILES, github
from code_review.llm import ProviderError, llm
from code_review.tasks import review_pull_request

from outlast import runs
from outlast.testing import TestRuns

PR = {"repo": "acme/shop", "number": 7}
PATHS = [f["path"] for f in SAMPLE_FILES]


@pytest.fixture
def env() -> Iterator[TestRuns]:
    llm.calls.clear()
    llm.failures.clear()
    github.reviews.clear()
    with TestRuns() as runs_env:
        yield runs_env


def test_review_waits_for_approval_then_posts(env: TestRuns) -> None:
    run = env.run(review_pull_request, PR)
    assert run.status == "WAITING"
    assert run.metadata["stage"] == "awaiting approval"
    assert run.metadata["reviewed"] == 3 and run.metadata["files"] == 3
    assert run.metadata["summary"].startswith("3 comment(s) on billing/invoice.py")
    assert github.reviews == []  # nothing is posted before a person approves

    [token] = env.tokens(run.id)
    assert run.metadata["approve_url"] == token.url
    env.complete_token(token.id, {"approved": True})
    run = env.run_until_final(run.id)

    assert run.output == {"posted": True, "review": 1, "comments": 3}
    [posted] = github.reviews
    assert posted["body"] == run.metadata["summary"]
    assert {c["path"] for c in posted["comments"]} == {"billing/invoice.py", "billing/client.py"}
    # one model call per file and one for the summary, although the run replayed
    assert llm.calls == [*PATHS, "reviews"]


def test_each_file_is_a_step_in_the_journal(env: TestRuns) -> None:
    run = env.run(review_pull_request, PR)
    steps = [e.name for e in env.journal(run.id) if e.kind == "step"]
    assert [f"review {p}" for p in PATHS] == [s for s in steps if s.startswith("review ")]


def test_progress_is_streamed_one_chunk_per_file(env: TestRuns) -> None:
    run = env.run(review_pull_request, PR)
    env.complete_token(env.tokens(run.id)[0].id, {"approved": True})
    env.run_until_final(run.id)
    chunks = list(runs.stream(run.id, "progress"))
    assert chunks == [{"file": "billing/invoice.py", "comments": 2},
                      {"file": "billing/refund.py", "comments": 0},
                      {"file": "billing/client.py", "comments": 1}]


def test_the_reviewer_edits_the_summary(env: TestRuns) -> None:
    run = env.run(review_pull_request, PR)
    env.complete_token(env.tokens(run.id)[0].id,
                       {"approved": True, "summary": "Two nits, then ship it."})
    env.run_until_final(run.id)
    assert github.reviews[0]["body"] == "Two nits, then ship it."


def test_rejected_or_unanswered_summaries_are_not_posted(env: TestRuns) -> None:
    rejected = env.run(review_pull_request, PR)
    env.complete_token(env.tokens(rejected.id)[0].id, {"approved": False})
    assert env.run_until_final(rejected.id).output == {"posted": False, "reason": "rejected"}

    ignored = env.run(review_pull_request, PR, idempotency_key="second")
    ignored = env.run_until_final(ignored.id, token_timeouts=True)  # a week passes
    assert ignored.output == {"posted": False, "reason": "timeout"}
    assert github.reviews == []


def test_a_rate_limited_model_call_is_retried_within_the_step(env: TestRuns) -> None:
    llm.fail_next(ProviderError("429 rate limited"))
    run = env.run(review_pull_request, PR)
    assert run.status == "WAITING" and run.attempts == 1
    assert llm.calls[:2] == [PATHS[0], PATHS[0]]  # the first file's call, then its retry


def test_a_failed_attempt_does_not_review_finished_files_again(env: TestRuns) -> None:
    # the third file fails past its step's 4 tries: the attempt fails, and the run retries
    llm.fail_next(*[ProviderError("503 service unavailable")] * 4, about=PATHS[2])
    run = env.run(review_pull_request, PR)
    assert run.status == "WAITING" and run.attempts == 2
    # the second attempt replayed files 1 and 2 from the journal and reviewed file 3 again
    assert llm.calls == [PATHS[0], PATHS[1], *[PATHS[2]] * 5, "reviews"]
