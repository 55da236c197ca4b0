"""Webhook deliveries: stored and triggered in one transaction, once per webhook id."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning
from webhook_ingester import db
from webhook_ingester.app import create_app
from webhook_ingester.signatures import sign
from webhook_ingester.tasks import mailer

from outlast import runs
from outlast.testing import TestRuns

with warnings.catch_warnings():  # Starlette would rather drive it with httpx2; httpx works
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SECRET = "whsec_test"


@pytest.fixture
def env(database_url: str) -> Iterator[TestRuns]:
    mailer.sent.clear()
    with TestRuns(database_url=database_url) as test_env:  # Outlast's tables in that database
        yield test_env


@pytest.fixture
def web(env: TestRuns, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url, SECRET)) as client:
        yield client


def deliver(web: TestClient, webhook_id: str, amount: int = 1250,
            secret: str = SECRET) -> tuple[int, Any]:
    """POST a `payment.succeeded` delivery as the provider would, signed."""
    body = json.dumps({"type": "payment.succeeded", "data": {
        "id": f"pay_{webhook_id}", "amount": amount, "currency": "EUR",
        "customer_email": "ada@example.com"}}).encode()
    timestamp = str(int(time.time()))
    response = web.post("/webhooks/payments", content=body, headers={
        "content-type": "application/json", "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(secret, webhook_id, timestamp, body)})
    return response.status_code, response.json()


def app_rows(database_url: str) -> tuple[list[str], list[str]]:
    with db.engine_for(database_url).connect() as conn:
        events = conn.execute(select(db.webhook_events.c.id)).scalars().all()
        payments = conn.execute(select(db.payments.c.status)).scalars().all()
    return list(events), list(payments)


def test_a_delivery_is_stored_and_its_run_sends_a_receipt(env: TestRuns, web: TestClient,
                                                          database_url: str) -> None:
    status, body = deliver(web, "msg_1")
    assert status == 200 and body["duplicate"] is False
    run = env.run_until_final(body["run_id"])
    assert run.status == "COMPLETED", run.error
    assert run.idempotency_key == "webhook-msg_1"
    assert mailer.sent == [{"to": "ada@example.com", "subject": "Receipt: 12.50 EUR"}]
    assert app_rows(database_url) == (["msg_1"], ["receipt_sent"])


def test_a_repeated_delivery_is_one_run(env: TestRuns, web: TestClient) -> None:
    _, first = deliver(web, "msg_2")
    _, again = deliver(web, "msg_2")
    assert again == {"run_id": first["run_id"], "duplicate": True}
    env.run_until_idle()
    assert len(runs.list(idempotency_key="webhook-msg_2")) == 1
    assert len(mailer.sent) == 1


def test_a_failed_transaction_leaves_no_run(env: TestRuns, web: TestClient,
                                            database_url: str) -> None:
    # the run is triggered first, then the payment row breaks a CHECK: all is rolled back
    status, _ = deliver(web, "msg_3", amount=-5)
    assert status == 422
    assert runs.list(idempotency_key="webhook-msg_3") == []
    assert app_rows(database_url) == ([], [])
    env.run_until_idle()
    assert mailer.sent == []
    # the provider delivers again later, fixed: now it goes through, once
    status, body = deliver(web, "msg_3", amount=500)
    assert status == 200 and env.run_until_final(body["run_id"]).status == "COMPLETED"


def test_a_forged_delivery_is_refused(env: TestRuns, web: TestClient,
                                      database_url: str) -> None:
    status, _ = deliver(web, "msg_4", secret="not-the-secret")
    assert status == 401
    assert runs.list(idempotency_key="webhook-msg_4") == []
    assert app_rows(database_url) == ([], [])


def test_a_malformed_delivery_is_a_clear_422(web: TestClient) -> None:
    body = b'{"type": "payment.succeeded", "data": {"id": "pay_x"}}'
    timestamp = str(int(time.time()))
    response = web.post("/webhooks/payments", content=body, headers={
        "webhook-id": "msg_5", "webhook-timestamp": timestamp,
        "webhook-signature": sign(SECRET, "msg_5", timestamp, body)})
    assert response.status_code == 422
    assert "amount" in response.text
