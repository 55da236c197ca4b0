"""Click Approve or Reject as Slack would, without Slack: post a signed interaction to the
app. `python -m deploy_approval.click TOKEN_ID approve ada [http://127.0.0.1:8000]`"""

from __future__ import annotations

import json
import os
import sys
import time
from urllib.parse import urlencode

import httpx

from deploy_approval.slack import interaction, sign


def click(token_id: str, decision: str, user: str, app_url: str) -> str:
    body = urlencode({"payload": json.dumps(interaction(token_id, decision, user))}).encode()
    timestamp = str(int(time.time()))
    secret = os.environ.get("SLACK_SIGNING_SECRET", "dev-signing-secret")
    response = httpx.post(f"{app_url}/slack/interactions", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(secret, timestamp, body)})
    return f"{response.status_code} {response.text}"


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (3, 4):
        sys.exit(__doc__)
    token_id, decision, user = args[:3]
    print(click(token_id, decision, user, args[3] if len(args) == 4 else "http://127.0.0.1:8000"))
