"""The deploy task: plan, ask in Slack, wait for a person (at most 30 minutes), deploy.

While it waits the run is WAITING and holds no worker. An Approve or Reject click reaches
`app.py`, which completes the token; no answer within 30 minutes rejects the deploy.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from deploy_approval.slack import approval_blocks, slack
from outlast import logger, step, task, wait

CHANNEL = "#deploys"
APPROVAL_TIMEOUT = "30m"


class DeployRequest(BaseModel):
    service: str
    version: str
    environment: str = "production"
    requested_by: str


@step
def plan(request: dict[str, Any]) -> dict[str, Any]:
    """What the deploy will do (a stand-in for your build or diff step)."""
    return {"service": request["service"], "version": request["version"],
            "image": f"registry.example/{request['service']}:{request['version']}"}


@step
def ask_in_slack(request: dict[str, Any], token_id: str) -> str:
    """Post the approval request; a step, so a replay never posts it twice."""
    answer = slack.post_message(CHANNEL, f"Deploy {request['service']} {request['version']}?",
                                approval_blocks(request, token_id))
    return str(answer["ts"])


@step
def announce(text: str) -> None:
    slack.post_message(CHANNEL, text)


@step
def roll_out(image: str, environment: str) -> dict[str, Any]:
    """The deploy itself (a stand-in for your orchestrator's API)."""
    logger.info("rolling out", image=image, environment=environment)
    return {"image": image, "environment": environment, "replicas": 3}


@task(id="deploy-service")
def deploy_service(payload: DeployRequest) -> dict[str, Any]:
    request = payload.model_dump()
    planned = plan(request)
    token = wait.create_token(timeout=APPROVAL_TIMEOUT,
                              tags=["deploy", f"service:{payload.service}"])
    ask_in_slack(request, token.id)
    answer = wait.for_token(token)
    if not answer.ok:  # nobody answered in time: a timeout rejects
        announce(f"Deploy of {payload.service} {payload.version} rejected: "
                 f"no approval within {APPROVAL_TIMEOUT}")
        return {"deployed": False, "reason": "timeout"}
    decision = answer.output
    if not decision.get("approved"):
        announce(f"Deploy of {payload.service} {payload.version} rejected by {decision['by']}")
        return {"deployed": False, "reason": "rejected", "by": decision["by"]}
    result = roll_out(planned["image"], payload.environment)
    announce(f"{payload.service} {payload.version} is live, approved by {decision['by']}")
    return {"deployed": True, "approved_by": decision["by"], **result}
