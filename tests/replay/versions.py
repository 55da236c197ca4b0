"""The same tasks as two deploys of a project: ``v1`` before a change, ``v2`` after it.

Runs recorded on ``v1`` and replayed on ``v2`` show what a deploy does to runs in flight:
``patched`` keeps old runs on the old branch, and the deploy check finds the changes that
would break them. Every task waits on a token in the middle, so a run can be recorded up
to the wait on one version and finished on another.
"""

from __future__ import annotations

from typing import Any

from outlast import patched, step, task, wait
from outlast.sdk.registry import Registry

v1 = Registry()
v2 = Registry()

#: step bodies append here: a replay must leave it alone
executed: list[str] = []


def body(name: str, value: Any = None) -> Any:
    executed.append(name)
    return value if value is not None else name


def approve() -> bool:
    return bool(wait.for_token(wait.create_token(timeout="1h")).ok)


# -- v1 ----------------------------------------------------------------------------------


@task(id="sms", registry=v1)
def sms_v1(payload: dict[str, Any]) -> dict[str, Any]:
    step.run("prepare", body, "prepare")
    sent = step.run("send-sms", body, "send-sms", "v1")
    return {"sent": sent, "approved": approve()}


@task(id="renamed", registry=v1)
def renamed_v1(payload: Any) -> str:
    step.run("charge", body, "charge")
    approve()
    return str(step.run("ship", body, "ship"))


@task(id="reordered", registry=v1)
def reordered_v1(payload: Any) -> str:
    step.run("a", body, "a")
    step.run("b", body, "b")
    approve()
    return "done"


@task(id="removed", registry=v1)
def removed_v1(payload: Any) -> str:
    approve()
    return "done"


@task(id="unchanged", registry=v1)
def unchanged_v1(payload: Any) -> str:
    step.run("a", body, "a")
    approve()
    return "done"


@task(id="grown", registry=v1)
def grown_v1(payload: Any) -> str:
    step.run("a", body, "a")
    approve()
    return "done"


# -- v2 ----------------------------------------------------------------------------------


@task(id="sms", registry=v2)
def sms_v2(payload: dict[str, Any]) -> dict[str, Any]:
    step.run("prepare", body, "prepare")
    if patched("sms-v2"):
        sent = step.run("send-sms-v2", body, "send-sms-v2", "v2")
    else:
        sent = step.run("send-sms", body, "send-sms", "v1")
    approved = approve()
    again = patched("sms-v2")  # the attempt's first answer, and no journal entry
    return {"sent": sent, "approved": approved, "again": again}


@task(id="renamed", registry=v2)
def renamed_v2(payload: Any) -> str:
    step.run("charge-card", body, "charge-card")  # was "charge"
    approve()
    return str(step.run("ship", body, "ship"))


@task(id="reordered", registry=v2)
def reordered_v2(payload: Any) -> str:
    step.run("b", body, "b")  # was a, then b
    step.run("a", body, "a")
    approve()
    return "done"


@task(id="unchanged", registry=v2)
def unchanged_v2(payload: Any) -> str:
    step.run("a", body, "a")
    approve()
    return "done"


@task(id="grown", registry=v2)
def grown_v2(payload: Any) -> str:
    step.run("a", body, "a")
    approve()
    step.run("b", body, "b")  # new, after where the runs in flight stopped
    return "done"
