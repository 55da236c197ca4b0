"""What happens after the webhook is acknowledged: a receipt for each successful payment.

The run exists only if the delivery's transaction committed, so the payment row it reads
is always there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select, update

from outlast import AbortTaskRunError, step, task
from webhook_ingester import db


class PaymentEvent(BaseModel):
    event_id: str
    type: str
    payment_id: str


@dataclass
class Mailer:
    """E-mail, offline: kept in ``sent``. Replace with your e-mail provider's client."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    def send(self, to: str, subject: str) -> None:
        self.sent.append({"to": to, "subject": subject})


mailer = Mailer()


def load_payment(payment_id: str) -> dict[str, Any]:
    with db.engine_for(db.database_url()).connect() as conn:
        row = conn.execute(select(db.payments).where(db.payments.c.id == payment_id)).one()
    return dict(row._mapping)


def mark(payment_id: str, status: str) -> None:
    with db.engine_for(db.database_url()).begin() as conn:
        conn.execute(update(db.payments).where(db.payments.c.id == payment_id)
                     .values(status=status))


@task(id="process-payment-event")
def process_payment_event(payload: PaymentEvent) -> dict[str, Any]:
    if payload.type != "payment.succeeded":
        raise AbortTaskRunError(f"no handler for {payload.type}")
    payment = step.run("load payment", load_payment, payload.payment_id)
    step.run("send receipt", mailer.send, payment["email"],
             f"Receipt: {payment['amount'] / 100:.2f} {payment['currency']}")
    step.run("mark receipt sent", mark, payload.payment_id, "receipt_sent")
    return {"payment_id": payload.payment_id, "receipt_to": payment["email"]}
