"""Failure webhooks through the outbox, against a local HTTP receiver, on both stores."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.core.settings import read_settings
from outlast.engine import Engine, NewRun, Outcome
from outlast.engine.alerts import MAX_ATTEMPTS, SETTLE_SECONDS, SIGNATURE_HEADER, Alerts, signature
from outlast.upkeep.alerting import AlertSender, post
from tests.eventually import eventually


class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers ``statuses`` in turn."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def fail_run(engine: Engine, env: str = "prod", task: str = "job") -> str:
    engine.register_tasks(env, [TaskDefinition(id=task, queue=task)])
    run_id = str(engine.trigger(env, NewRun(task, "{}", TriggerOptions(
        max_attempts=1, tags=("t:1",)))).row["id"])
    [row] = engine.claim(env, "w", None, 1)
    engine.record([Outcome(run_id, row["lease_id"], 1, "failed",
                           error={"type": "Boom", "message": "it broke"})])
    assert engine.retrieve(env, run_id)["status"] == "FAILED"
    return run_id


def test_a_failed_run_posts_one_signed_alert(engine: Engine, clock: FakeClock,
                                             receiver: Receiver) -> None:
    alerts = Alerts(engine)
    secret = alerts.set_webhook("prod", receiver.url)
    assert alerts.enqueue() == 0  # the first pass starts the cursor at "now"
    run_id = fail_run(engine)
    fail_run(engine, env="staging")  # no webhook there: nothing is sent
    clock.advance(SETTLE_SECONDS)  # PostgreSQL: the cursor only passes settled events
    assert alerts.enqueue() == 1
    assert alerts.enqueue() == 0  # queued once
    assert alerts.deliver(post) == 1
    [(headers, body)] = receiver.requests
    assert headers[SIGNATURE_HEADER] == signature(secret, body)
    sent = json.loads(body)
    assert sent["type"] == "run.failed" and sent["environment"] == "prod"
    assert sent["run"]["id"] == run_id and sent["run"]["status"] == "FAILED"
    assert sent["run"]["error"]["message"] == "it broke"
    assert alerts.deliver(post) == 0
    assert alerts.history("prod")[0]["delivered_at"] is not None


def test_failed_deliveries_retry_with_backoff_then_give_up(
        engine: Engine, clock: FakeClock, receiver: Receiver) -> None:
    alerts = Alerts(engine)
    alerts.set_webhook("prod", receiver.url, "k")
    alerts.enqueue()
    fail_run(engine)
    clock.advance(SETTLE_SECONDS)
    alerts.enqueue()
    receiver.statuses = [500]
    assert alerts.deliver(post) == 0
    assert alerts.deliver(post) == 0  # not due yet: the retry waits 10 s
    clock.advance(10)
    assert alerts.deliver(post) == 1
    assert len(receiver.requests) == 2
    receiver.statuses = [500] * MAX_ATTEMPTS
    fail_run(engine, task="job2")
    clock.advance(SETTLE_SECONDS)
    alerts.enqueue()
    for _ in range(MAX_ATTEMPTS + 2):
        alerts.deliver(post)
        clock.advance(3600)
    [last, _] = alerts.history("prod")
    assert last["attempts"] == MAX_ATTEMPTS and "HTTP 500" in last["last_error"]


def test_the_environment_variable_webhook_and_the_sender_thread(
        engine: Engine, clock: FakeClock, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "settings", read_settings({
        "OUTLAST_ALERT_WEBHOOK_URL": receiver.url, "OUTLAST_ALERT_WEBHOOK_SECRET": "from-env"}))
    Alerts(engine).enqueue()
    sender = AlertSender(engine, lambda: True, interval=0.02)
    sender.start()
    try:
        fail_run(engine, env="dev")
        clock.advance(SETTLE_SECONDS)
        eventually(lambda: receiver.requests, 10, "the alert to be sent")
    finally:
        sender.stop()
    headers, body = receiver.requests[0]
    assert headers[SIGNATURE_HEADER] == signature("from-env", body)


def test_the_cursor_waits_for_events_to_settle(engine: Engine, clock: FakeClock,
                                              receiver: Receiver) -> None:
    """An event id is taken at insert but seen at commit: on PostgreSQL a lower id can
    appear after a higher one, so the cursor must not pass events that are still fresh."""
    alerts = Alerts(engine)
    alerts.set_webhook("prod", receiver.url)
    alerts.enqueue()
    fail_run(engine)
    if not engine.store.serial_writes:
        assert alerts.enqueue() == 0  # too fresh to pass yet
    clock.advance(SETTLE_SECONDS)
    assert alerts.enqueue() == 1
