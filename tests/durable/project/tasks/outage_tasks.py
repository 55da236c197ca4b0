"""A task whose durable calls meet a database outage that the test controls."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from outlast import Retry, metadata, step, task


@task(id="dw-outage", retry=Retry(max_attempts=1))
def through_an_outage(payload: dict[str, Any]) -> dict[str, Any]:
    """One step, then (once the file ``go`` names exists) a metadata write and a step.

    Any exception it sees is returned, not raised: the test asserts it saw none.
    """
    first = step.run("before", lambda: "before")
    go = Path(payload["go"])
    while not go.exists():
        time.sleep(0.02)
    try:
        metadata.set("phase", "during")
        second = step.run("during", lambda: "during")
    except Exception as exc:  # noqa: BLE001 - the platform's trouble must not reach here
        return {"saw": f"{type(exc).__name__}: {exc}"}
    return {"first": first, "second": second}


@task(id="dw-outage-result", retry=Retry(max_attempts=1))
def result_in_an_outage(payload: dict[str, Any]) -> str:
    """No durable call: it ends (once ``go`` exists) while the database is away."""
    go = Path(payload["go"])
    while not go.exists():
        time.sleep(0.02)
    return "done"
