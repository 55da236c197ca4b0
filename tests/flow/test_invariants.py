"""Several worker processes claiming from one database: limits are never exceeded, are
reached (no accidental serialisation), and a small key is served behind a large backlog."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterable
from typing import Any

import pytest

from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from tests.conftest import definition
from tests.eventually import eventually

from . import flow_worker

# the limits must be reached, which takes worker processes holding runs at the same moment:
# on cores busy with the suite's other workers they seldom overlap, so these run alone
pytestmark = pytest.mark.exclusive

PROCESSES = 4
Span = tuple[str, str | None, float, float]


def max_overlap(spans: Iterable[Span]) -> int:
    """The most intervals open at one instant (an end before a start at the same time)."""
    spans = list(spans)
    edges = sorted([(s, 1) for _, _, s, _ in spans] + [(e, -1) for _, _, _, e in spans])
    best = now = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def enqueue(engine: Engine, n: int, **options: Any) -> None:
    opts = parse_options(options, engine.clock.now())
    for start in range(0, n, 1000):
        engine.trigger_batch("dev", [NewRun("job", json.dumps(i), opts)
                                     for i in range(start, min(n, start + 1000))])


class Workers:
    def __init__(self, url: str, capacity: int, hold: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barrier = ctx.Barrier(PROCESSES + 1)
        self.stop = ctx.Event()
        self.results = ctx.Queue()
        self.procs = [ctx.Process(target=flow_worker.run, args=(
            url, f"w{n}", capacity, hold, self.barrier, self.stop, self.results))
            for n in range(PROCESSES)]
        for proc in self.procs:
            proc.start()
        self.barrier.wait(timeout=90)

    def finish(self) -> list[Span]:
        self.stop.set()
        reports = dict(self.results.get(timeout=120) for _ in self.procs)
        for proc in self.procs:
            proc.join(timeout=30)
        self.results.close()
        self.results.join_thread()
        bad = {w: r for w, r in reports.items() if isinstance(r, str)}
        assert not bad, bad
        return [span for spans in reports.values() for span in spans]


def wait_completed(engine: Engine, done: int, timeout: float = 120.0) -> None:
    def completed() -> bool:
        return len(engine.list_runs("dev", status=["COMPLETED"], limit=1000)[0]) >= done

    eventually(completed, timeout, f"{done} runs to complete")


@pytest.fixture
def live(store: Any) -> Engine:
    return Engine(store, lease_seconds=3600)  # real clock: the workers use one too


@pytest.mark.timeout(240)
def test_queue_limit_never_exceeded_and_reached(live: Engine, store_url: str,
                                                register: Any) -> None:
    register(live, definition("job", queue="q", concurrency_limit=3))
    enqueue(live, 120)
    workers = Workers(store_url, capacity=2, hold=0.03)
    wait_completed(live, 120)
    spans = workers.finish()
    assert len(spans) == 120 and len({s[0] for s in spans}) == 120
    assert max_overlap(spans) == 3


@pytest.mark.timeout(240)
def test_per_key_and_total_limits_hold_across_processes(live: Engine, store_url: str,
                                                        register: Any) -> None:
    register(live, definition("job", queue="q", concurrency_limit=2, total_limit=5))
    for key in "abcd":
        enqueue(live, 30, concurrency_key=key)
    workers = Workers(store_url, capacity=3, hold=0.03)
    wait_completed(live, 120)
    spans = workers.finish()
    assert len(spans) == 120
    for key in "abcd":
        assert max_overlap(s for s in spans if s[1] == key) == 2
    assert max_overlap(spans) == 5


@pytest.mark.timeout(300)
def test_small_key_behind_a_large_backlog_across_processes(
    live: Engine, store_url: str, register: Any
) -> None:
    """5,000 runs of A, then 10 of B; limit 2 per key and total 2. Once B is queued, at most
    K - 1 = 1 run of A starts before B's first (2 allowing one claim already in flight)."""
    register(live, definition("job", queue="q", concurrency_limit=2, total_limit=2))
    enqueue(live, 5000, concurrency_key="A")
    workers = Workers(store_url, capacity=2, hold=0.005)
    wait_completed(live, 20)
    enqueue(live, 10, concurrency_key="B")
    # from B's commit on: taken before it, a slow enqueue on a busy machine would count
    # the A runs started while B was still being written
    queued_at = time.monotonic()
    wait_completed(live, 40)
    spans = workers.finish()
    first_b = min(s[2] for s in spans if s[1] == "B")
    a_between = [s for s in spans if s[1] == "A" and queued_at <= s[2] < first_b]
    assert len(a_between) <= 2, len(a_between)
    assert max_overlap(spans) <= 2
