"""The endpoint Slack posts button clicks to (your Slack app's "Interactivity Request URL").

It checks Slack's signature, that the person may approve deploys, then completes the
run's token with the decision. Run it with `uvicorn deploy_approval.app:app --port 8000`
from this example's folder while `outlast dev` runs: `wait.complete_token` finds the dev
server through `.outlast/dev.env` (in production, `OUTLAST_API_URL` and `OUTLAST_API_KEY`).
"""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deploy_approval.slack import verify
from outlast import OutlastError, wait

#: who may approve deploys (Slack user names)
APPROVERS = frozenset(os.environ.get("DEPLOY_APPROVERS", "ada,grace").split(","))


def signing_secret() -> str:
    return os.environ.get("SLACK_SIGNING_SECRET", "dev-signing-secret")


def reply(text: str) -> JSONResponse:
    """Slack shows this text only to the person who clicked."""
    return JSONResponse({"response_type": "ephemeral", "replace_original": False,
                         "text": text})


async def slack_interactions(request: Request) -> Response:
    body = await request.body()
    if not verify(signing_secret(), request.headers.get("x-slack-request-timestamp", ""),
                  body, request.headers.get("x-slack-signature", "")):
        return JSONResponse({"error": "bad signature"}, status_code=401)
    payload = json.loads(parse_qs(body.decode()).get("payload", ["{}"])[0])
    actions = payload.get("actions") or []
    if payload.get("type") != "block_actions" or not actions:
        return JSONResponse({"error": "not a button click"}, status_code=400)
    user = payload["user"]["username"]
    if user not in APPROVERS:
        return reply(f"Sorry {user}, you may not approve deploys.")
    value = json.loads(actions[0]["value"])
    try:
        # a blocking call: off the event loop
        await run_in_threadpool(wait.complete_token, value["token_id"],
                                {"approved": value["decision"] == "approve", "by": user})
    except OutlastError as exc:
        if exc.http_status == 409:  # someone decided first, or the 30 minutes passed
            return reply("This deploy was already decided.")
        raise
    return reply(f"Thanks {user}, deploy {value['decision']}d.")


app = Starlette(routes=[Route("/slack/interactions", slack_interactions, methods=["POST"])])
