"""What this example needs of Slack: post a message, and check that a request really came
from Slack.

``FakeSlack`` stands in for Slack's Web API so the example runs offline: it keeps the
messages it was asked to post (and logs them, so `outlast dev` shows them). Replace it with
a client that calls `chat.postMessage` with your bot token. The signature check is the real
one: Slack signs every request to your app with the app's signing secret
(`v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from outlast import logger

#: Slack's advice: refuse requests older than five minutes (a replayed capture)
MAX_AGE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` Slack sends with ``body`` at ``timestamp``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str,
           now: float | None = None) -> bool:
    """True when the request was signed with ``secret`` less than five minutes ago."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    if age > MAX_AGE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def approval_blocks(request: dict[str, Any], token_id: str) -> list[dict[str, Any]]:
    """A message with Approve and Reject buttons; each button carries the token's id, which
    comes back in the interaction Slack sends when someone clicks."""
    text = (f"*{request['requested_by']}* wants to deploy *{request['service']}* "
            f"`{request['version']}` to *{request['environment']}*")
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "style": style,
         "action_id": f"deploy_{decision}",
         "value": json.dumps({"token_id": token_id, "decision": decision})}
        for label, style, decision in (("Approve", "primary", "approve"),
                                       ("Reject", "danger", "reject"))
    ]
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "block_id": "deploy_approval", "elements": buttons}]


def interaction(token_id: str, decision: str, user: str) -> dict[str, Any]:
    """The `block_actions` payload Slack posts when ``user`` clicks a button of
    ``approval_blocks`` (trimmed to the fields this example reads)."""
    return {
        "type": "block_actions",
        "user": {"id": f"U{user.upper()}", "username": user},
        "actions": [{"action_id": f"deploy_{decision}", "block_id": "deploy_approval",
                     "value": json.dumps({"token_id": token_id, "decision": decision})}],
    }


@dataclass
class FakeSlack:
    """Slack's `chat.postMessage`, offline: the messages are kept in ``posted``."""

    posted: list[dict[str, Any]] = field(default_factory=list)

    def post_message(self, channel: str, text: str,
                     blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        message = {"channel": channel, "text": text, "blocks": blocks or [],
                   "ts": f"{len(self.posted) + 1}.000"}
        self.posted.append(message)
        logger.info("slack message", channel=channel, text=text)
        return {"ok": True, "channel": channel, "ts": message["ts"]}


#: the Slack the tasks post to; tests read and clear its ``posted`` list
slack = FakeSlack()
