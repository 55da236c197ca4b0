"""Creating runs on both stores: events, idempotency, delays, TTL, batches, replay, listing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outlast.core.options import TriggerOptions, parse_options
from outlast.engine import Engine, NewRun
from outlast.engine.triggering import LOAD_FROM, MAX_BATCH, PlainBatch
from outlast.errors import (
    InvalidTransitionError,
    PayloadTooLargeError,
    RunNotFoundError,
    TaskNotFoundError,
    ValidationError,
)

from .support import count_runs, status_of

ENV = "dev"


@pytest.fixture(autouse=True)
def _tasks(engine: Engine, register: Any) -> None:
    register(engine, "job", "other")


def test_trigger_creates_a_queued_run_with_a_created_event(engine: Engine, trigger: Any) -> None:
    result = trigger(engine, "job", {"symbol": "AAPL"}, tags=["user:17"], metadata={"p": 0})
    assert result.created
    run = engine.retrieve(ENV, result.row["id"])
    assert run["status"] == "QUEUED"
    assert run["payload"] == {"symbol": "AAPL"}
    assert run["tags"] == ["user:17"]
    assert run["metadata"] == {"p": 0}
    assert run["task"] == "job" and run["queue"] == "job"
    assert run["attempts"] == 0 and run["max_attempts"] == 3
    assert run["created_at"] == engine.clock.now()
    assert not run["is_final"]
    events = engine.events(run["id"])
    assert [(e["kind"], e["status"]) for e in events] == [("created", "QUEUED")]
    listed, _ = engine.list_runs(ENV, tag="user:17")
    assert [r["id"] for r in listed] == [run["id"]]


def test_an_untagged_trigger_beside_a_tagged_one_has_no_tags(
        engine: Engine, trigger: Any) -> None:
    """The tags' part of a trigger's statement is left out when no run has tags."""
    plain = trigger(engine, "job", 1).row["id"]
    tagged = trigger(engine, "job", 2, tags=["t"]).row["id"]
    assert engine.retrieve(ENV, plain)["tags"] == []
    assert [r["id"] for r in engine.list_runs(ENV, tag="t")[0]] == [tagged]


def test_payloads_of_every_json_shape_survive(engine: Engine, trigger: Any) -> None:
    for payload in [None, 0, "", [], {}, {"nested": [1, {"a": None}]}, "ünïcødé", 1.5, False]:
        run_id = trigger(engine, "job", payload).row["id"]
        assert engine.retrieve(ENV, run_id)["payload"] == payload


def test_unknown_task_is_rejected(engine: Engine, trigger: Any) -> None:
    with pytest.raises(TaskNotFoundError):
        trigger(engine, "missing")
    assert count_runs(engine) == 0


def test_environments_are_separate(engine: Engine, register: Any, trigger: Any) -> None:
    with pytest.raises(TaskNotFoundError):
        trigger(engine, "job", env="prod")
    register(engine, "job", env="prod")
    run_id = trigger(engine, "job", env="prod").row["id"]
    with pytest.raises(RunNotFoundError):
        engine.retrieve(ENV, run_id)
    assert engine.retrieve("prod", run_id)["environment"] == "prod"


def test_idempotency_key_returns_the_same_run(engine: Engine, trigger: Any) -> None:
    first = trigger(engine, "job", {"n": 1}, idempotency_key="order-42")
    second = trigger(engine, "job", {"n": 2}, idempotency_key="order-42")
    assert first.created and not second.created
    assert second.row["id"] == first.row["id"]
    assert count_runs(engine) == 1
    # the key is per task
    assert trigger(engine, "other", idempotency_key="order-42").created


def test_idempotency_key_expires_after_its_ttl(engine: Engine, clock: Any, trigger: Any) -> None:
    first = trigger(engine, "job", idempotency_key="k", idempotency_key_ttl="1h")
    clock.advance(3599)
    assert trigger(engine, "job", idempotency_key="k").row["id"] == first.row["id"]
    clock.advance(2)
    fresh = trigger(engine, "job", idempotency_key="k")
    assert fresh.created and fresh.row["id"] != first.row["id"]
    assert engine.retrieve(ENV, first.row["id"])["idempotency_key"] is None
    assert engine.retrieve(ENV, fresh.row["id"])["idempotency_key"] == "k"
    assert trigger(engine, "job", idempotency_key="k").row["id"] == fresh.row["id"]


def test_default_idempotency_ttl_is_thirty_days(engine: Engine, clock: Any, trigger: Any) -> None:
    first = trigger(engine, "job", idempotency_key="k")
    clock.advance(30 * 86400 - 1)
    assert not trigger(engine, "job", idempotency_key="k").created
    clock.advance(2)
    assert trigger(engine, "job", idempotency_key="k").row["id"] != first.row["id"]


def test_delayed_run_is_queued_by_the_sweep_once_due(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    run_id = trigger(engine, "job", delay="10m").row["id"]
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "DELAYED"
    assert run["available_at"] == clock.now() + 600
    assert engine.claim(ENV, "w", None, 10) == []
    clock.advance(599)
    assert engine.sweep().enqueued == 0
    assert status_of(engine, run_id) == "DELAYED"
    clock.advance(1)
    assert engine.sweep().enqueued == 1
    assert status_of(engine, run_id) == "QUEUED"
    kinds = [e["kind"] for e in engine.events(run_id)]
    assert kinds == ["created", "enqueue_delayed"]
    assert [r["id"] for r in engine.claim(ENV, "w", None, 10)] == [run_id]


def test_delay_in_the_past_queues_at_once(engine: Engine, clock: Any) -> None:
    opts = TriggerOptions(delay=clock.now() - 5)
    row = engine.trigger(ENV, NewRun("job", "null", opts)).row
    assert status_of(engine, row["id"]) == "QUEUED"


def test_ttl_expires_a_run_that_did_not_start(engine: Engine, clock: Any, trigger: Any) -> None:
    run_id = trigger(engine, "job", ttl="10m").row["id"]
    clock.advance(599)
    assert engine.sweep().expired == 0
    clock.advance(1)
    assert engine.claim(ENV, "w", None, 10) == []  # an expired run is never claimed
    report = engine.sweep()
    assert report.expired == 1
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "EXPIRED" and run["is_final"]
    assert run["error"]["type"] == "Expired"
    assert run["finished_at"] == clock.now()
    assert [e["kind"] for e in engine.events(run_id)] == ["created", "expire"]


def test_ttl_does_not_expire_a_started_run(engine: Engine, clock: Any, trigger: Any) -> None:
    run_id = trigger(engine, "job", ttl="10m").row["id"]
    clock.advance(60)
    assert [r["id"] for r in engine.claim(ENV, "w", None, 1)] == [run_id]
    clock.advance(600)
    engine.heartbeat("w", [run_id])
    assert engine.sweep().expired == 0
    assert status_of(engine, run_id) == "EXECUTING"


def test_ttl_of_a_delayed_run_counts_from_when_it_is_due(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    run_id = trigger(engine, "job", delay="1h", ttl="10m").row["id"]
    clock.advance(3600)
    engine.sweep()
    assert status_of(engine, run_id) == "QUEUED"
    clock.advance(599)
    engine.sweep()
    assert status_of(engine, run_id) == "QUEUED"
    clock.advance(1)
    engine.sweep()
    assert status_of(engine, run_id) == "EXPIRED"


def test_task_default_ttl_applies(engine: Engine, register: Any, trigger: Any, clock: Any) -> None:
    from outlast.core.definitions import TaskDefinition

    register(engine, TaskDefinition(id="short", queue="short", ttl=30.0))
    run_id = trigger(engine, "short").row["id"]
    clock.advance(30)
    engine.sweep()
    assert status_of(engine, run_id) == "EXPIRED"


# -- batches ------------------------------------------------------------------------------


def new_run(task: str = "job", payload: Any = None, **options: Any) -> NewRun:
    return NewRun(task, json.dumps(payload), parse_options(options, 0))


def test_a_batch_of_a_thousand_in_one_transaction(engine: Engine) -> None:
    requests = [new_run("job" if i % 2 else "other", {"i": i}) for i in range(MAX_BATCH)]
    results = engine.trigger_batch(ENV, requests)
    assert len(results) == MAX_BATCH and all(r.created for r in results)
    assert len({r.row["id"] for r in results}) == MAX_BATCH
    assert count_runs(engine) == MAX_BATCH
    assert engine.retrieve(ENV, results[7].row["id"])["payload"] == {"i": 7}


@pytest.mark.parametrize("size", [LOAD_FROM - 1, MAX_BATCH])
def test_a_batch_whose_items_share_their_options_writes_each_runs_tags_and_event(
        engine: Engine, clock: Any, size: int) -> None:
    """Runs made from one set of options share their status, tags and moments, which a
    bulk load reads once: every run still gets its own event and tags."""
    options = parse_options({"tags": ["a", "b"], "delay": clock.now() + 60}, clock.now())
    results = engine.trigger_batch(ENV, [NewRun("job", json.dumps(i), options)
                                         for i in range(size)])
    for result in (results[0], results[size // 2], results[-1]):
        run = engine.retrieve(ENV, result.row["id"])
        assert (run["status"], run["tags"]) == ("DELAYED", ["a", "b"])
        assert _events_of(engine, run["id"]) == [("created", "DELAYED")]
    for tag in ("a", "b"):
        assert len(engine.list_runs(ENV, tag=tag, limit=MAX_BATCH)[0]) == size


def _checked(payload: Any) -> str:
    if payload == "bad":
        raise ValidationError("payload 'bad' refused")
    return json.dumps(payload)


@pytest.mark.parametrize("size", [LOAD_FROM - 1, MAX_BATCH])
def test_a_plain_batch_checks_each_payload_as_it_writes_it(engine: Engine, size: int) -> None:
    """A batch whose items share plain options is checked as it is written: a bad payload
    anywhere in it fails it whole; of a task nobody registered, the payloads' errors come
    first, as when they were checked before the task was looked up."""
    options = parse_options({"tags": ["p"]}, 0)
    payloads: list[Any] = list(range(size))
    done = engine.trigger_batch(ENV, PlainBatch("job", options, payloads, _checked, "batch_p"))
    assert [engine.retrieve(ENV, t.row["id"])["payload"] for t in done] == payloads
    assert count_runs(engine) == size
    payloads[size - 2] = "bad"
    with pytest.raises(ValidationError, match="'bad' refused"):
        engine.trigger_batch(ENV, PlainBatch("job", options, payloads, _checked))
    assert count_runs(engine) == size
    with pytest.raises(ValidationError, match="'bad' refused"):
        engine.trigger_batch(ENV, PlainBatch("ghost", options, payloads, _checked))
    with pytest.raises(TaskNotFoundError):
        engine.trigger_batch(ENV, PlainBatch("ghost", options, [1, 2], _checked))


@pytest.mark.parametrize("size", [LOAD_FROM - 1, MAX_BATCH])
def test_a_plain_batch_hands_its_runs_over_inside_its_transaction(
        engine: Engine, size: int) -> None:
    """``PlainBatch.made`` is given the batch's answer, whole, once its last row is made
    and before the commit: what it raises fails the batch, and nothing is written."""
    options = parse_options({}, 0)
    seen: list[list[Any]] = []
    done = engine.trigger_batch(ENV, PlainBatch("job", options, list(range(size)), _checked,
                                                made=lambda runs: seen.append(list(runs))))
    assert seen == [done] and len(done) == size
    assert count_runs(engine) == size

    def refuse(runs: Any) -> None:
        raise RuntimeError(f"answer of {len(runs)} refused")

    with pytest.raises(RuntimeError, match=f"answer of {size} refused"):
        engine.trigger_batch(ENV, PlainBatch("job", options, list(range(size)), _checked,
                                             made=refuse))
    assert count_runs(engine) == size


def test_a_batch_over_a_thousand_is_rejected_whole(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="1000"):
        engine.trigger_batch(ENV, [new_run() for _ in range(MAX_BATCH + 1)])
    assert count_runs(engine) == 0


def test_a_batch_with_one_bad_item_writes_nothing(engine: Engine) -> None:
    good = [new_run(payload=i, idempotency_key=f"k{i}") for i in range(10)]
    bad = NewRun("job", "null", TriggerOptions(metadata={"x": {1, 2}}))  # not JSON
    with pytest.raises(ValidationError):
        engine.trigger_batch(ENV, [*good, new_run(), bad])
    assert count_runs(engine) == 0
    assert engine.trigger_batch(ENV, good[:1])[0].created  # the key was not taken


def test_a_batch_with_an_unknown_task_writes_nothing(engine: Engine) -> None:
    with pytest.raises(TaskNotFoundError):
        engine.trigger_batch(ENV, [new_run(), new_run("missing")])
    assert count_runs(engine) == 0


def test_repeated_idempotency_key_inside_one_batch(engine: Engine) -> None:
    results = engine.trigger_batch(ENV, [new_run(idempotency_key="same") for _ in range(3)])
    assert [r.created for r in results] == [True, False, False]
    assert len({r.row["id"] for r in results}) == 1
    assert count_runs(engine) == 1


def _events_of(engine: Engine, run_id: str) -> list[tuple[str, str]]:
    return [(e["kind"], e["status"]) for e in engine.events(run_id)]


@pytest.mark.parametrize("size", [LOAD_FROM - 1, LOAD_FROM, MAX_BATCH])
def test_a_batch_mixing_keys_tags_delays_and_large_payloads_is_written_whole(
        engine: Engine, clock: Any, size: int) -> None:
    """Below ``LOAD_FROM`` plain runs go as one statement, from it on they are loaded in
    bulk (PostgreSQL's COPY); either way each run gets its row, event and tags, answered
    in the order asked, and keyed items are found or made one by one among them."""
    engine.blobs.threshold = 1024
    earlier = engine.trigger(ENV, new_run(payload="first", idempotency_key="seen")).row
    special: dict[int, NewRun] = {
        0: new_run(payload="again", idempotency_key="seen"),
        1: new_run("other", {"big": "x" * 2000}, tags=["large"]),
        2: new_run(payload=2, idempotency_key="fresh", tags=["keyed"]),
        3: new_run(payload=3, delay=clock.now() + 3600, metadata={"m": "é\t\\N"}),
        size - 1: new_run(payload="last", idempotency_key="fresh"),
    }
    requests = [special.get(i) or new_run(payload=i, tags=[f"t{i % 3}", "all"])
                for i in range(size)]
    results = engine.trigger_batch(ENV, requests)
    assert [r.created for r in results] == [i not in (0, size - 1) for i in range(size)]
    assert results[0].row["id"] == earlier["id"]
    assert results[size - 1].row["id"] == results[2].row["id"]
    assert count_runs(engine) == size - 1  # the earlier run, and all but the two twins
    for i, result in enumerate(results[1:-1], start=1):
        run = engine.retrieve(ENV, result.row["id"])
        assert _events_of(engine, run["id"]) == [("created", run["status"])]
        if i not in special:
            assert (run["payload"], run["tags"]) == (i, [f"t{i % 3}", "all"])
    large = engine.retrieve(ENV, results[1].row["id"])
    assert large["task"] == "other" and large["tags"] == ["large"]
    assert json.loads(results[1].row["payload"])["$blob"].startswith(results[1].row["id"])
    assert json.loads(engine.blobs.text(results[1].row["payload"])) == {"big": "x" * 2000}
    delayed = engine.retrieve(ENV, results[3].row["id"])
    assert (delayed["status"], delayed["metadata"]) == ("DELAYED", {"m": "é\t\\N"})
    tagged, _ = engine.list_runs(ENV, tag="all", limit=MAX_BATCH)
    assert len(tagged) == size - len(special)
    keyed, _ = engine.list_runs(ENV, tag="keyed")
    assert [r["id"] for r in keyed] == [results[2].row["id"]]


@pytest.mark.parametrize("size", [LOAD_FROM - 1, MAX_BATCH])
@pytest.mark.parametrize("bad", ["metadata", "payload"])
def test_a_batch_whose_last_item_fails_writes_nothing(
        engine: Engine, size: int, bad: str) -> None:
    """The last row fails only as it is made (bulk: while the rows before it are already
    on their way to the database): the whole batch is rolled back, keys and tags too."""
    engine.blobs.threshold, engine.blobs.max_bytes = 100, 1000
    failing = (NewRun("job", "null", TriggerOptions(metadata={"x": {1, 2}}))  # not JSON
               if bad == "metadata" else new_run(payload="x" * 2000))  # over the limit
    requests = [new_run(payload=0, idempotency_key="k"),
                *(new_run(payload=i, tags=["t"]) for i in range(1, size - 1)), failing]
    with pytest.raises((ValidationError, PayloadTooLargeError)):
        engine.trigger_batch(ENV, requests)
    assert count_runs(engine) == 0
    assert engine.list_runs(ENV, tag="t")[0] == []
    again = engine.trigger_batch(ENV, requests[:-1])  # the key was not taken
    assert all(r.created for r in again) and count_runs(engine) == size - 1


# -- replay, reschedule ---------------------------------------------------------------------


def test_replay_creates_a_new_run_from_the_old_one(engine: Engine, trigger: Any) -> None:
    old = trigger(engine, "job", {"a": 1}, tags=["t1"], priority=4,
                  concurrency_key="c", machine="large-1x").row["id"]
    new = engine.replay(ENV, old)
    assert new.created and new.row["id"] != old
    run = engine.retrieve(ENV, new.row["id"])
    assert run["replayed_from"] == old
    assert run["payload"] == {"a": 1}
    assert run["tags"] == ["t1"] and run["priority"] == 4
    assert run["machine"] == "large-1x" and run["concurrency_key"] == "c"
    assert run["status"] == "QUEUED"
    edited = engine.replay(ENV, old, payload_json='{"a": 2}')
    assert engine.retrieve(ENV, edited.row["id"])["payload"] == {"a": 2}
    with pytest.raises(RunNotFoundError):
        engine.replay(ENV, "run_nope")


def test_reschedule_moves_a_queued_run_later(engine: Engine, clock: Any, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    run = engine.reschedule(ENV, run_id, clock.now() + 300)
    assert run["status"] == "DELAYED" and run["available_at"] == clock.now() + 300
    assert engine.claim(ENV, "w", None, 1) == []
    clock.advance(300)
    engine.sweep()
    assert [r["id"] for r in engine.claim(ENV, "w", None, 1)] == [run_id]
    assert [e["kind"] for e in engine.events(run_id)] == [
        "created", "reschedule", "enqueue_delayed", "start_attempt",
    ]


def test_reschedule_a_delayed_run_earlier(engine: Engine, clock: Any, trigger: Any) -> None:
    run_id = trigger(engine, "job", delay="1h").row["id"]
    engine.reschedule(ENV, run_id, clock.now() + 60)
    clock.advance(60)
    assert engine.sweep().enqueued == 1
    assert status_of(engine, run_id) == "QUEUED"


def test_reschedule_of_an_executing_or_final_run_is_refused(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    engine.claim(ENV, "w", None, 1)
    with pytest.raises(InvalidTransitionError):
        engine.reschedule(ENV, run_id, engine.clock.now() + 10)
    engine.cancel(ENV, run_id)
    with pytest.raises(InvalidTransitionError):
        engine.reschedule(ENV, run_id, engine.clock.now() + 10)


# -- listing ----------------------------------------------------------------------------------


def test_list_runs_filters(engine: Engine, clock: Any, trigger: Any) -> None:
    a = trigger(engine, "job", tags=["user:1"]).row["id"]
    clock.advance(10)
    b = trigger(engine, "other", tags=["user:2", "vip"]).row["id"]
    clock.advance(10)
    c = trigger(engine, "job", tags=["user:2"], delay="1h").row["id"]
    engine.cancel(ENV, a)

    def ids(**filters: Any) -> set[str]:
        return {r["id"] for r in engine.list_runs(ENV, **filters)[0]}

    assert ids() == {a, b, c}
    assert ids(status=["CANCELED"]) == {a}
    assert ids(status=["QUEUED", "DELAYED"]) == {b, c}
    assert ids(task="job") == {a, c}
    assert ids(tag="user:2") == {b, c}
    assert ids(tag="vip") == {b}
    assert ids(tag="nobody") == set()
    assert ids(created_after=clock.now() - 10) == {b, c}
    assert ids(created_before=clock.now() - 10) == {a}
    assert ids(task="job", tag="user:2", status=["DELAYED"]) == {c}
    assert ids(task="missing") == set()
    with pytest.raises(ValidationError):
        engine.list_runs(ENV, status=["RUNNING"])
    with pytest.raises(ValidationError):
        engine.list_runs(ENV, limit=0)


def test_list_runs_pages_newest_first_with_a_cursor(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    made = []
    for i in range(23):
        made.append(trigger(engine, "job", {"i": i}).row["id"])
        clock.advance(1)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        runs, cursor = engine.list_runs(ENV, limit=5, cursor=cursor)
        seen.extend(r["id"] for r in runs)
        pages += 1
        if cursor is None:
            break
    assert pages == 5
    assert seen == sorted(made, reverse=True)
    assert len(set(seen)) == 23
    # a full last page says there is nothing more
    runs, cursor = engine.list_runs(ENV, limit=23)
    assert len(runs) == 23 and cursor is None

