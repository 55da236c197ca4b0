"""Lists sent as array literals (``store/postgres/arrays.py``) read back exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun, Outcome
from outlast.store.postgres.arrays import literal
from tests.conftest import definition

AWKWARD = ['x"y', "a\\b", "c,d", " s ", "{}", "NULL", "", "é ü", "tab\there", "new\nline"]


def test_outputs_of_a_batch_completion_keep_every_character(engine: Engine,
                                                            register: Any) -> None:
    register(engine, definition("job"))
    opts = parse_options({}, engine.clock.now())
    engine.trigger_batch("dev", [NewRun("job", json.dumps(i), opts) for i in range(len(AWKWARD))])
    rows = engine.claim("dev", "w1", None, len(AWKWARD))
    outputs = dict(zip((r["id"] for r in rows), AWKWARD, strict=True))
    engine.record([Outcome(r["id"], r["lease_id"], r["attempt_count"], "completed",
                           output={"text": outputs[r["id"]]}) for r in rows])
    for run_id, text in outputs.items():
        run = engine.retrieve("dev", run_id)
        assert run["status"] == "COMPLETED"
        assert run["output"] == {"text": text}


@pytest.mark.parametrize(("values", "kind", "array_type"), [
    (AWKWARD + [None], "text", "text[]"),
    ([0, -1, 2**40, None], "int", "bigint[]"),
    ([0.1, -2.5e-300, 1e300, 3, None], "float", "float8[]"),
])
def test_literals_read_back_as_the_values(pg_store: Any, values: list[Any], kind: str,
                                          array_type: str) -> None:
    with pg_store.connection() as conn:
        row = conn.execute(f"SELECT %s::{array_type} AS a", [literal(values, kind)]).fetchone()
    assert row["a"] == values
