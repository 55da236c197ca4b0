"""Orders, release 3: the rename kept behind ``patched``, so runs recorded before it
replay the old step name and new runs take the new one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from outlast import patched, step, task, wait


def effect(payload: dict[str, Any], name: str) -> str:
    with Path(payload["log"]).open("a") as f:
        f.write(name + "\n")
    return name


@task(id="order")
def order(payload: dict[str, Any]) -> str:
    name = "charge-card" if patched("rename-charge") else "charge"
    step.run(name, effect, payload, "charge")
    wait.for_token(payload["token"])
    step.run("ship", effect, payload, "ship")
    return "shipped by release 3"
