"""A deploy waits for a click in Slack: approved, rejected, forged, or nobody answers."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from outlast.testing import TestRuns

with warnings.catch_warnings():  # Starlette would rather drive it with httpx2; httpx works
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from deploy_approval.app import app
from deploy_approval.slack import interaction, sign, slack, verify
from deploy_approval.tasks import deploy_service

REQUEST = {"service": "billing", "version": "v42", "requested_by": "linus"}
SECRET = "dev-signing-secret"


@pytest.fixture
def env() -> Iterator[TestRuns]:
    slack.posted.clear()
    with TestRuns() as runs:
        yield runs


@pytest.fixture
def web() -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def click(web: TestClient, token_id: str, decision: str, user: str,
          secret: str = SECRET) -> dict[str, object]:
    """Post what Slack posts when ``user`` clicks a button, signed like Slack signs it."""
    body = urlencode({"payload": json.dumps(interaction(token_id, decision, user))}).encode()
    timestamp = str(int(time.time()))
    response = web.post("/slack/interactions", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(secret, timestamp, body)})
    return {"status": response.status_code, **response.json()}


def token_in_message() -> str:
    """The token id the Approve button of the last approval request carries."""
    [request] = [m for m in slack.posted if m["blocks"]]
    button = request["blocks"][1]["elements"][0]
    return str(json.loads(button["value"])["token_id"])


def test_approved_in_slack_deploys(env: TestRuns, web: TestClient) -> None:
    run = env.run(deploy_service, REQUEST)
    assert run.status == "WAITING"
    assert "billing" in slack.posted[0]["blocks"][0]["text"]["text"]

    answer = click(web, token_in_message(), "approve", "ada")
    assert answer["status"] == 200 and "approved" in str(answer["text"])

    run = env.run_until_final(run.id)
    assert run.status == "COMPLETED"
    assert run.output["deployed"] is True and run.output["approved_by"] == "ada"
    assert slack.posted[-1]["text"] == "billing v42 is live, approved by ada"
    # the approval request was posted once, although the run replayed after the wait
    assert len([m for m in slack.posted if m["blocks"]]) == 1


def test_rejected_in_slack_does_not_deploy(env: TestRuns, web: TestClient) -> None:
    run = env.run(deploy_service, REQUEST)
    click(web, token_in_message(), "reject", "grace")
    run = env.run_until_final(run.id)
    assert run.output == {"deployed": False, "reason": "rejected", "by": "grace"}
    assert "roll_out" not in " ".join(e["name"] for e in env.journal(run.id))


def test_nobody_answers_within_30_minutes_rejects(env: TestRuns) -> None:
    run = env.run(deploy_service, REQUEST)
    run = env.run_until_final(run.id, token_timeouts=True)  # the fake clock jumps 30 minutes
    assert run.output == {"deployed": False, "reason": "timeout"}
    assert "no approval within 30m" in slack.posted[-1]["text"]


def test_a_late_click_is_told_it_was_decided(env: TestRuns, web: TestClient) -> None:
    run = env.run(deploy_service, REQUEST)
    token_id = token_in_message()
    env.run_until_final(run.id, token_timeouts=True)
    answer = click(web, token_id, "approve", "ada")
    assert answer["status"] == 200 and answer["text"] == "This deploy was already decided."
    assert env.retrieve(run.id).output["reason"] == "timeout"


def test_a_forged_click_changes_nothing(env: TestRuns, web: TestClient) -> None:
    run = env.run(deploy_service, REQUEST)
    answer = click(web, token_in_message(), "approve", "ada", secret="guessed")
    assert answer["status"] == 401
    assert env.retrieve(run.id).status == "WAITING"
    assert len(env.tokens(run.id)) == 1  # still pending


def test_only_approvers_may_approve(env: TestRuns, web: TestClient) -> None:
    run = env.run(deploy_service, REQUEST)
    answer = click(web, token_in_message(), "approve", "mallory")
    assert "may not approve" in str(answer["text"])
    assert env.retrieve(run.id).status == "WAITING"


def test_signatures_expire_after_five_minutes() -> None:
    body = b"payload=%7B%7D"
    signature = sign(SECRET, "1000", body)
    assert verify(SECRET, "1000", body, signature, now=1000 + 299)
    assert not verify(SECRET, "1000", body, signature, now=1000 + 301)
    assert not verify(SECRET, "1000", body + b"x", signature, now=1000)
