"""A shared run's durable request is awaited, not asked: the runs beside it go on.

``SharedRuns`` runs in a thread here, on one end of a real pipe; this test plays the
supervisor on the other end. Two runs each sleep durably: both requests arrive before
either is answered, which a blocking ask (the loop stuck until its answer) could not do.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from multiprocessing import Pipe
from typing import Any, NoReturn

from outlast import task, wait
from outlast.core.durable_requests import DurableRequest, SleepFor
from outlast.worker.child import answer_of
from outlast.worker.event_loop import ChildLoop
from outlast.worker.messages import Assignment, Finished, Reply, RuntimeCall
from outlast.worker.shared_runs import SharedRuns


@task(id="shared-asks-sleeper")
async def sleeper(payload: Any) -> str:
    await wait.sleep_async(10)
    return f"slept {payload}"


class _Pipe:
    """The child's ``PipeTransport`` as far as shared runs use it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inbox: deque[Any] = deque()
        self.on_stash = None
        self._ids = itertools.count(1)

    def runtime(self, request: DurableRequest) -> Any:
        raise AssertionError(f"a shared run asked and blocked: {request!r}")

    def next_id(self) -> int:
        return next(self._ids)


def _job(n: int) -> Assignment:
    run = {"id": f"run_{n}", "task_id": "shared-asks-sleeper", "payload": json.dumps(n),
           "attempt_count": 1, "max_attempts": 1, "tags": "[]", "metadata": "{}",
           "created_at": time.time(), "queue": "q", "machine": "small-1x"}
    return Assignment(run=run, lease_id="lease", attempt=1, memory_limit=None,
                      environment="dev", journal=[], shared=True)


def _orphaned() -> NoReturn:
    raise AssertionError("the pipe broke")


def test_two_shared_runs_wait_for_their_answers_at_once() -> None:
    supervisor, child = Pipe()
    loop = ChildLoop()
    runs = SharedRuns(child, _Pipe(), child.send, None, loop.loop,  # type: ignore[arg-type]
                      lambda job: None, _orphaned, answer_of)
    thread = threading.Thread(target=runs.run, args=(_job(1),))
    thread.start()
    try:
        supervisor.send(_job(2))
        asked: list[RuntimeCall] = []
        while len(asked) < 2:  # both ask before either is answered
            assert supervisor.poll(10), f"only {len(asked)} request(s) arrived"
            message = supervisor.recv()
            if isinstance(message, RuntimeCall):
                asked.append(message)
        assert all(isinstance(m.request, SleepFor) for m in asked)
        assert {m.request.at.run_id for m in asked} == {"run_1", "run_2"}
        for message in reversed(asked):
            supervisor.send(Reply(message.request_id, True, {"done": True, "result": None}))
        ended: list[Finished] = []
        while len(ended) < 2:
            assert supervisor.poll(10), "the runs did not end"
            message = supervisor.recv()
            ended.extend(m for m in (message if isinstance(message, list) else [message])
                         if isinstance(m, Finished))
    finally:
        thread.join(10)
        loop.close()
    assert sorted((f.run_id, f.kind, f.output) for f in ended) == [
        ("run_1", "completed", "slept 1"), ("run_2", "completed", "slept 2")]
