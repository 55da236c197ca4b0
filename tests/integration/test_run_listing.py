"""Listing runs by every filter, sort and search kind, page by page, on both stores.

What a user of ``runs.list`` / the dashboard relies on: each filter narrows, statuses add
up, the search text means exactly what the docs say (id prefix, idempotency-key prefix,
exact tag, payload text in a bounded window), sorts put the newest first, and following
the cursor visits every matching run once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.core.retry import Retry
from outlast.engine import Engine, NewRun, Outcome, listing
from outlast.errors import ValidationError

ENV = "dev"


def new_run(engine: Engine, task: str, payload: Any = None, **options: Any) -> str:
    opts = parse_options(options, engine.clock.now())
    return str(engine.trigger(ENV, NewRun(task, json.dumps(payload), opts)).row["id"])


def finish(engine: Engine, queue: str, kind: Any = "completed") -> str:
    """Claim the oldest queued run of ``queue`` and end it as ``kind``; its id."""
    [held] = engine.claim(ENV, "w1", [queue], 1)
    engine.record([Outcome(run_id=held["id"], lease_id=held["lease_id"], attempt=1, kind=kind,
                           executed=0.1, output={"ok": True} if kind == "completed" else None,
                           error=None if kind == "completed" else
                           {"type": "ValueError", "message": "no"})])
    return str(held["id"])


def every_page(engine: Engine, limit: int = 2, **filters: Any) -> list[str]:
    """The ids of every page, in order, following the cursors."""
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        runs, cursor = engine.list_runs(ENV, limit=limit, cursor=cursor, **filters)
        ids += [r["id"] for r in runs]
        if cursor is None:
            return ids
    raise AssertionError("the cursor never ended")


@pytest.fixture
def shop(engine: Engine, clock: FakeClock) -> dict[str, str]:
    """Runs of two tasks on two queues, a minute apart, with tags, keys and payloads."""
    engine.register_tasks(ENV, [TaskDefinition(id="charge", queue="payments"),
                                TaskDefinition(id="email", queue="mail",
                                               retry=Retry(max_attempts=1))])
    made = {}
    made["ada"] = new_run(engine, "charge", {"customer": "Ada Lovelace"}, tags=["vip"],
                          idempotency_key="order-17")
    clock.advance(60)
    made["alan"] = new_run(engine, "charge", {"customer": "Alan Turing"},
                           idempotency_key="order-171")
    clock.advance(60)
    made["grace"] = new_run(engine, "email", {"to": "grace@example.com", "off": "50%"},
                            tags=["vip", "order-17x"])
    clock.advance(60)
    made["edsger"] = new_run(engine, "email", {"to": "edsger@example.com"},
                             idempotency_key="invoice-1")
    clock.advance(60)
    made["done"] = finish(engine, "payments")  # ada: the oldest queued charge
    clock.advance(60)
    made["failed"] = finish(engine, "mail", "failed")  # grace
    return made


def ids(engine: Engine, **filters: Any) -> set[str]:
    return {r["id"] for r in engine.list_runs(ENV, limit=100, **filters)[0]}


def test_each_filter_narrows_and_statuses_add_up(engine: Engine, shop: dict[str, str]) -> None:
    assert ids(engine, queue="payments") == {shop["ada"], shop["alan"]}
    assert ids(engine, queue="mail", status=["QUEUED"]) == {shop["edsger"]}
    assert ids(engine, task="charge", status=["COMPLETED"]) == {shop["ada"]}
    assert ids(engine, status=["COMPLETED", "FAILED"]) == {shop["ada"], shop["grace"]}
    assert ids(engine, status=["FAILED"], queue="payments") == set()
    assert ids(engine, tag="vip", status=["QUEUED"]) == set()
    assert ids(engine, tag="vip") == {shop["ada"], shop["grace"]}
    assert ids(engine, queue="nowhere") == set()


def test_a_time_range_reads_creation_times(engine: Engine, shop: dict[str, str],
                                           clock: FakeClock) -> None:
    start = engine.retrieve(ENV, shop["ada"])["created_at"]
    assert ids(engine, created_after=start + 60, created_before=start + 180) == {
        shop["alan"], shop["grace"]}
    assert every_page(engine, limit=1, created_after=start + 60) == [
        shop["edsger"], shop["grace"], shop["alan"]]
    assert every_page(engine, limit=1, created_before=start + 61, status=["COMPLETED"]) == [
        shop["ada"]]


@pytest.mark.parametrize("sort", ["started", "finished"])
def test_time_sorts_list_newest_first_and_leave_out_runs_without_that_time(
    engine: Engine, shop: dict[str, str], sort: str
) -> None:
    # grace started and ended after ada; the queued runs have neither time
    assert every_page(engine, limit=1, sort=sort) == [shop["grace"], shop["ada"]]
    assert every_page(engine, limit=1, sort=sort, task="email") == [shop["grace"]]


def test_created_sort_pages_visit_every_run_once(engine: Engine, shop: dict[str, str]) -> None:
    everything = every_page(engine, limit=2)
    assert everything == every_page(engine, limit=100)
    assert sorted(everything) == sorted(shop[k] for k in ("ada", "alan", "grace", "edsger"))
    assert everything == sorted(everything, reverse=True)


def test_search_by_run_id_prefix(engine: Engine, shop: dict[str, str]) -> None:
    run_id = shop["alan"]
    assert ids(engine, search=run_id) == {run_id}
    assert run_id in ids(engine, search=run_id[:-4])
    assert ids(engine, search=run_id[:-1] + ("0" if run_id[-1] != "0" else "1")) == set()
    assert len(ids(engine, search="run_")) == 4  # every run id starts so
    assert ids(engine, search=run_id, task="email") == set()


def test_search_text_finds_key_prefixes_exact_tags_and_payload_text(
    engine: Engine, shop: dict[str, str]
) -> None:
    # "order-17" starts two keys, is no tag ("order-17x" is another one), is in no payload
    assert ids(engine, search="order-17") == {shop["ada"], shop["alan"]}
    assert ids(engine, search="order-17x") == {shop["grace"]}  # the exact tag
    assert ids(engine, search="vip") == {shop["ada"], shop["grace"]}
    assert ids(engine, search="TURING") == {shop["alan"]}  # payload text, any case
    assert ids(engine, search="example.com") == {shop["grace"], shop["edsger"]}
    assert ids(engine, search="50%") == {shop["grace"]}  # % is the character itself
    assert ids(engine, search="%") == {shop["grace"]}
    assert ids(engine, search="invoice") == {shop["edsger"]}
    assert ids(engine, search="example.com", status=["QUEUED"]) == {shop["edsger"]}
    assert ids(engine, search="vip", tag="order-17x") == {shop["grace"]}
    assert ids(engine, search="nothing like it") == set()


def test_a_key_prefix_many_runs_share_is_found_in_page_order(
    engine: Engine, shop: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "DENSE_KEYS", 2)
    assert every_page(engine, limit=1, search="order-") == sorted([shop["alan"], shop["ada"]],
                                                                  reverse=True)
    assert ids(engine, search="order-171") == {shop["alan"]}


def test_payload_text_is_looked_for_a_window_at_a_time(
    engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page reads SEARCH_WINDOW runs for payload text; an older match is on a later
    page, reached by the cursor, and nothing is skipped or shown twice."""
    monkeypatch.setattr(listing, "SEARCH_WINDOW", 3)
    engine.register_tasks(ENV, [TaskDefinition(id="job", queue="job")])
    made = []
    for i in range(10):
        made.append(new_run(engine, "job", {"note": "needle" if i in (1, 2, 8) else "hay"}))
        clock.advance(1)
        time.sleep(0.002)  # ids sort by the wall clock's millisecond: one each
    first, cursor = engine.list_runs(ENV, search="needle", limit=5)
    assert [r["id"] for r in first] == [made[8]]
    assert cursor is not None  # the window ended before the page filled
    needles = [made[8], made[2], made[1]]
    assert every_page(engine, limit=5, search="needle") == needles
    assert every_page(engine, limit=1, search="needle") == needles
    empty, cursor = engine.list_runs(ENV, search="needle", limit=5, task="job",
                                     created_before=engine.retrieve(ENV, made[8])["created_at"],
                                     created_after=engine.retrieve(ENV, made[3])["created_at"])
    assert empty == [] and cursor is not None  # nothing in this window, more below it


@pytest.mark.parametrize(("filters", "message"), [
    ({"status": ["RUNNING"]}, "unknown status"),
    ({"sort": "duration"}, "sort must be one of"),
    ({"sort": "started", "cursor": "yesterday:run_x"}, "not a cursor"),
    ({"search": "x" * 201}, "longer than"),
])
def test_bad_filters_are_refused_with_the_reason(
    engine: Engine, filters: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        engine.list_runs(ENV, **filters)


def test_prefix_ranges_step_the_last_character(trigger: Callable[..., Any]) -> None:
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    assert listing.prefix_range("run_01j", alphabet) == ("run_01j", "run_01k")
    assert listing.prefix_range("run_019", alphabet) == ("run_019", "run_01a")
    assert listing.prefix_range("run_0z", alphabet) == ("run_0z", "run_1")
    assert listing.prefix_range("order-", None) == ("order-", "order.")
