"""The retention rules through the engine, on both stores, with a fake clock: what goes,
what stays (failed runs longer, live keys, live batches, pending hooks), and batches
that stay within their bound."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.core.retention import DAY, Retention
from outlast.engine import Engine, NewRun
from outlast.engine.alerts import SETTLE_SECONDS, Alerts
from outlast.engine.pruning import PruneLimits
from outlast.store.protocol import Row
from tests.integration.support import outcome
from tests.retention.support import all_run_ids, rows_of

ENV = "dev"


def new_run(engine: Engine, task: str, **options: Any) -> str:
    opts = parse_options(options, engine.clock.now())
    return str(engine.trigger(ENV, NewRun(task, "{}", opts)).row["id"])


def end(engine: Engine, task: str, kind: str = "completed", count: int = 1000) -> list[str]:
    """Start and end every queued run of ``task`` (its queue is named after it)."""
    claimed: list[Row] = engine.claim(ENV, "w", [task], count)
    error = None if kind == "completed" else {"type": "Boom", "message": "no"}
    engine.record([outcome(r, kind, error=error) for r in claimed])
    return [r["id"] for r in claimed]


def prune(engine: Engine, **kwargs: Any) -> int:
    return engine.retention.prune(ENV, **kwargs).runs


def test_failed_runs_are_kept_longer(engine: Engine, clock: FakeClock,
                                     register: Callable[..., Any], store_url: str) -> None:
    register(engine, "ok", TaskDefinition(id="bad", queue="bad"))
    ok = new_run(engine, "ok")
    bad = new_run(engine, "bad", max_attempts=1)
    canceled = new_run(engine, "ok", delay="1h")
    engine.cancel(ENV, canceled)
    end(engine, "ok")
    end(engine, "bad", "failed")
    assert engine.retrieve(ENV, bad)["status"] == "FAILED"
    clock.advance(31 * DAY)
    assert prune(engine) == 2
    assert all_run_ids(store_url) == {bad}
    clock.advance(58 * DAY)
    assert prune(engine) == 0
    clock.advance(2 * DAY)
    assert prune(engine) == 1
    assert ok not in all_run_ids(store_url)


def test_a_run_stays_while_its_idempotency_key_lives(
        engine: Engine, clock: FakeClock, register: Callable[..., Any], store_url: str) -> None:
    register(engine, "job")
    keyed = new_run(engine, "job", idempotency_key="order-1", idempotency_key_ttl="60d")
    lapsing = new_run(engine, "job", idempotency_key="order-2", idempotency_key_ttl="40d")
    end(engine, "job")
    clock.advance(45 * DAY)
    assert prune(engine) == 0  # both finished 45 days ago, but their keys still answer
    again = engine.trigger(ENV, NewRun("job", "{}", parse_options(
        {"idempotency_key": "order-1"}, clock.now())))
    assert (again.row["id"], again.created) == (keyed, False)
    clock.advance(24 * DAY)
    assert prune(engine) == 0  # order-2 expired at day 40: its run is kept 30 days more
    clock.advance(2 * DAY)
    assert prune(engine) == 1
    assert all_run_ids(store_url) == {keyed} and lapsing not in all_run_ids(store_url)
    # a trigger after the key expired makes a new run and frees the old one to go
    fresh = new_run(engine, "job", idempotency_key="order-1")
    assert fresh != keyed
    assert prune(engine) == 1
    assert all_run_ids(store_url) == {fresh}


def test_a_batch_with_one_live_member_keeps_them_all(
        engine: Engine, clock: FakeClock, register: Callable[..., Any], store_url: str) -> None:
    register(engine, "fast", "slow")
    opts = parse_options({}, clock.now())
    batch = [NewRun("fast", "{}", opts, batch_id="batch_1"),
             NewRun("fast", "{}", opts, batch_id="batch_1"),
             NewRun("slow", "{}", opts, batch_id="batch_1")]
    members = [t.row["id"] for t in engine.trigger_batch(ENV, batch)]
    loner = new_run(engine, "fast")
    end(engine, "fast")
    clock.advance(100 * DAY)
    assert prune(engine) == 1  # only the run outside the batch
    assert all_run_ids(store_url) == set(members)
    end(engine, "slow")
    clock.advance(29 * DAY)
    assert prune(engine) == 0
    clock.advance(2 * DAY)
    assert prune(engine) == 3
    assert loner not in all_run_ids(store_url)
    assert all_run_ids(store_url) == set()


def test_hooks_still_to_call_and_forever_keep_runs(
        engine: Engine, clock: FakeClock, register: Callable[..., Any], store_url: str) -> None:
    register(engine, TaskDefinition(id="hooked", queue="hooked", hooks=("on_failure",)),
             TaskDefinition(id="kept", queue="kept", retention=Retention(None, None)))
    hooked = new_run(engine, "hooked", max_attempts=1)
    kept = new_run(engine, "kept")
    end(engine, "hooked", "failed")
    end(engine, "kept")
    clock.advance(1000 * DAY)
    assert prune(engine) == 0
    assert all_run_ids(store_url) == {hooked, kept}
    [job] = engine.claim_hooks(ENV, None, 10)
    engine.finish_hook(job["id"], job["hook_lease"])
    assert prune(engine) == 1
    assert all_run_ids(store_url) == {kept}
    assert prune(engine, older_than=DAY) == 1  # by hand, an operator may say otherwise


def test_every_table_of_a_run_is_emptied(engine: Engine, clock: FakeClock,
                                         register: Callable[..., Any], store_url: str) -> None:
    register(engine, "job", TaskDefinition(id="bad", queue="bad"))
    alerts = Alerts(engine)
    alerts.set_webhook(ENV, "http://127.0.0.1:9/hook")
    alerts.enqueue()
    debounced = new_run(engine, "job", debounce={"key": "user-1", "delay": "5s"})
    schedule, _ = engine.schedules.create(ENV, task="job", cron_text="0 * * * *")
    clock.advance(3600)
    engine.sweep()
    [ticked] = engine.schedules.tick().fired
    failed = new_run(engine, "bad", max_attempts=1)
    end(engine, "job")
    end(engine, "bad", "failed")
    clock.advance(SETTLE_SECONDS)
    assert alerts.enqueue() == 1
    ids = [debounced, str(ticked), failed]
    before = rows_of(store_url, ids)
    assert all(before[t] for t in ("alert_outbox", "schedule_ticks", "debounces")), before
    clock.advance(91 * DAY)
    engine.schedules.delete(ENV, schedule["id"])  # no new ticks meanwhile
    report = engine.retention.prune(ENV)
    assert report.runs == 3
    assert rows_of(store_url, ids) == dict.fromkeys(before, 0)


def test_batches_stay_within_their_bound(engine: Engine, clock: FakeClock,
                                         register: Callable[..., Any], store_url: str) -> None:
    register(engine, "job")
    singles = [new_run(engine, "job") for _ in range(23)]
    opts = parse_options({}, clock.now())
    root = new_run(engine, "job")
    children = [t.row["id"] for t in engine.trigger_batch(
        ENV, [NewRun("job", "{}", opts, parent_id=root, root_id=root) for _ in range(12)])]
    end(engine, "job")
    clock.advance(31 * DAY)
    left = [len(all_run_ids(store_url))]
    limits = PruneLimits(batch_size=5, budget=10,
                         pause=lambda: left.append(len(all_run_ids(store_url))))
    first = engine.retention.prune(ENV, limits=limits)
    assert (first.runs, first.complete) == (10, False)
    rest = engine.retention.prune(ENV, limits=PruneLimits(batch_size=5, pause=limits.pause))
    assert rest.complete and first.runs + rest.runs == len(singles) + 1 + len(children)
    assert all_run_ids(store_url) == set()
    steps = [a - b for a, b in zip(left, left[1:], strict=False)]
    assert steps and max(steps) <= 5 and sum(steps) == 36
    assert len(steps) == first.batches + rest.batches


def test_runs_behind_a_tree_that_must_stay_still_go(
        engine: Engine, clock: FakeClock, register: Callable[..., Any], store_url: str) -> None:
    register(engine, "job", "child")
    blocked = [new_run(engine, "job") for _ in range(5)]
    end(engine, "job")
    opts = parse_options({}, clock.now())
    for root in blocked:  # each root left a child that has not run yet
        engine.trigger(ENV, NewRun("child", "{}", opts, parent_id=root, root_id=root))
    clock.advance(DAY)
    free = [new_run(engine, "job") for _ in range(2)]
    end(engine, "job")
    clock.advance(40 * DAY)
    report = engine.retention.prune(ENV, limits=PruneLimits(batch_size=5))
    assert report.runs == 2
    assert not set(free) & all_run_ids(store_url)
    assert set(blocked) <= all_run_ids(store_url)
