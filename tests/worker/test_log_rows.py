"""What a task prints always reaches its run's logs: text the store cannot hold (NUL,
lone surrogates, NaN attributes) is written with replacement characters, never refused."""

from __future__ import annotations

import math
from typing import Any

from outlast.engine import Engine
from outlast.worker.messages import LogBatch
from outlast.worker.outcomes import log_rows


def test_odd_printed_text_is_stored_and_read_back(engine: Engine, register: Any,
                                                  trigger: Any) -> None:
    register(engine, "job")
    run_id = trigger(engine, "job").row["id"]
    [held] = engine.claim("dev", "w1", None, 1)
    records = [
        {"level": "INFO", "message": "nul \x00 here", "attributes": {}, "at": 1.0},
        {"level": "INFO", "message": "lone \ud800 surrogate", "attributes": {}, "at": 2.0},
        {"level": "INFO", "message": "attrs", "at": 3.0,
         "attributes": {"ratio": math.nan, "name": "\udfff", "ok": 1}},
    ]
    engine.append_logs(log_rows(LogBatch(run_id, held["lease_id"], 1, records)))
    lines = engine.logs(run_id)
    assert [line["message"] for line in lines] == ["nul \ufffd here", "lone ? surrogate",
                                                   "attrs"]
    assert lines[2]["attributes"] == {"ratio": "nan", "name": "'\\udfff'", "ok": "1"}
