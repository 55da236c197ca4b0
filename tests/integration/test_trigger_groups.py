"""Concurrent triggers share a transaction (``outlast.engine.trigger_groups``): those that
arrive while one is written go together next; each caller gets its own run or its own
error; a trigger alone is written at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from outlast.engine.trigger_groups import LANES, TriggerGroups
from outlast.engine.triggering import Triggered
from outlast.errors import TaskNotFoundError
from tests.eventually import eventually


def _request(engine: Engine, task: str, payload: Any, **options: Any) -> NewRun:
    return NewRun(task, json.dumps(payload), parse_options(options, engine.clock.now()))


class _HeldFirstWrite:
    """The engine's batch write, with the first ``LANES`` calls held until ``release``:
    every lane is busy, and the triggers that arrive meanwhile must wait, as behind slow
    commits."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls: list[list[Any]] = []
        self.release = threading.Event()

    def __call__(self, env: str, requests: list[NewRun]) -> list[Triggered]:
        self.calls.append([json.loads(r.payload_json) for r in requests])
        if len(self.calls) <= LANES:
            assert self.release.wait(10)
        return self.engine.trigger_batch(env, requests)


def _in_threads(n: int, call: Callable[[int], Any]) -> list[Any]:
    answers: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            answers[i] = call(i)
        except Exception as exc:  # noqa: BLE001 - compared by the test
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
        time.sleep(0.005)  # in order: the first ``LANES`` take the lanes
    return [answers, threads]


def _waiting(groups: TriggerGroups, env: str) -> int:
    return len(groups._waiting.get(env, []))  # noqa: SLF001 - the test watches the queue


def test_triggers_that_wait_behind_one_are_written_together(
        engine: Engine, register: Callable[..., Any]) -> None:
    register(engine, "job")
    write = _HeldFirstWrite(engine)
    groups = TriggerGroups(write)
    answers, threads = _in_threads(
        LANES + 6, lambda i: groups.trigger("dev", _request(engine, "job", i)))
    eventually(lambda: _waiting(groups, "dev") == 6, 10, "six triggers waiting")
    write.release.set()
    for t in threads:
        t.join(10)
    assert write.calls[:LANES] == [[i] for i in range(LANES)]
    assert sorted(write.calls[LANES]) == list(range(LANES, LANES + 6))
    assert len(write.calls) == LANES + 1
    for i, triggered in enumerate(answers):
        run = engine.retrieve("dev", triggered.row["id"])
        assert triggered.created and run["payload"] == i


def test_a_bad_trigger_in_a_group_fails_alone(
        engine: Engine, register: Callable[..., Any]) -> None:
    register(engine, "job")
    write = _HeldFirstWrite(engine)
    groups = TriggerGroups(write)
    bad = LANES + 1
    answers, threads = _in_threads(LANES + 3, lambda i: groups.trigger(
        "dev", _request(engine, "no-such-task" if i == bad else "job", i)))
    eventually(lambda: _waiting(groups, "dev") == 3, 10, "three triggers waiting")
    write.release.set()
    for t in threads:
        t.join(10)
    assert isinstance(answers[bad], TaskNotFoundError)
    good = [i for i in range(LANES + 3) if i != bad]
    assert [engine.retrieve("dev", answers[i].row["id"])["payload"] for i in good] == good


def test_one_key_twice_in_a_group_is_one_run(
        engine: Engine, register: Callable[..., Any]) -> None:
    register(engine, "job")
    write = _HeldFirstWrite(engine)
    groups = TriggerGroups(write)
    answers, threads = _in_threads(LANES + 2, lambda i: groups.trigger(
        "dev", _request(engine, "job", i, idempotency_key=None if i < LANES else "once")))
    eventually(lambda: _waiting(groups, "dev") == 2, 10, "two triggers waiting")
    write.release.set()
    for t in threads:
        t.join(10)
    first, second = answers[LANES], answers[LANES + 1]
    assert first.row["id"] == second.row["id"]
    assert sorted([first.created, second.created]) == [False, True]


def test_a_database_fault_is_every_members_and_not_tried_again() -> None:
    calls: list[int] = []
    release = threading.Event()

    def write(env: str, requests: list[NewRun]) -> list[Triggered]:
        calls.append(len(requests))
        if len(calls) <= LANES:
            assert release.wait(10)
            return [Triggered({"id": f"run_{len(calls)}"}, created=True)]
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    groups = TriggerGroups(write)
    request = NewRun("job", "null", parse_options({}, 0.0))
    answers, threads = _in_threads(LANES + 3, lambda i: groups.trigger("dev", request))
    eventually(lambda: _waiting(groups, "dev") == 3, 10, "three triggers waiting")
    release.set()
    for t in threads:
        t.join(10)
    # the group was not written again one by one: it may have committed
    assert calls == [1] * LANES + [3]
    faults = answers[LANES:]
    assert all(isinstance(a, psycopg.OperationalError) for a in faults)
    assert len({id(a) for a in faults}) == 3  # each caller raises its own copy


def test_a_deadlock_the_server_rolled_back_is_written_again_one_by_one() -> None:
    import psycopg.errors as pg

    calls: list[int] = []
    release = threading.Event()

    def write(env: str, requests: list[NewRun]) -> list[Triggered]:
        calls.append(len(requests))
        if len(calls) <= LANES:
            assert release.wait(10)
        elif len(requests) > 1:
            raise pg.DeadlockDetected("deadlock detected")
        return [Triggered({"id": f"run_{len(calls)}"}, created=True)]

    groups = TriggerGroups(write)
    request = NewRun("job", "null", parse_options({}, 0.0))
    answers, threads = _in_threads(LANES + 3, lambda i: groups.trigger("dev", request))
    eventually(lambda: _waiting(groups, "dev") == 3, 10, "three triggers waiting")
    release.set()
    for t in threads:
        t.join(10)
    assert calls == [1] * LANES + [3, 1, 1, 1]
    assert all(isinstance(a, Triggered) for a in answers)


def test_a_trigger_alone_is_written_at_once(engine: Engine,
                                            register: Callable[..., Any]) -> None:
    register(engine, "job")
    started = time.monotonic()
    triggered = engine.trigger("dev", _request(engine, "job", 1))
    assert triggered.created and time.monotonic() - started < 5
    assert engine.trigger("dev", _request(engine, "job", 2)).row["id"] != triggered.row["id"]


@pytest.mark.parametrize("threads", [16])
def test_many_threads_triggering_each_get_their_own_run(
        engine: Engine, register: Callable[..., Any], threads: int) -> None:
    register(engine, "job")
    ids: list[str] = []
    lock = threading.Lock()

    def many(start: int) -> None:
        for i in range(start, start + 20):
            run_id = engine.trigger("dev", _request(engine, "job", i)).row["id"]
            with lock:
                ids.append(run_id)

    workers = [threading.Thread(target=many, args=(k * 100,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    assert len(set(ids)) == threads * 20
    payloads = sorted(engine.retrieve("dev", run_id)["payload"] for run_id in ids)
    assert payloads == sorted(k * 100 + i for k in range(threads) for i in range(20))
