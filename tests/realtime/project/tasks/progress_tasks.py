"""A task that reports its progress in metadata, step by step, for the browser tests.

Halfway it waits for ``payload["gate"]`` (a file) to exist: the test sees the page at
50%, does what it wants meanwhile (restart the server), then opens the gate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from outlast import metadata, task


@task(id="rt-progress")
def progress(payload: dict[str, Any]) -> dict[str, int]:
    steps = int(payload["steps"])
    gate = Path(payload["gate"])
    for step in range(1, steps + 1):
        if step == steps // 2 + 1:
            while not gate.exists():
                time.sleep(0.05)
        metadata.set("progress", step / steps)
        time.sleep(0.05)  # a pace a person could watch; the test waits for states, not time
    return {"steps": steps}
