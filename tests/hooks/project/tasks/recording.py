"""Where the hook tests' hooks write what they saw: one JSON line per call, per run
(read back by ``tests/hooks/test_lifecycle_worker.py``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def record(ctx: Any, call: str, detail: Any = None) -> None:
    line = {"run": ctx.run.id, "call": call}
    if detail is not None:
        line["detail"] = detail
    path = Path(os.environ.get("OUTLAST_TEST_OUT", "/tmp")) / "calls"
    with open(path, "a") as f:  # one short append per line: whole lines, in call order
        f.write(json.dumps(line) + "\n")
