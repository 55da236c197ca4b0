"""The task functions whose recorded journals live in ``tests/replay/golden/``.

These are the contract of replay: a journal recorded by an earlier version of Outlast
must keep replaying against this code. Change a task here only together with a new golden
(under a new name); never edit an existing golden to make a failing replay pass.

Every side effect goes through ``executed`` so the replay test can prove that nothing
ran for real.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from outlast import (
    AbortTaskRunError,
    Retry,
    batch,
    idempotency_keys,
    patched,
    step,
    task,
    wait,
)
from outlast.sdk.registry import Registry

reg = Registry()

#: every step body appends its name here; a pure replay leaves it empty
executed: list[str] = []


@step
def charge(order_id: str) -> str:
    executed.append("charge")
    return f"ch_{order_id}"


@step(name="reserve-stock", retry=Retry(max_attempts=2, min_delay=0))
def reserve(items: list[str]) -> dict[str, Any]:
    executed.append("reserve-stock")
    return {"reserved": items, "note": "réservé ✓", "empty": {}, "nothing": None}


def make_label(order_id: str) -> str:
    executed.append("print-label")
    return f"label for {order_id}"


@task(registry=reg)
def ship(payload: dict[str, Any]) -> dict[str, Any]:
    executed.append("ship")
    return {"shipped": payload["charge"]}


@task(registry=reg, retry=Retry(max_attempts=1))
def refuse(payload: Any) -> None:
    executed.append("refuse")
    raise AbortTaskRunError("refused")


@task(registry=reg)
def steps_only(payload: dict[str, Any]) -> dict[str, Any]:
    """Decorated and inline steps, a step with its own retry policy, odd JSON values."""
    charge_id = charge(payload["order_id"])
    label = step.run("print-label", make_label, payload["order_id"])
    stock = reserve(["🍕", "ß"])
    nothing = step.run("nothing", lambda: executed.append("nothing") and None)
    return {"charge": charge_id, "label": label, "stock": stock, "nothing": nothing}


@task(registry=reg)
def sleeps(payload: Any) -> str:
    """A long sleep (suspends), a past ``until`` (returns at once), a short in-process one."""
    wait.sleep(hours=2)
    wait.until(datetime(2020, 1, 1, tzinfo=UTC))
    wait.sleep(seconds=2)
    step.run("after-sleeps", lambda: executed.append("after-sleeps") or "awake")
    return "rested"


@task(registry=reg)
def tokens(payload: Any) -> dict[str, Any]:
    """A token completed by a reviewer, one that times out, and an idempotent one."""
    approval = wait.create_token(timeout="24h", tags=["approval"])
    answer = wait.for_token(approval)
    late = wait.for_token(wait.create_token(timeout="1h"))
    keyed = wait.create_token(idempotency_key="golden-key")
    return {"approved": answer.ok and answer.output["approved"], "late": late.ok,
            "late_error": late.error, "keyed_status": keyed.status}


@task(registry=reg)
def children(payload: Any) -> list[Any]:
    """A child awaited, a child fired and forgotten, batches of one task and of several."""
    one = ship.trigger_and_wait({"charge": "c1"})
    fired = ship.trigger({"charge": "fire-and-forget"})
    many = ship.batch_trigger_and_wait([{"payload": {"charge": f"c{i}"}} for i in range(3)])
    mixed = batch.trigger_and_wait([{"task": "ship", "payload": {"charge": "m"}},
                                    {"task": "refuse", "payload": None}])
    return [one.unwrap(), fired.id.startswith("run_"), [r.output for r in many],
            [[r.ok, r.status] for r in mixed]]


@task(registry=reg)
def idempotency(payload: Any) -> dict[str, Any]:
    """Keys of every scope; a triggered child keyed by the run scope."""
    run_key = idempotency_keys.create(["order", "42"])
    attempt_key = idempotency_keys.create("try", scope="attempt")
    global_key = idempotency_keys.create("everyone", scope="global")  # not journaled
    child = ship.trigger({"charge": "keyed"}, idempotency_key=run_key)
    return {"run": len(run_key), "attempt": len(attempt_key), "global": global_key,
            "child": child.id.startswith("run_")}


@step
async def fetch(n: int) -> int:
    executed.append(f"fetch-{n}")
    await asyncio.sleep(0)
    return n * 10


async def double(n: int) -> int:
    executed.append(f"double-{n}")
    await asyncio.sleep(0)
    return n * 2


@task(registry=reg)
async def async_flow(payload: Any) -> list[int]:
    """Async steps awaited one at a time, an async long sleep, an inline async step."""
    first = await fetch(1)
    await wait.sleep_async(minutes=10)
    second = await step.run_async("double", double, first)
    return [first, second, await fetch(3)]


@task(registry=reg, retry=Retry(max_attempts=1))
async def gathers(payload: Any) -> list[int]:
    """Two steps awaited at once: their order would depend on scheduling."""
    return list(await asyncio.gather(fetch(1), fetch(2)))


@task(registry=reg)
def order_flow(payload: dict[str, Any]) -> dict[str, Any]:
    """The example of issue 3: charge, sleep, review by token, ship as a child."""
    charge_id = charge(payload["order_id"])
    wait.sleep(hours=2)
    token = wait.create_token(timeout="24h")
    answer = wait.for_token(token)
    shipment = ship.trigger_and_wait({"charge": charge_id}).unwrap()
    return {"charge": charge_id, "approved": answer.ok, "shipment": shipment}


def mark(name: str) -> str:
    executed.append(name)
    return name


@task(registry=reg)
def patched_flow(payload: Any) -> dict[str, Any]:
    """A change made with ``patched``: its golden was recorded on the new branch, and
    ``patched-flow-before-patch`` holds a run recorded before the change existed."""
    first = step.run("first", mark, "first")
    if patched("golden-change"):
        path = step.run("new-path", mark, "new-path")
    else:
        path = step.run("old-path", mark, "old-path")
    return {"first": first, "path": path, "again": patched("golden-change")}


#: what ``record_goldens`` does from outside while each task runs: token outputs, by order
TOKEN_ANSWERS: dict[str, list[Any]] = {
    "tokens": [{"approved": True}, None],  # None: let the second token time out
    "order-flow": [{"approved": True}],
}
