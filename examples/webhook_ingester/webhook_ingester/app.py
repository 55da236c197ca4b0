"""The FastAPI app that receives a payment provider's webhooks.

Each delivery is handled in one database transaction: the event is recorded, its run is
triggered with `connection=session` (the run is written in the same transaction), and the
payment row is written. Commit, and the run exists with the rows it needs; any error, and
none of it does (the provider delivers again later). The webhook's id is the run's
idempotency key, so a delivery repeated by the provider never starts a second run.

    uvicorn webhook_ingester.app:create_app --factory --port 8000   # beside `outlast dev`
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from webhook_ingester import db
from webhook_ingester.signatures import verify
from webhook_ingester.tasks import process_payment_event


class Payment(BaseModel):
    id: str
    amount: int  # in cents
    currency: str
    customer_email: str


class Delivery(BaseModel):
    type: str
    data: Payment


def ingest(engine: Engine, webhook_id: str, event: Delivery) -> dict[str, Any]:
    """Record the delivery, trigger its run and apply it, in one transaction."""
    with Session(engine) as session, session.begin():
        seen = session.execute(select(db.webhook_events.c.run_id)
                               .where(db.webhook_events.c.id == webhook_id)).scalar()
        if seen is not None:
            return {"run_id": seen, "duplicate": True}
        data = event.data
        handle = process_payment_event.trigger(
            {"event_id": webhook_id, "type": event.type, "payment_id": data.id},
            connection=session, idempotency_key=f"webhook-{webhook_id}")
        session.execute(db.webhook_events.insert().values(
            id=webhook_id, type=event.type, received_at=time.time(), run_id=handle.id))
        session.execute(db.payments.insert().values(
            id=data.id, amount=data.amount, currency=data.currency,
            email=data.customer_email, status="paid"))
        return {"run_id": handle.id, "duplicate": False}


def create_app(database_url: str | None = None, secret: str | None = None) -> FastAPI:
    engine = db.engine_for(database_url or db.database_url())
    signing_secret = secret or os.environ.get("WEBHOOK_SECRET", "whsec_dev")
    app = FastAPI(title="payments webhook ingester")

    @app.post("/webhooks/payments")
    async def payments_webhook(request: Request) -> dict[str, Any]:
        body = await request.body()
        webhook_id = request.headers.get("webhook-id", "")
        if not verify(signing_secret, webhook_id, request.headers.get("webhook-timestamp", ""),
                      body, request.headers.get("webhook-signature", "")):
            raise HTTPException(401, "bad signature")
        try:
            event = Delivery.model_validate_json(body)
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False)) from exc
        try:
            return await run_in_threadpool(ingest, engine, webhook_id, event)
        except IntegrityError as exc:  # rolled back: no event, no payment, no run
            raise HTTPException(422, f"rejected: {exc.orig}") from exc

    return app

