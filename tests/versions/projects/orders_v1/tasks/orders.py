"""Orders, release 1: charge, wait for approval, ship. Each step appends its name to the
file the payload names, so a test can count what really ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from outlast import step, task, wait


def effect(payload: dict[str, Any], name: str) -> str:
    with Path(payload["log"]).open("a") as f:
        f.write(name + "\n")
    return name


@task(id="order")
def order(payload: dict[str, Any]) -> str:
    step.run("charge", effect, payload, "charge")
    wait.for_token(payload["token"])
    step.run("ship", effect, payload, "ship")
    return "shipped by release 1"
