"""Alerts: a signed webhook call when a run ends FAILED, CRASHED or TIMED_OUT.

Two steps, so that a slow or dead receiver never holds up the engine:

1. ``enqueue`` reads run events after a stored cursor and writes one outbox row per
   failure, for environments that have a webhook; in one transaction, so each failure is
   queued exactly once whatever the number of servers (only the lease holder calls it).
2. ``deliver`` POSTs due rows and marks them delivered, or schedules a retry with
   exponential backoff (10 s, 20 s, … at most an hour); after ``MAX_ATTEMPTS`` it gives up
   and keeps the last error on the row.

A webhook is set per environment (``outlast alerts set --env prod URL``) or for every
environment with ``OUTLAST_ALERT_WEBHOOK_URL``. The body is JSON; the header
``X-Outlast-Signature: sha256=<hex>`` is the HMAC-SHA256 of the exact body bytes with the
webhook's secret (``OUTLAST_ALERT_WEBHOOK_SECRET``, else ``OUTLAST_SECRET``, for the
environment-variable webhook).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from outlast.core.backoff import backoff
from outlast.engine import events
from outlast.ids import new_secret
from outlast.jsonutil import dumps, loads

if TYPE_CHECKING:
    from outlast.engine import Engine

CURSOR = "failures"
MAX_ATTEMPTS = 10
BATCH = 5000
#: how old an event must be before the PostgreSQL cursor passes it
SETTLE_SECONDS = events.SETTLE_SECONDS
SIGNATURE_HEADER = "X-Outlast-Signature"

#: (url, body bytes, headers) -> None; raises on failure (HTTP status >= 300 included)
Poster = Callable[[str, bytes, dict[str, str]], None]


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones."""
    return backoff(attempts, first=10.0, most=3600.0)


class Alerts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- configuration ---------------------------------------------------------------------

    def webhook(self, env: str) -> Webhook | None:
        with self.engine.store.transaction(write=False) as tx:
            return self._webhook(tx, env)

    def _webhook(self, tx: Any, env: str) -> Webhook | None:
        row = tx.one("get_alert_webhook", environment=env)
        if row is not None:
            return Webhook(row["url"], row["secret"])
        settings = self.engine.settings
        if not settings.alert_webhook_url:
            return None
        return Webhook(settings.alert_webhook_url, settings.alert_webhook_secret)

    def set_webhook(self, env: str, url: str, secret: str | None = None) -> str:
        """Point ``env``'s alerts at ``url``; returns the signing secret."""
        secret = secret or new_secret()
        with self.engine.store.transaction() as tx:
            tx.run("upsert_alert_webhook", environment=env, url=url, secret=secret,
                   now=self.engine.clock.now())
        return secret

    def remove_webhook(self, env: str) -> bool:
        with self.engine.store.transaction() as tx:
            return tx.run("delete_alert_webhook", environment=env) > 0

    def list_webhooks(self) -> list[dict[str, Any]]:
        with self.engine.store.transaction(write=False) as tx:
            return [{"environment": r["environment"], "url": r["url"]}
                    for r in tx.all("list_alert_webhooks")]

    def history(self, env: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.store.transaction(write=False) as tx:
            return [dict(r) for r in tx.all("list_alerts", environment=env, limit=limit)]

    # -- the outbox ------------------------------------------------------------------------

    def enqueue(self) -> int:
        """Queue one alert per failure since the cursor; the first call starts from now."""
        now = self.engine.clock.now()
        hooks: dict[str, bool] = {}
        with self.engine.store.transaction() as tx:
            found = tx.one("get_alert_cursor", name=CURSOR)
            if found is None:
                top = tx.one("realtime_max_event")
                tx.run("set_alert_cursor", name=CURSOR, event_id=int(top["id"] or 0) if top
                       else 0)
                return 0
            cursor = int(found["event_id"])
            upto = self._horizon(tx, cursor, now)
            rows = tx.all("failure_events", after=cursor, upto=upto)
            queued = 0
            for row in rows:
                env = row["environment"]
                if env not in hooks:
                    hooks[env] = self._webhook(tx, env) is not None
                if hooks[env]:
                    queued += tx.run("insert_alert", environment=env, run_id=row["run_id"],
                                     event_id=row["id"], body=dumps(_body(row)), now=now)
            tx.run("set_alert_cursor", name=CURSOR, event_id=max(cursor, upto))
        return queued

    def _horizon(self, tx: Any, cursor: int, now: float) -> int:
        """How far the cursor may move now (``events.settled_upto``)."""
        return events.settled_upto(tx, cursor, now, batch=BATCH,
                                   serial_writes=self.engine.store.serial_writes)

    def deliver(self, post: Poster, limit: int = 20) -> int:
        """Send due alerts; returns how many were delivered."""
        with self.engine.store.transaction(write=False) as tx:
            due = tx.all("due_alerts", now=self.engine.clock.now(), limit=limit)
        delivered = 0
        for row in due:
            error = self._send(row, post)
            now = self.engine.clock.now()
            with self.engine.store.transaction() as tx:
                if error is None:
                    tx.run("alert_delivered", id=row["id"], now=now)
                    delivered += 1
                else:
                    attempts = int(row["attempts"]) + 1
                    gave_up = now if attempts >= MAX_ATTEMPTS else None
                    tx.run("alert_retry", id=row["id"], error=error[:500], gave_up=gave_up,
                           next_at=now + retry_delay(attempts))
        return delivered

    def _send(self, row: dict[str, Any], post: Poster) -> str | None:
        hook = self.webhook(row["environment"])
        if hook is None:
            return "no webhook is configured for this environment any more"
        body = str(row["body"]).encode()
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: signature(hook.secret, body)}
        try:
            post(hook.url, body, headers)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return None


def _body(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "run.failed",
        "environment": row["environment"],
        "at": row["at"],
        "run": {"id": row["run_id"], "task": row["task_id"], "status": row["status"],
                "error": loads(row["error"]), "tags": loads(row["tags"]),
                "attempts": row["attempt_count"]},
    }
