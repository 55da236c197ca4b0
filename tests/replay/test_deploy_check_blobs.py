"""The deploy check replays runs whose payload and step results were kept apart (over
the blob threshold) with their real values, as a worker's claim hands them to the code:
a reference in their place would make every such run look broken."""

from __future__ import annotations

from typing import Any

from outlast import step, task, wait
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns
from outlast.worker.replay import check_environment

project = Registry()
BIG = "x" * 700_000  # over the default 512 KB threshold


@task(id="big-report", registry=project)
def big_report(payload: dict[str, Any]) -> int:
    text: str = payload["text"]            # a reference here would raise KeyError
    copy: str = step.run("copy", lambda: text + "!")
    assert copy == BIG + "!"               # and here, a dict
    assert wait.for_token(wait.create_token(timeout="1h")).ok
    return len(copy)


def test_a_run_with_values_kept_apart_replays_with_them(store_url: str) -> None:
    with TestRuns(project, environment="dev", database_url=store_url) as env:
        run = env.run("big-report", {"text": BIG})
        assert run.status == "WAITING"
        verdicts = check_environment(env.store, "dev", registry=project)
    assert [(v.task_id, v.kind) for v in verdicts] == [("big-report", "ok")]
