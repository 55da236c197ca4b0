"""A child whose supervisor stopped heartbeating must not start what the lease no longer
covers.

The supervisor of a real ``outlast worker`` is stopped (``SIGSTOP``) inside a step that
takes longer than the lease. Its child goes on: the step ends, and the next one would
start with the lease lapsed, when another worker may already have taken the run over and
recorded that step (a recorded step run again). It must not start: the attempt ends
handed back. Once the supervisor goes on, the run completes, and the next step ran once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from tests.acceptance.conftest import LEASE_SECONDS, Project, Worker
from tests.acceptance.test_durable_acceptance import final
from tests.eventually import eventually

pytestmark = pytest.mark.acceptance


def test_no_step_starts_past_a_stopped_supervisors_lease(
        project: Project, workers: Callable[..., Worker]) -> None:
    worker = workers("w1", "--concurrency", "1")
    run_id = project.outlast("trigger", "acc-outlived", "{}").stdout.split()[0]
    eventually(lambda: project.lines("slow-start"), 30, "the slow step to start")
    os.kill(worker.process.pid, signal.SIGSTOP)  # the supervisor only: its child goes on
    stopped = time.time()
    try:
        # the step ends 3.5 s after it started, past the 2 s lease; wait beyond that
        time.sleep(2 * float(LEASE_SECONDS) + 1.5)
        started_late = [line for line in project.lines("last")
                        if float(line.split()[1]) > stopped + float(LEASE_SECONDS)]
    finally:
        os.kill(worker.process.pid, signal.SIGCONT)
    assert started_late == [], "a step started after the stopped worker's lease lapsed"

    run = final(project, run_id)
    assert run["status"] == "COMPLETED", run["error"]
    assert len(project.lines("last")) == 1
    assert run["output"]["last"] == int(project.lines("last")[0].split()[0])
