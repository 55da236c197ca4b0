"""Release 2 of the project: task ``a`` changed, ``b`` is new, ``waits`` changed."""

from __future__ import annotations

from typing import Any

from outlast import task, wait


@task(id="a")
def a(payload: Any) -> str:
    return "v2"


@task(id="b")
def b(payload: Any) -> str:
    return "v2"


@task(id="waits")
def waits(payload: dict[str, Any]) -> str:
    wait.for_token(payload["token"])
    return "v2"
