"""The alert sender: a thread beside the upkeep loop that moves the alert outbox.

It works only while its process holds the upkeep lease, so one process sends, a server or
a worker alike; it has its own thread so a receiver that answers slowly delays other
alerts, never the sweep. Its database work goes through the engine's store, which gives
each thread its own connection (SQLite) or a pooled one (PostgreSQL).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from outlast.engine import Engine
from outlast.engine.alerts import Alerts
from outlast.upkeep.duty import Duty

log = logging.getLogger("outlast.alerts")

INTERVAL = 0.5
TIMEOUT = 10.0


def post(url: str, body: bytes, headers: dict[str, str]) -> None:
    import httpx  # loaded by the first alert: every worker runs this loop, few send any

    response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)
    if response.status_code >= 300:
        raise RuntimeError(f"the webhook answered HTTP {response.status_code}")


class AlertSender(Duty):
    thread_name = "outlast-alerts"
    logger = log
    what = "alert pass"

    def __init__(self, engine: Engine, leading: Callable[[], bool],
                 interval: float = INTERVAL) -> None:
        super().__init__(leading, interval=interval)
        self.alerts = Alerts(engine)

    def run_once(self) -> None:
        """Turn new failures into alerts, then send what is due."""
        self.alerts.enqueue()
        self.alerts.deliver(post)
