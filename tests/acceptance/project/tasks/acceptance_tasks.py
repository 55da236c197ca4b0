"""Tasks the acceptance tests run in real ``outlast worker`` processes.

They report where they are by appending lines to files under ``OUTLAST_TEST_OUT``, so the
test knows when to kill a worker, and how often each piece of code really ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from outlast import Retry, step, task, wait


def out(name: str) -> Path:
    return Path(os.environ["OUTLAST_TEST_OUT"]) / name


def note(name: str, line: str = "") -> int:
    """Append a line to ``name``; how many lines it has now."""
    with open(out(name), "a") as f:
        f.write(line + "\n")
    return len(out(name).read_text().splitlines())


def killed_here() -> None:
    """Where the test kills the worker: wait long enough for it to happen."""
    time.sleep(300)


def make_label(order_id: str) -> str:
    if note("label-start", order_id) == 1:
        killed_here()  # inside a step: its result is not recorded yet
    note("label-done", order_id)
    return f"label-{order_id}"


@step
def charge(order_id: str) -> str:
    note("charge", order_id)
    return f"ch_{order_id}"


@task(id="acc-order", retry=Retry(max_attempts=5, min_delay=0.1))
def order(payload: dict[str, Any]) -> dict[str, Any]:
    label = step.run("label", make_label, payload["order_id"])
    charge_id = charge(payload["order_id"])
    if note("between") == 1:
        killed_here()  # between steps: label and charge are recorded
    token = wait.create_token(timeout="1h", tags=["acceptance"])
    note("token", token.id)
    answer = wait.for_token(token)
    return {"label": label, "charge": charge_id, "answer": answer.output}


@task(id="acc-token")
def token_waiter(payload: Any) -> Any:
    token = wait.create_token(timeout="1h")
    note("token", token.id)
    return wait.for_token(token).output


#: how long a run waits at the barrier for the other worker before it gives up (the
#: test then fails on its "both workers" assertion, not on a timeout)
BARRIER_SECONDS = 60.0


@task(id="acc-once")
def once(payload: Any, ctx: Any) -> int:
    note("once", ctx.run.id)
    both_workers_started()
    return int(payload)


def both_workers_started() -> None:
    """A barrier: hold the run until a run has started on each of the two workers.

    Both take part whatever the machine's scheduler does: on a loaded machine one
    worker's children can otherwise drain the queue before the other's are ready.
    The runs held here keep their leases, and the rest wait in the queue for the other
    worker; once it started one, no run waits any more.
    """
    note(f"started-on-{os.environ['OUTLAST_TEST_WORKER']}")
    deadline = time.monotonic() + BARRIER_SECONDS
    while len(list(out("").glob("started-on-*"))) < 2 and not out("gave-up").exists():
        if time.monotonic() > deadline:
            note("gave-up")  # no later run waits: the test says what went wrong
            return
        time.sleep(0.05)  # polls the barrier: orders nothing


@task(id="acc-drain")
def drain(payload: Any) -> str:
    note("drain-start")
    time.sleep(float(payload))
    note("drain-end")
    return "drained"


def _outlive_the_lease() -> int:
    """The first execution outlasts the lease (2 s) while the test stops the supervisor."""
    if note("slow-start", str(os.getpid())) == 1:
        time.sleep(3.5)
    return os.getpid()


def _last() -> int:
    note("last", f"{os.getpid()} {time.time()}")
    return os.getpid()


@task(id="acc-outlived", retry=Retry(max_attempts=3, min_delay=0.1))
def outlived(payload: Any) -> dict[str, int]:
    slow = step.run("slow", _outlive_the_lease)
    last = step.run("last", _last)
    return {"slow": slow, "last": last}
