"""A caller of ``TriggerGroups`` interrupted (Ctrl-C in the main thread, a signal
handler's SystemExit) while it waits or while its group is written one by one: the other
callers still get an answer, and later triggers of the environment are not held up."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from outlast.engine.trigger_groups import LANES, TriggerGroups
from outlast.errors import OutlastError


class Interrupted(BaseException):
    """What a signal handler raises in the waiting thread."""


def _busy_lanes(groups: TriggerGroups, writes: list[Any]) -> list[threading.Thread]:
    """Every lane taken by a trigger whose write is held."""
    threads = [threading.Thread(target=groups.trigger, args=("dev", f"lane{i}"), daemon=True)
               for i in range(LANES)]
    for t in threads:
        t.start()
    while len(writes) < LANES:
        time.sleep(0.01)
    return threads


def test_a_waiter_interrupted_while_it_waits_does_not_stall_the_environment() -> None:
    release = threading.Event()
    writes: list[list[Any]] = []

    def write(env: str, requests: list[Any]) -> list[Any]:
        writes.append(list(requests))
        if len(writes) <= LANES:
            assert release.wait(10)
        return [f"run-{r}" for r in requests]

    groups = TriggerGroups(write)  # type: ignore[arg-type]
    lanes = _busy_lanes(groups, writes)

    def interrupt(signum: int, frame: Any) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        groups.trigger("dev", 2)  # type: ignore[arg-type]
        raise AssertionError("the trigger should have waited until interrupted")
    except Interrupted:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    release.set()
    for t in lanes:
        t.join(5)
    answers: list[Any] = []
    later = threading.Thread(target=lambda: answers.append(groups.trigger("dev", 3)),
                             daemon=True)
    later.start()
    later.join(3)
    assert answers == ["run-3"], "a trigger after the interrupted one never returns"
    assert [2] not in writes  # it left the queue: nobody wrote it


def test_members_after_an_interrupted_lone_write_get_an_answer() -> None:
    """A group rolled back is written one by one in the leader's thread; an interruption
    there leaves the members after it unwritten, and they are told so."""
    release = threading.Event()
    calls: list[list[Any]] = []

    def write(env: str, requests: list[Any]) -> list[Any]:
        calls.append(list(requests))
        if len(calls) <= LANES:
            assert release.wait(10)
            return [f"run-{r}" for r in requests]
        if len(requests) > 1:
            raise ValueError("one of them is bad")  # rolled back: each alone
        if requests == [2]:
            raise Interrupted
        return [f"run-{r}" for r in requests]

    groups = TriggerGroups(write)  # type: ignore[arg-type]
    lanes = _busy_lanes(groups, calls)
    answers: dict[int, Any] = {}

    def call(i: int) -> None:
        try:
            answers[i] = groups.trigger("dev", i)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - compared below
            answers[i] = exc

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in (2, 3)]
    for t in threads:
        t.start()
        time.sleep(0.05)  # in order: 2 leads the group that waits
    release.set()
    for t in [*lanes, *threads]:
        t.join(5)
    assert isinstance(answers[2], Interrupted)
    assert isinstance(answers[3], OutlastError) and "interrupted" in answers[3].message
    assert groups.trigger("dev", 4) == "run-4"  # type: ignore[arg-type]


def test_a_process_forked_while_every_lane_is_busy_triggers_afresh() -> None:
    """The child of a fork inherits the busy lanes and waiting callers, but not the
    threads writing them: it starts with empty state of its own."""
    import os

    release = threading.Event()
    writes: list[list[Any]] = []

    def write(env: str, requests: list[Any]) -> list[Any]:
        writes.append(list(requests))
        if len(writes) <= LANES and os.getpid() == parent:
            assert release.wait(10)
        return [f"run-{r}" for r in requests]

    parent = os.getpid()
    groups = TriggerGroups(write)  # type: ignore[arg-type]
    lanes = _busy_lanes(groups, writes)
    pid = os.fork()
    if pid == 0:  # the child: one trigger, answered at once, or a failing exit code
        answered = threading.Event()
        threading.Thread(target=lambda: groups.trigger("dev", 1) == "run-1"  # type: ignore
                         and answered.set(), daemon=True).start()
        os._exit(0 if answered.wait(5) else 1)
    _, status = os.waitpid(pid, 0)
    release.set()
    for t in lanes:
        t.join(5)
    assert os.waitstatus_to_exitcode(status) == 0
