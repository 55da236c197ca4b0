"""A worker's ends are noted as they come and counted a loop turn at a time
(``WorkerMetrics.settle``): the counts come out as if each had been counted at once."""

from __future__ import annotations

import threading

from outlast.worker.metrics import WorkerMetrics
from tests.metrics.promtext import parse, value

FINISHED = "outlast_worker_attempts_finished_total"
DURATIONS = "outlast_worker_attempt_duration_seconds"


def test_settled_ends_count_by_task_and_outcome_with_their_durations() -> None:
    m = WorkerMetrics()
    m.ended("a", "completed", 0.001)
    m.ended("a", "completed", 0.2)
    m.ended("a", "failed", 3.0)
    m.ended("b", "released", None)  # never ran: counted, not timed
    m.settle()
    m.ended("a", "completed", 0.002)
    m.settle()
    series = parse(m.render())
    assert value(series, FINISHED, task="a", outcome="completed") == 3
    assert value(series, FINISHED, task="a", outcome="failed") == 1
    assert value(series, FINISHED, task="b", outcome="released") == 1
    assert value(series, f"{DURATIONS}_count", task="a") == 4
    assert value(series, f"{DURATIONS}_bucket", task="a", le="0.005") == 2
    assert value(series, f"{DURATIONS}_sum", task="a") == 0.001 + 0.2 + 3.0 + 0.002
    assert (f"{DURATIONS}_count", frozenset({("task", "b")})) not in series


def test_a_page_counts_the_ends_noted_since_the_last_turn() -> None:
    m = WorkerMetrics()
    m.ended("a", "completed", 0.5)  # no settle: the loop's turn is still under way
    series = parse(m.render())
    assert value(series, FINISHED, task="a", outcome="completed") == 1
    assert value(series, f"{DURATIONS}_count", task="a") == 1


def test_ends_noted_while_pages_are_rendered_are_each_counted_once() -> None:
    m = WorkerMetrics()
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            m.render()

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for i in range(20_000):
            m.ended("a", "completed", 0.001)
            if i % 50 == 0:
                m.settle()
    finally:
        stop.set()
        scraper.join()
    series = parse(m.render())
    assert value(series, FINISHED, task="a", outcome="completed") == 20_000
    assert value(series, f"{DURATIONS}_count", task="a") == 20_000
