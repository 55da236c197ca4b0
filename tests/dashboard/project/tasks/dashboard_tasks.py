"""Tasks the dashboard's browser tests run: one that greets, one typed, one that fails, one
that waits for approval, a durable order workflow (steps, a child run, a sleep and a token)
and one on a cron schedule declared in code."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from outlast import Retry, logger, schedules, step, task, wait


class Greeting(BaseModel):
    name: str
    excited: bool = False


@task(id="hello-world")
def hello_world(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    print(f"attempt {ctx.attempt.number} says hello")
    logger.info("greeting", name=payload.get("name"))
    return {"greeting": f"Hello, {payload.get('name', 'world')}!"}


@task(id="send-welcome-email", machine="micro")
def send_welcome_email(payload: Greeting) -> str:
    logger.debug("rendering template")
    time.sleep(0.05)
    logger.info("sent", to=payload.name)
    return f"sent to {payload.name}" + ("!" if payload.excited else "")


@task(id="charge-card", retry=Retry(max_attempts=2, min_delay=0.05, randomize=False))
def charge_card(payload: dict[str, Any], ctx: Any) -> None:
    logger.warning(f"card declined, attempt {ctx.attempt.number}", card=payload.get("card"))
    raise ValueError(f"card {payload.get('card', '?')} was declined by the bank")


@task(id="resize-image")
def resize_image(payload: dict[str, Any]) -> dict[str, int]:
    time.sleep(float(payload.get("seconds", 0.2)))
    return {"width": 640, "height": 480}


@task(id="approve-refund")
def approve_refund(payload: dict[str, Any]) -> dict[str, Any]:
    token = wait.create_token(timeout="1h", tags=["approval", f"order:{payload['order']}"])
    answer = wait.for_token(token)
    return {"refunded": bool(answer.ok and answer.output["approved"])}


@task(id="print-label")
def print_label(payload: dict[str, Any]) -> dict[str, str]:
    logger.info("printing", order=payload["order"])
    time.sleep(1.0)
    return {"label": f"LBL-{payload['order']}"}


@task(id="order-workflow")
def order_workflow(payload: dict[str, Any]) -> dict[str, Any]:
    order = payload["order"]
    stock = step.run("reserve-stock", lambda: {"order": order, "reserved": 2})
    logger.info("stock reserved", order=order)
    charge = step.run("take-payment", lambda: f"ch_{order}")
    label = print_label.trigger_and_wait({"order": order}).unwrap()
    wait.sleep(seconds=6)
    token = wait.create_token(timeout="1h", tags=["approval", f"order:{order}"])
    answer = wait.for_token(token)
    logger.info("approval answered", approved=bool(answer.ok and answer.output["approved"]))
    return {"stock": stock, "charge": charge, "label": label["label"],
            "approved": bool(answer.ok and answer.output["approved"])}


@schedules.task(id="nightly-report", cron="0 3 * * *", timezone="Asia/Seoul")
def nightly_report(payload: schedules.ScheduledPayload) -> str:
    return f"report for {payload.timestamp:%Y-%m-%d}"
