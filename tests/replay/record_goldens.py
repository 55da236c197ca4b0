"""Record a golden journal for a task of ``tests/replay/tasks.py``.

    .venv/bin/python -m tests.replay.record_goldens TASK_ID [TASK_ID ...]

Runs the task through ``outlast.testing.TestRuns`` (answering its tokens from
``TOKEN_ANSWERS``) and writes ``golden/<task-id>.json``: the payload, the journal as the
engine stored it (kind, name, status, result per sequence number) and the final output.
Record new goldens only; an existing golden that stops replaying is a regression to fix
in the code, not a file to regenerate (the script refuses to overwrite one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from outlast.testing import TestRuns
from tests.replay.tasks import TOKEN_ANSWERS, reg

GOLDEN = Path(__file__).parent / "golden"
PAYLOADS: dict[str, Any] = {"steps-only": {"order_id": "42"}, "order-flow": {"order_id": "7"}}
JOURNAL_FIELDS = ("seq", "kind", "name", "status", "result")


def journal_of(env: TestRuns, run_id: str) -> list[dict[str, Any]]:
    return [{k: e[k] for k in JOURNAL_FIELDS} for e in env.journal(run_id)]


def record(task_id: str) -> dict[str, Any]:
    answers = list(TOKEN_ANSWERS.get(task_id, []))
    with TestRuns(reg) as env:
        run = env.run(task_id, PAYLOADS.get(task_id))
        while run.status == "WAITING":
            pending = env.tokens(run.id)
            if not pending:
                raise RuntimeError(f"{task_id} waits on something that is not a token")
            answer = answers.pop(0)
            if answer is None:
                run = env.run_until_final(run.id, token_timeouts=True)
            else:
                env.complete_token(pending[0]["id"], answer)
                run = env.run_until_final(run.id)
        if run.status != "COMPLETED":
            raise RuntimeError(f"{task_id} ended {run.status}: {run.error}")
        return {"task": task_id, "payload": PAYLOADS.get(task_id), "run_id": run.id,
                "journal": journal_of(env, run.id), "expect": {"output": run.output}}


def main(task_ids: list[str]) -> None:
    for task_id in task_ids:
        path = GOLDEN / f"{task_id}.json"
        if path.exists():
            raise SystemExit(f"{path} exists: goldens are never re-recorded")
        path.write_text(json.dumps(record(task_id), indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
