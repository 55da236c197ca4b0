"""Tasks the worker tests run. Side effects go to files under OUTLAST_TEST_OUT."""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from outlast import (
    AbortTaskRunError,
    Queue,
    Retry,
    RetryDecision,
    logger,
    step,
    task,
    tasks,
    wait,
)


def out(name: str) -> Path:
    return Path(os.environ.get("OUTLAST_TEST_OUT", "/tmp")) / name


def note(name: str, line: str) -> None:
    with open(out(name), "a") as f:
        f.write(line + "\n")


@task(id="hello-world")
def hello(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    print("printed line", ctx.attempt.number)
    logging.getLogger("user.module").warning("a logging warning")
    logger.info("structured", user=17)
    return {"greeting": f"Hello, {payload['name']}!"}


@task(id="prints-from-a-thread")
def prints_from_a_thread(payload: Any) -> None:
    """What a thread of the task prints and logs is the run's too, as the task's own."""

    def elsewhere() -> None:
        print("printed by a thread")
        logging.getLogger("user.thread").warning("logged by a thread")

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()


@task(retry=Retry(max_attempts=3, min_delay=0.05, randomize=False))
def flaky(payload: Any, ctx: Any) -> int:
    if ctx.attempt.number < 3:
        raise RuntimeError(f"failure {ctx.attempt.number}")
    return int(ctx.attempt.number)


@task
async def async_echo(payload: Any) -> Any:
    return {"echo": payload}


@task(retry=Retry(max_attempts=2, min_delay=0.05))
def exits(payload: Any) -> None:
    os._exit(3)


@task(retry=Retry(max_attempts=1))
def segfaults(payload: Any) -> None:
    ctypes.string_at(0)


@task
def aborts(payload: Any) -> None:
    raise AbortTaskRunError("nothing to do")


@task(max_duration=1)
def too_slow(payload: Any) -> None:
    time.sleep(30)


@task(retry=Retry(max_attempts=2, min_delay=0.05, out_of_memory_machine="large-1x"),
      machine="micro")
def memory_hungry(payload: Any, ctx: Any) -> str:
    block = bytearray(400 * 1024 * 1024)  # over micro (256 MB), under large-1x
    return f"{len(block)} bytes on {ctx.machine}"


@task
def sleeper(payload: dict[str, Any]) -> str:
    note("sleeper-started", str(os.getpid()))
    time.sleep(float(payload.get("seconds", 1)))
    return "slept"


@task(retry=Retry(max_attempts=3, min_delay=0.05))
def dies_once(payload: Any, ctx: Any) -> int:
    note("dies-once", str(os.getpid()))
    if ctx.attempt.number == 1:
        time.sleep(30)  # the test kills this process
    return int(ctx.attempt.number)


@task(retry=Retry(max_attempts=1))
def waits_the_first_time(payload: Any) -> str:
    """Sleeps on its first start (the test kills something under it), not after."""
    first = not out("waits-started").exists()
    note("waits-started", str(os.getpid()))
    if first:
        time.sleep(30)
    return "done"


def _record_hook(kind: str) -> Any:
    def hook(payload: Any, result: Any, ctx: Any) -> None:
        note("hooks", json.dumps({"hook": kind, "run": ctx.run.id, "result": result}))
    return hook


@task(on_success=_record_hook("success"), on_failure=_record_hook("failure"),
      retry=Retry(max_attempts=1))
def hooked(payload: dict[str, Any]) -> str:
    if payload.get("fail"):
        raise ValueError("asked to fail")
    if payload.get("sleep"):
        time.sleep(payload["sleep"])
    return "fine"


def _skip_retry(payload: Any, error: BaseException, ctx: Any) -> RetryDecision:
    return RetryDecision.skip()


@task(handle_error=_skip_retry)
def no_retry(payload: Any) -> None:
    raise RuntimeError("do not retry me")


one_at_a_time = Queue("one-at-a-time", concurrency_limit=1)


@task(queue=one_at_a_time)
def serial(payload: Any) -> None:
    note("serial", f"start {time.time()}")
    time.sleep(0.3)
    note("serial", f"end {time.time()}")


@task
def spawns_child(payload: Any) -> str:
    return tasks.trigger("hello-world", {"name": "child"}).id


@task
def bad_output(payload: Any) -> Any:
    return {1, 2, 3}


@task(retry=Retry(max_attempts=1))
def exits_awaiting_reply(payload: Any) -> None:
    """Asks the worker something and dies before the answer: the reply meets a closed pipe."""
    from outlast.core.durable_requests import ReadJournal
    from outlast.sdk.durable import current_run
    from outlast.worker.messages import RuntimeCall

    run = current_run.get()
    assert run is not None
    from outlast.sdk import client

    pipe: Any = client._worker_transport  # the child's PipeTransport
    closing = socket.socket(fileno=os.dup(pipe._conn.fileno()))
    closing.shutdown(socket.SHUT_RD)  # as dead already: the worker's reply gets EPIPE
    pipe._conn.send(RuntimeCall(10**6, ReadJournal(run.run_id, run.lease_id)))
    os._exit(0)


@task(retry=Retry(max_attempts=1))
def writes_forever(payload: Any) -> None:
    """A side effect every few milliseconds for a minute (the test kills the worker)."""
    note("writer-pid", str(os.getpid()))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        note("writes", str(time.time()))
        time.sleep(0.005)


@task(retry=Retry(max_attempts=1))
def holds_the_gil(payload: Any) -> int:
    """C code that never lets another thread of this process run."""
    note("writer-pid", str(os.getpid()))
    return sum(range(10**13))


@task
def two_steps(payload: Any) -> int:
    first = step.run("first", lambda: 1)
    logger.info("between the steps")
    return int(first + step.run("second", lambda: 2))


@task
def many_steps(payload: int) -> list[int]:
    """``payload`` steps in a row, each one result the journal must hold at the end."""
    return [step.run(f"s{i}", lambda i=i: i) for i in range(payload)]


@task(retry=Retry(max_attempts=2, min_delay=0.01, max_delay=0.01))
def steps_then_dies(payload: Any, ctx: Any) -> str:
    """Two steps, then (first attempt) the process dies: the steps' results were sent up
    the pipe without waiting, and must still be written and replayed, not run again."""
    first = step.run("first", lambda: note("steps-then-dies", f"first {ctx.attempt.number}"))
    second = step.run("second", lambda: note("steps-then-dies", f"second {ctx.attempt.number}"))
    if ctx.attempt.number == 1:
        os._exit(3)
    return f"{first}-{second}"


#: every event loop an attempt of ``loops_seen`` ran on in this process (kept alive here)
_LOOPS: list[asyncio.AbstractEventLoop] = []


@task
async def loops_seen(payload: Any) -> int:
    """How many event loops this child's attempts of this task have run on so far."""
    _LOOPS.append(asyncio.get_running_loop())
    return len({id(loop) for loop in _LOOPS})


@task
async def leaves_a_task(payload: Any) -> str:
    """Starts a task it never awaits: it is cancelled before the child's next attempt."""

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            note("leftover", "cancelled")
            raise

    asyncio.get_running_loop().create_task(forever())
    await asyncio.sleep(0)
    return "left one running"


@task(queue=one_at_a_time, retry=Retry(max_attempts=1))
def renamed_step(payload: Any) -> str:
    """Its step was called "charge" when the run started (the test records that)."""
    return str(step.run("charge-card", lambda: note("renamed-step", "charged")))


@task(retry=Retry(max_attempts=2, min_delay=0.05, randomize=False))
def logs_around_waits(payload: Any, ctx: Any) -> int:
    """Logs around a step, a failure (first attempt) and a token wait: replays repeat them."""
    logger.info("start")
    print("printed start")
    logging.getLogger("user.code").warning("logged start")
    first = step.run("a", lambda: 1)
    logger.info("between")
    if ctx.attempt.number == 1:
        raise RuntimeError("fails after step a")
    wait.for_token(wait.create_token(timeout="1h"))
    logger.info("after")
    return int(first + step.run("b", lambda: 2))


# -- async runs sharing a child (tests/worker/test_shared_runs.py) --------------------------


async def _until(flag: str, timeout: float = 30.0) -> None:
    """Await (never block) until the test creates ``flag`` under OUTLAST_TEST_OUT."""
    deadline = time.monotonic() + timeout
    while not out(flag).exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


@task(id="shared-gate")
async def shared_gate(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Says it started, prints its own lines, then awaits the test's gate file: runs that
    all get past their start while the gate is shut ran at once."""
    note("shared-started", ctx.run.id)
    for i in range(3):
        print(f"line {i} of {payload['n']}")
        logging.getLogger("user.shared").info("logged by %s", payload["n"])
        await asyncio.sleep(0.01)
    await _until(payload.get("gate", "gate-open"))
    return {"n": payload["n"], "pid": os.getpid()}


@task(id="shared-cancelled")
async def shared_cancelled(payload: Any, ctx: Any) -> None:
    """Awaits forever; notes the cancellation that stops it (its run canceled or timed out)."""
    note("shared-started", ctx.run.id)
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        note("shared-cancelled", ctx.run.id)
        raise


@task(id="shared-too-long", max_duration=1, retry=Retry(max_attempts=1))
async def shared_too_long(payload: Any, ctx: Any) -> None:
    note("shared-started", ctx.run.id)
    await asyncio.sleep(3600)


@task(id="shared-memory-hungry", machine="micro", retry=Retry(max_attempts=1))
async def shared_memory_hungry(payload: Any) -> int:
    return len(bytearray(400 * 1024 * 1024))  # over micro (256 MB)


@task(id="shared-exits", retry=Retry(max_attempts=1))
async def shared_exits(payload: Any, ctx: Any) -> None:
    """Ends its whole process once the test opens the gate."""
    note("shared-started", ctx.run.id)
    await _until("exit-now")
    os._exit(3)


@task(id="shared-steps")
async def shared_steps(payload: dict[str, Any], ctx: Any) -> list[Any]:
    """Durable steps and a short durable sleep, awaited beside other runs."""
    results = []
    for i in range(3):
        results.append(await step.run_async(f"s{i}", _double, payload["n"] + i))
        await asyncio.sleep(0.005)
    await wait.sleep_async(0.05)
    return results


async def _double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


@task(id="sync-pid")
def sync_pid(payload: Any) -> int:
    return os.getpid()


@task(id="shared-asks-from-threads")
async def shared_asks_from_threads(payload: dict[str, Any]) -> list[str]:
    """Calls the SDK from threads (``asyncio.to_thread``) while other runs share the loop:
    each call waits for its own answer on the child's one pipe."""
    ids = []
    for i in range(3):
        handle = await asyncio.to_thread(tasks.trigger, "async-echo", [payload["n"], i])
        ids.append(handle.id)
        await asyncio.sleep(0.005)
    return ids


# -- a child busy with one run while large runs wait for it (tests/worker/test_busy_pipe.py)


@task(id="bulky")
def bulky(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Quick, unless given a gate: then it holds its process until the test opens it."""
    gate = payload.get("gate")
    deadline = time.monotonic() + 30
    while gate and not out(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"size": len(payload.get("blob", "")), "pid": os.getpid()}
