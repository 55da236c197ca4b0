"""The review agent: one step per file, a summary, a person's approval, then the post.

Each file's review is a step: recorded once it returns, so a retry or a resume never pays
the model again for a file it already reviewed. Progress goes out as it happens: the run's
metadata says how far it is, and a `progress` stream carries one chunk per file (appended
inside the step, so a replay does not send it twice). The summary waits for a person's
approval (or their edit) for up to a week, holding no worker meanwhile.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from code_review.github import github
from code_review.llm import llm
from outlast import Retry, metadata, step, streams, task, wait

REVIEW_PROMPT = "Review this diff. Answer JSON: {\"comments\": [{\"line\", \"body\"}]}."
SUMMARY_PROMPT = "Summarize these file reviews for the pull request's author. Answer JSON."


class PullRequest(BaseModel):
    repo: str
    number: int


@step
def fetch_files(repo: str, number: int) -> list[dict[str, str]]:
    return github.pull_request_files(repo, number)


def review_file(path: str, patch: str) -> dict[str, Any]:
    """One model call for one file; a provider error is retried by the step's policy."""
    answer = json.loads(llm.complete(REVIEW_PROMPT, f"{path}\n{patch}"))
    review = {"path": path, "comments": answer["comments"]}
    streams.append("progress", {"file": path, "comments": len(review["comments"])})
    return review


@step
def summarize(reviews: list[dict[str, Any]]) -> dict[str, Any]:
    lines = "\n".join(json.dumps(r) for r in reviews)
    return dict(json.loads(llm.complete(SUMMARY_PROMPT, f"reviews\n{lines}")))


@step
def post_review(repo: str, number: int, body: str, reviews: list[dict[str, Any]]) -> int:
    comments = [{"path": r["path"], **c} for r in reviews for c in r["comments"]]
    return github.post_review(repo, number, body, comments)


#: the model is called again after a 429 or a 5xx, in the same attempt
MODEL_RETRY = Retry(max_attempts=4, min_delay=1, factor=2, max_delay=30)


@task(id="review-pull-request", retry=Retry(max_attempts=3, min_delay=5))
def review_pull_request(payload: PullRequest) -> dict[str, Any]:
    files = fetch_files(payload.repo, payload.number)
    metadata.set("files", len(files))
    reviews = []
    for done, changed in enumerate(files, start=1):
        reviews.append(step.run(f"review {changed['path']}", review_file, changed["path"],
                                changed["patch"], retry=MODEL_RETRY))
        metadata.set("reviewed", done)
    summary = summarize(reviews)
    token = wait.create_token(timeout="7d", tags=["review", f"pr:{payload.repo}#{payload.number}"])
    metadata.update({"stage": "awaiting approval", "summary": summary["summary"],
                     "approve_url": token.url})
    answer = wait.for_token(token)
    if not answer.ok or not answer.output.get("approved"):
        metadata.set("stage", "discarded")
        return {"posted": False, "reason": "timeout" if not answer.ok else "rejected"}
    body = answer.output.get("summary") or summary["summary"]  # the reviewer may edit it
    review_id = post_review(payload.repo, payload.number, body, reviews)
    metadata.set("stage", "posted")
    return {"posted": True, "review": review_id, "comments": summary["comments"]}
